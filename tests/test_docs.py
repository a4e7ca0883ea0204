"""The README documents every command and setting (datasette's test_docs idea)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from engine.cli import COMMANDS, main
from engine.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str) -> list[str]:
    ctx = click.Context(group)
    names = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        full = f"{prefix} {name}"
        names.append(full)
        if isinstance(cmd, click.Group):
            names.extend(_commands(cmd, full))
    return names


ALL_COMMANDS = _commands(main, "crmc")


def test_every_registered_subcommand_exists() -> None:
    # A name in the lazy table whose module is missing would silently vanish from --help.
    assert {c.split()[1] for c in ALL_COMMANDS} == set(COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    assert command in README, f"README does not mention `{command}`"


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_has_help(command: str) -> None:
    cmd: click.Command = main
    for part in command.split()[1:]:
        cmd = cmd.get_command(click.Context(cmd), part)  # type: ignore[attr-defined]
    assert (cmd.help or "").strip(), f"{command} has no help text"


def test_every_setting_is_in_the_readme() -> None:
    names = {f"CRMC_{f.upper()}" for f in Settings.__dataclass_fields__}
    documented = set(re.findall(r"`(CRMC_[A-Z_]+)`", README))
    assert names <= documented, f"undocumented settings: {sorted(names - documented)}"

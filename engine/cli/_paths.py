"""Where the policy tools look when no PATH is given (``crmc validate``, ``crmc lint``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from engine.config import Settings

__all__ = ["policy_targets"]


def policy_targets(paths: Sequence[Path]) -> list[Path]:
    """``paths``, or the configured policy directory (CRMC_POLICIES_DIR, else policies/).

    A configured directory that does not exist is a usage error (exit 2) that says what to
    do, rather than a problem report about a path the user never typed.
    """
    if paths:
        return list(paths)
    default = Settings.from_env().policies_dir
    if not default.is_dir():
        raise click.UsageError(f"policy directory '{default}' does not exist; "
                               f"pass a PATH or set CRMC_POLICIES_DIR")
    return [default]

"""The ``crmc`` command line: one module per subcommand, loaded on demand.

Loading lazily keeps ``crmc validate`` from importing Flask, durable_rules or a database
driver it does not need.
"""

from __future__ import annotations

import importlib

import click

# command name -> module under engine.cli holding a click command named ``command``
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "policies": "policies",
    "publish": "publish",
    "decide": "decide",
    "serve": "serve",
    "serve-prod": "serve_prod",
    "keys": "keys",
    "audit": "audit",
    "diff": "diff",
    "test": "test_cmd",
    "lint": "lint",
    "impact": "impact",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"engine.cli.{module_name}")
        except ModuleNotFoundError as exc:
            # Only a subcommand that is not built yet may be absent; a missing dependency
            # inside an existing subcommand must surface.
            if exc.name == f"engine.cli.{module_name}":
                return None
            raise
        return module.command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crmc")
def main() -> None:
    """crmc — policy-driven decisions for client relationship management in project finance.

    Configuration comes from CRMC_* environment variables (see the README).
    """
    from engine.config import Settings

    try:
        Settings.from_env()
    except ValueError as exc:  # a bad CRMC_* value: one line and exit 2, not a traceback
        raise click.UsageError(str(exc)) from None

"""Settings come from CRMC_* variables; a bad value is refused at start-up with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings


def test_defaults_are_the_embedded_ones() -> None:
    s = Settings.from_env({})
    assert s.policies_dir == Path("policies")
    assert s.engine == "durable"
    assert s.database_url == "sqlite:///var/decisions.db"
    assert s.keys_file == Path("var/keys.json")
    assert s.max_body == 1_048_576
    assert s.audit_mask == ()


def test_values_are_read() -> None:
    s = Settings.from_env(
        {
            "CRMC_ENGINE": "compiled",
            "CRMC_MAX_BODY": "2048",
            "CRMC_AUDIT_MASK": "/facts/profile/name, /client_id",
            "CRMC_LOG_LEVEL": "debug",
        }
    )
    assert (s.engine, s.max_body, s.log_level) == ("compiled", 2048, "DEBUG")
    assert s.audit_mask == ("/facts/profile/name", "/client_id")


def test_the_audit_key_is_never_in_the_repr() -> None:
    assert "s3cret" not in repr(Settings.from_env({"CRMC_AUDIT_KEY": "s3cret"}))


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CRMC_ENGINE": "drools"}, "CRMC_ENGINE"),
        ({"CRMC_MAX_BODY": "1MB"}, "CRMC_MAX_BODY"),
        ({"CRMC_MAX_BODY": "0"}, "CRMC_MAX_BODY"),
        ({"CRMC_AUDIT_MASK": "facts/profile/name"}, "CRMC_AUDIT_MASK"),
        ({"CRMC_LOG_LEVEL": "LOUD"}, "CRMC_LOG_LEVEL"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        Settings.from_env(env)


def test_the_cli_reports_a_bad_setting_as_a_usage_error() -> None:
    from click.testing import CliRunner

    from engine.cli import main

    result = CliRunner().invoke(main, ["policies"], env={"CRMC_MAX_BODY": "abc"})
    assert result.exit_code == 2
    assert "CRMC_MAX_BODY" in result.output
    assert "Traceback" not in result.output


def test_a_bad_db_sync_mode_is_refused_at_start_up() -> None:
    from engine.config import DB_SYNC_MODES
    from engine.record_sqlite import SYNC_MODES

    assert set(DB_SYNC_MODES) == set(SYNC_MODES)  # one list of modes, checked in both places
    with pytest.raises(ValueError, match="CRMC_DB_SYNC"):
        Settings.from_env({"CRMC_DB_SYNC": "off"})

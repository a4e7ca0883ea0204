"""Settings from CRMC_* environment variables; every command and the service read the same."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "CRMC_"
ENGINES = ("durable", "compiled")
# engine.record_sqlite reads CRMC_DB_SYNC itself; checked here so a bad value stops start-up.
DB_SYNC_MODES = ("full", "normal", "sqlite-full")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    policies_dir: Path = Path("policies")
    engine: str = "durable"
    database_url: str = "sqlite:///var/decisions.db"
    keys_file: Path = Path("var/keys.json")
    audit_key: str | None = field(default=None, repr=False)  # never printed
    audit_key_file: Path = Path("var/audit.key")
    audit_mask: tuple[str, ...] = ()
    max_body: int = 1_048_576
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str, default: str) -> str:
            return env.get(ENV_PREFIX + name, default)

        engine = get("ENGINE", "durable")
        if engine not in ENGINES:
            raise ValueError(f"CRMC_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
        max_body_text = get("MAX_BODY", "1048576")
        try:
            max_body = int(max_body_text)
        except ValueError:
            raise ValueError(
                f"CRMC_MAX_BODY must be a number of bytes, not {max_body_text!r}"
            ) from None
        if max_body <= 0:
            raise ValueError("CRMC_MAX_BODY must be positive")
        mask = tuple(p.strip() for p in get("AUDIT_MASK", "").split(",") if p.strip())
        # Refuse a bad pointer at start-up, not at the first decision's append.
        for pointer in mask:
            if not pointer.startswith("/"):
                raise ValueError(
                    f"CRMC_AUDIT_MASK: {pointer!r} is not a JSON pointer (must start with '/')"
                )
        db_sync = get("DB_SYNC", "full").strip().lower() or "full"
        if db_sync not in DB_SYNC_MODES:
            raise ValueError(
                f"CRMC_DB_SYNC must be one of {', '.join(DB_SYNC_MODES)}, not {db_sync!r}"
            )
        level = get("LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            raise ValueError(
                f"CRMC_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}"
            )
        return cls(
            policies_dir=Path(get("POLICIES_DIR", "policies")),
            engine=engine,
            database_url=get("DATABASE_URL", "sqlite:///var/decisions.db"),
            keys_file=Path(get("KEYS_FILE", "var/keys.json")),
            audit_key=env.get(ENV_PREFIX + "AUDIT_KEY") or None,
            audit_key_file=Path(get("AUDIT_KEY_FILE", "var/audit.key")),
            audit_mask=mask,
            max_body=max_body,
            log_level=level,
        )

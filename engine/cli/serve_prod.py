"""``crmc serve-prod``: what ``make serve`` runs — gunicorn with ``gunicorn.conf.py``.

On first start it creates ``var/`` and one API key per role: ``var/admin.key``,
``var/decide.key`` and ``var/auditor.key`` (``var/audit.key`` is the decision log's HMAC
key), mode 0600, only their hashes in the keys file; it says where to find them. Then it
replaces itself with gunicorn on 127.0.0.1:8080, with the embedded defaults (SQLite in
var/, the repository's policies/).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def first_start_keys(keys_file: Path, var: Path) -> list[tuple[str, Path]]:
    """Create a key per role (admin, decide, audit) when the keys file has none of that role."""
    from engine.keys import KeyStore

    store = KeyStore(keys_file)
    have = {k.role for k in store.entries()}
    created = []
    # var/audit.key is taken by the decision log's HMAC key, hence "auditor".
    for role, name in (("admin", "admin"), ("decide", "decide"), ("audit", "auditor")):
        target = var / f"{name}.key"
        if role in have or target.exists():
            continue
        key, _ = store.add(role, f"{role}-initial")
        _write_secret(target, key)
        created.append((role, target))
    return created


def bind_address(host: str, port: int, *, explicit: bool, env: dict[str, str]) -> str:
    """Where gunicorn listens: ``--host``/``--port`` when given, else ``CRMC_BIND`` when
    set (the README's way to move ``make serve`` off a busy port), else the defaults."""
    if not explicit and env.get("CRMC_BIND", "").strip():
        return env["CRMC_BIND"].strip()
    return f"{host}:{port}"


@click.command(name="serve-prod")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (default: CRMC_BIND, else 127.0.0.1).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Port (default: CRMC_BIND, else 8080).")
@click.option("--workers", default=0, help="Worker processes (default: one per core).")
@click.pass_context
def command(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Run the HTTP service under gunicorn (production)."""
    from engine.config import Settings

    settings = Settings.from_env()
    var = Path(os.environ.get("CRMC_VAR_DIR", "var"))
    var.mkdir(parents=True, exist_ok=True)
    os.chmod(var, 0o700)  # keys, the audit key and the decision log live here
    for role, path in first_start_keys(settings.keys_file, var):
        click.echo(f"created the {role} key; it is in {path} (mode 0600): cat {path}", err=True)
    explicit = any(ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
                   for name in ("host", "port"))
    bind = bind_address(host, port, explicit=explicit, env=dict(os.environ))
    env = dict(os.environ, CRMC_BIND=bind, CRMC_VAR_DIR=str(var))
    if workers:
        env["CRMC_WORKERS"] = str(workers)
    click.echo(f"crmc: serving on http://{bind} (keys: {settings.keys_file}, "
               f"admin key: {var / 'admin.key'})", err=True)
    argv = [sys.executable, "-m", "gunicorn", "--config", str(CONF)]
    os.execve(sys.executable, argv, env)

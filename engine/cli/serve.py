"""``crmc serve``: the HTTP service on Flask's development server (one process).

For production use ``crmc serve-prod`` (gunicorn, one worker per core; ``make serve``).
"""

from __future__ import annotations

import click


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def command(host: str, port: int) -> None:
    """Run the HTTP service for development (configuration from CRMC_* variables)."""
    from engine.errors import PolicyError, report
    from server import create_app

    try:
        app = create_app()
    except PolicyError as exc:
        for line in report(exc.problems):
            click.echo(line, err=True)
        raise SystemExit(1) from None
    # threaded: the Decider and the decision log are safe to share between threads.
    app.run(host=host, port=port, threaded=True, use_reloader=False)

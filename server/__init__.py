"""crmc's HTTP service (Flask): ``create_app`` builds it; gunicorn runs it in production."""

from server.app import create_app

__all__ = ["create_app"]

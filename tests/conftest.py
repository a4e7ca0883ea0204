"""Fixtures shared by the HTTP test modules: an app on fresh state, its keys, a client.

A module that needs another set-up defines its own fixture of the same name.
"""

from __future__ import annotations

from typing import Any

import pytest
from http_support import add_keys, make_app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "state")


@pytest.fixture
def keys(app) -> dict[str, str]:
    return add_keys(app.extensions["crmc"].settings.keys_file)


@pytest.fixture
def client(app) -> Any:
    return app.test_client()

"""A bounded schemathesis run against a live gunicorn: no 500, every response as specified.

Requests are generated from /openapi.json (facts from schemas/facts.schema.json, so many
are valid decisions, plus schemathesis' malformed variants). One run per role, each over
the operations that role may use, so the checks reach past authentication. The CLI is used
because schemathesis' pytest loader (``from_fixture``) fails on pytest 9.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from http_support import Server, copy_policies

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 20  # per operation and phase: the three runs take about 30-60 s here
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])
RUNS = {  # role -> operation ids (blueprint.view) it may call
    "decide": r"^(decisions\.(decide|batch)|policies\..*|ops\..*)$",
    "audit": r"^(decisions\.get_decision|audit\..*)$",
    "admin": r"^admin\..*$",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemathesis")
    srv = Server(root / "var", copy_policies(root / "policies"), workers=2).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("role", sorted(RUNS))
def test_api_conforms_to_its_openapi(live, role, tmp_path):
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(cli), "run", f"{live.url}/openapi.json",
         "--checks", CHECKS,
         "--max-examples", str(MAX_EXAMPLES),
         "--seed", "4",
         "--include-operation-id-regex", RUNS[role],
         "--header", f"Authorization: Bearer {live.keys[role]}",
         "--report-dir", str(tmp_path),
         "--workers", "1"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

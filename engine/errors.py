"""Errors as values: every problem carries a code, a location and a message."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

MAX_REPORTED = 50


@dataclass(frozen=True, order=True)
class Problem:
    """A located problem in a file (policy, test case, facts document).

    Printed as ``path:line:col: code: json_path: message``. ``line``/``col`` are 1-based;
    0 means "the whole file".
    """

    file: str
    line: int
    col: int
    code: str
    message: str
    json_path: str = "$"
    suggestion: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.code}: {self.json_path}: {self.message}{hint}"

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def report(problems: Iterable[Problem], limit: int = MAX_REPORTED) -> list[str]:
    """Sorted, capped lines for humans; the cap says how many more there were."""
    ordered = sorted(problems)
    lines = [str(p) for p in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more problems")
    return lines


def report_json(problems: Iterable[Problem]) -> str:
    return json.dumps([p.to_json() for p in sorted(problems)], indent=2, ensure_ascii=False)


class PolicyError(Exception):
    """Raised when a policy set cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(report(self.problems)))


@dataclass(frozen=True)
class FieldError:
    """A problem with a request or facts document: JSON pointer + message."""

    path: str
    message: str

    def to_json(self) -> dict:
        return {"path": self.path, "message": self.message}


class DecisionRefused(Exception):
    """The facts cannot be decided on: schema errors, wrong currency, required facts missing."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


class UnknownPolicyVersion(LookupError):
    """A pinned or requested policy id/version that does not exist (HTTP 404)."""

    def __init__(self, policy_id: str, version: str | None = None):
        self.policy_id = policy_id
        self.version = version
        what = f"{policy_id} {version}" if version else policy_id
        super().__init__(f"unknown policy version: {what}")


class NoPolicyInForce(LookupError):
    """No active version of a policy covers the requested date."""

    def __init__(self, policy_id: str, as_of: object):
        self.policy_id = policy_id
        self.as_of = as_of
        super().__init__(f"no active version of {policy_id} is in force on {as_of}")

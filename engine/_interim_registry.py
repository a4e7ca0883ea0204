"""Stop-gap policy loading until ``engine.registry`` lands (delete this module then).

Only what ``engine.evaluate`` and its tests need: ``load``, ``all``, ``get``, ``select``.
The sha256 is a placeholder (of the canonical JSON), not the registry's file hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from engine.errors import NoPolicyInForce, UnknownPolicyVersion
from engine.model import PIPELINE, PolicyDocument
from engine.seam import LoadedPolicy

_ADAPTER: TypeAdapter[Any] = TypeAdapter(PolicyDocument)


class InterimRegistry:
    def __init__(self, policies: list[LoadedPolicy]):
        self._all = sorted(
            policies, key=lambda lp: (lp.id, tuple(int(x) for x in lp.version.split(".")))
        )

    @classmethod
    def load(cls, directory: str | Path) -> InterimRegistry:
        loaded = []
        for path in sorted(Path(directory).glob("*/*.yaml")):
            if not re.fullmatch(r"\d+\.\d+\.\d+\.yaml", path.name):
                continue  # test cases and other files live beside the versions
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            policy = _ADAPTER.validate_python(raw)
            canonical = json.dumps(raw, sort_keys=True, default=str).encode()
            loaded.append(LoadedPolicy(policy, hashlib.sha256(canonical).hexdigest(), path, raw))
        return cls(loaded)

    def all(self) -> list[LoadedPolicy]:
        return list(self._all)

    def get(self, policy_id: str, version: str) -> LoadedPolicy:
        for lp in self._all:
            if lp.id == policy_id and lp.version == version:
                return lp
        raise UnknownPolicyVersion(policy_id, version)

    def in_force(self, policy_id: str, on: dt.date) -> LoadedPolicy:
        matches = [lp for lp in self._all if lp.id == policy_id and lp.in_force(on)]
        if not matches:
            raise NoPolicyInForce(policy_id, on)
        return matches[-1]

    def select(
        self, on: dt.date, pins: Mapping[str, str] | None = None
    ) -> dict[str, LoadedPolicy]:
        pins = dict(pins or {})
        ids = {lp.id for lp in self._all}
        for pid in pins:
            if pid not in ids:
                raise UnknownPolicyVersion(pid, pins[pid])
        chosen: dict[str, LoadedPolicy] = {}
        for kind in PIPELINE:
            for pid in sorted({lp.id for lp in self._all if lp.kind == kind}):
                lp = self.get(pid, pins[pid]) if pid in pins else self.in_force(pid, on)
                chosen[kind] = lp
        return chosen

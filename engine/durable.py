"""The durable_rules engine: condition matching in durable_rules' Rete network (in C).

The one module (with ``engine.durable_compile``) that touches durable_rules. What it
does, and why (see ``../shared/durable-notes.md``, each point re-measured here):

- Each policy version is one ruleset named ``<policy-id>@<version>`` matching all its
  tables at once, built from data (a fresh JSON document per registration) and registered
  once per process: a module-level registry, guarded by a lock, hands the same compiled
  ruleset to every later ``prepare`` of that key. (A *different* definition under a key
  already taken — only tests do that — is registered as ``<key>#<digest>``; durable_rules
  cannot re-register a name.)
- One evaluation = one fact (``assert_fact``: every matching rule fires; events would be
  consumed by the first) in a fresh session id, then ``delete_state`` in ``finally``: live
  sessions run out at 1,024 per ruleset. ``delete_state`` on a session where no action was
  ever started aborts the process (``free(): invalid pointer``), so every ruleset has an
  ``open`` rule that matches every fact, and the action is always started before deleting.
- durable_rules' Python ``Host`` is not used: it starts timer threads that call
  ``dispatch()`` in the background (they crashed and ran other requests' actions), and
  each action costs ~15 µs of Python (closures, timestamps, JSON state round trips). The
  caller drives the C extension itself: assert, then take the fired actions one by one
  (``start_action_for_state`` / ``complete_and_start_action``) and record each rule name
  in a set local to the call. Nothing runs outside the calling thread, no result outlives
  the call, and an error anywhere raises in the caller after the session is deleted.
- The extension never releases the GIL and its thread safety is undocumented: every
  evaluation's calls into it run under one lock (it costs nothing, threads could not run
  it in parallel anyway). Scale with processes and prepare after ``fork``.
- Fact values never reach the engine raw: ``engine.durable_compile`` codes them as small
  integers (no number format can break the parser; see its docstring).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine as _dre

from engine.durable_compile import OPEN_RULE, TAG, Program, compile_policy
from engine.seam import LoadedPolicy

__all__ = ["DurableEngine", "DurableError", "DurableRuleset"]

DurableError = _dre.error  # what the extension raises (codes: 202 bad ruleset, 204 parse, …)

_ABSENT = object()
Encode = Callable[[Any], int]


@dataclass(frozen=True)
class DurableRuleset:
    """A registered policy version: what ``prepare`` returns and ``match`` takes."""

    key: str  # <policy-id>@<version>
    name: str  # the ruleset name in durable_rules (the key, unless it was taken)
    handle: int
    program: Program
    # The facts read, grouped by their first path part so that a group is looked up once:
    # (first part, ((message key, rest of the path, coding.encode), ...)).
    readers: tuple[tuple[str, tuple[tuple[str, tuple[str, ...], Encode], ...]], ...]


# Each version's definition is registered once per process (durable_rules cannot
# unregister a name): (key, definition text) -> (ruleset name, handle); _NAMES: names taken.
_RULESETS: dict[tuple[str, str], tuple[str, int]] = {}
_NAMES: set[str] = set()
_REGISTRY_LOCK = threading.Lock()
_ENGINE_LOCK = threading.Lock()  # every call into the C extension, one evaluation at a time
_SIDS = itertools.count(1)  # next() on a count is atomic under the GIL: cheap unique sids


def _after_fork_in_child() -> None:
    # A child forked while another thread held a lock would wait on it forever. The rulesets
    # (C memory) are inherited as they are and stay usable; sessions are never live at fork
    # time in the forking thread, and another thread's live session is simply never seen.
    global _REGISTRY_LOCK, _ENGINE_LOCK
    _REGISTRY_LOCK = threading.Lock()
    _ENGINE_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _register(loaded: LoadedPolicy) -> DurableRuleset:
    program = compile_policy(loaded)
    text = json.dumps(program.definition, sort_keys=True, separators=(",", ":"))
    with _REGISTRY_LOCK:
        known = _RULESETS.get((loaded.key, text))
        if known is None:
            name = loaded.key
            if name in _NAMES:  # taken by another definition (only tests do that)
                name = f"{loaded.key}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            with _ENGINE_LOCK:
                # the text is a fresh serialisation: nothing the engine keeps aliases our dicts
                handle = _dre.create_ruleset(name, text)
            known = _RULESETS[loaded.key, text] = (name, handle)
            _NAMES.add(name)
    name, handle = known
    # The codings and rule names are this program's own: two policies can compile to the
    # same definition (constants become ranks) while coding their facts differently.
    groups: dict[str, list[tuple[str, tuple[str, ...], Encode]]] = {}
    for c in program.codings:
        head, *rest = c.path.split(".")
        groups.setdefault(head, []).append((c.key, tuple(rest), c.encode))
    readers = tuple((head, tuple(items)) for head, items in groups.items())
    return DurableRuleset(loaded.key, name, handle, program, readers)


def _message(rs: DurableRuleset, context: Mapping[str, Any], sid: str) -> str:
    """The fact for one evaluation: the tag, and the code of every present fact read."""
    parts = ['{"sid":"', sid, '","id":1,"', TAG, '":1']
    append = parts.append
    for head, items in rs.readers:
        group = context.get(head, _ABSENT)
        if group is _ABSENT:
            continue
        for key, rest, encode in items:
            value = group
            for part in rest:  # a path through anything but a dict is absent (as in compiled)
                value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
            if value is not _ABSENT:
                append(f',"{key}":{encode(value)}')
    append("}")
    return "".join(parts)


def _rule_name(action: str) -> str:
    # An action message is '{"<rule name>":{"m":{...}}}'; our rule names are r<n>/open.
    return action[2 : action.index('"', 2)]


def run(rs: DurableRuleset, message: str, sid: str, record: Callable[[str], Any]) -> None:
    """Assert one fact in session ``sid``, ``record`` each fired rule name, delete the session.

    Must be called with ``_ENGINE_LOCK`` held. Whatever fails (the engine, or ``record``),
    the session is deleted before the exception reaches the caller.
    """
    result = _dre.assert_fact(rs.handle, message)  # raises DurableError: no session made
    status, state = result[0], result[1]
    if status != 0:
        # 1 = not handled, 2 = already observed: impossible with the open rule and a fresh
        # sid. The session (if any) is left alone: deleting it without an action would abort.
        raise DurableError(f"durable_rules returned status {status} for {rs.name}")
    started = False
    try:
        action = _dre.start_action_for_state(rs.handle, state)
        started = True
        if action is None:
            raise DurableError(f"no action started for {rs.name} (the open rule must fire)")
        record(_rule_name(action[1]))
        while (action := _dre.complete_and_start_action(rs.handle, state)) is not None:
            record(_rule_name(action))
    finally:
        if not started:
            # interrupted between assert and start: start the action so deleting is safe
            _dre.start_action_for_state(rs.handle, state)
        _dre.delete_state(rs.handle, sid)


class DurableEngine:
    """Condition matching in durable_rules (the default engine)."""

    name = "durable"

    def prepare(self, loaded: LoadedPolicy) -> DurableRuleset:
        """Compile and register the version; the same key (and definition) is reused."""
        return _register(loaded)

    def match(self, prepared: DurableRuleset, context: Mapping[str, Any]) -> frozenset[str]:
        """Ids of every rule of the version whose condition holds in ``context``."""
        sid = str(next(_SIDS))
        message = _message(prepared, context, sid)
        fired: set[str] = set()  # a rule fires once per satisfied $or branch: dedupe
        with _ENGINE_LOCK:
            run(prepared, message, sid, fired.add)
        ids = prepared.program.rule_ids
        return frozenset([ids[name] for name in fired if name != OPEN_RULE])

"""Decisions (role ``audit``): search the log; one decision with its explanation, replay
status and the log's chain status."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

from flask import Blueprint, abort, render_template, request

from engine.model import SEGMENTS
from engine.replay import Replayer
from server.app import services
from server.chain_status import chain_status
from server.web.present import explain, fact_rows, regenerate_trace
from server.web.session import signed_in

__all__ = ["bp"]

bp = Blueprint("decisions", __name__)
PAGE = 100
WARNING_CODE = re.compile(r"[a-z][a-z0-9_]*")  # as in the policy format (engine.model)

_lock = threading.Lock()
# Keyed by the registry itself (kept alive here, so its id cannot be reused): a
# registry's Replayer prepares its Deciders once.
_replayers: list[tuple[Any, Replayer]] = []
KEEP = 4  # several apps live in one process only in tests


def _replayer(registry: Any) -> Replayer:
    with _lock:
        for known, replayer in _replayers:
            if known is registry:
                return replayer
        replayer = Replayer(registry)
        _replayers[:] = [*_replayers[-(KEEP - 1):], (registry, replayer)]
        return replayer


def _date(name: str, errors: dict[str, str]) -> dt.date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = f"{text!r} is not a date (YYYY-MM-DD)."
        return None


def _exclusive(until: dt.date | None) -> dt.date | None:
    """The form's end date is inclusive, the log's ``until`` exclusive: the day after;
    none after 9999-12-31 (the last date there is), which bounds nothing anyway."""
    if until is None or until == dt.date.max:
        return None
    return until + dt.timedelta(days=1)


@bp.get("/decisions")
@signed_in("audit")
def search() -> Any:
    errors: dict[str, str] = {}
    client_id = request.args.get("client_id", "").strip() or None
    since, until = _date("from", errors), _date("to", errors)
    segment = request.args.get("segment", "").strip() or None
    if segment is not None and segment not in SEGMENTS:
        errors["segment"] = "Choose one of the segments listed."
    warning = request.args.get("warning", "").strip() or None
    if warning is not None and not WARNING_CODE.fullmatch(warning):
        errors["warning"] = "A warning code is lower-case letters, digits and _ (low_dscr)."
    if since and until and until < since:
        errors["to"] = "The end date is before the start date."
    log = services().decision_log()
    records = []
    if not errors:
        records = log.search(
            client_id=client_id,
            since=since,
            until=_exclusive(until),
            segment=segment,
            warning_code=warning,
            limit=PAGE + 1,
        )
    status, checked = chain_status(log, fresh=request.args.get("verify") == "1")
    return render_template(
        "web/decisions.html", records=records[:PAGE], more=len(records) > PAGE,
        errors=errors, args=request.args, segments=SEGMENTS,
        again={k: v for k, v in request.args.items() if k != "verify"},
        chain=status, checked=checked,
        searched=any(request.args.get(k) for k in ("client_id", "from", "to", "segment",
                                                   "warning")),
    )


@bp.get("/decisions/<decision_id>")
@signed_in("audit")
def show(decision_id: str) -> Any:
    svc = services()
    log = svc.decision_log()
    record = log.get(decision_id)
    if record is None:
        abort(404, f"No decision {decision_id!r} in the log.")
    loaded = svc.runtime.current()
    decision = record.get("decision") or {}
    replay = _replayer(loaded.registry).replay(record)
    trace = decision.get("trace")
    regenerated, why_not = False, None
    if not trace:
        trace, why_not = regenerate_trace(loaded.decider, record)
        regenerated = True
    explanation = explain(decision, trace, loaded.registry) if trace else None
    current = {}
    for ref in record.get("policies") or []:
        try:
            current[ref["id"]] = loaded.registry.get(ref["id"], ref["version"]).sha256
        except LookupError:
            current[ref["id"]] = None
    status, checked = chain_status(log)
    facts = (record.get("request") or {}).get("facts") or {}
    return render_template(
        "web/decision.html", record=record, decision=decision, facts=fact_rows(facts),
        explanation=explanation, regenerated=regenerated, why_not=why_not, replay=replay,
        current=current, chain=status, checked=checked,
    )

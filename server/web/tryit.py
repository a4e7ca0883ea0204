"""Try it: decide on a pasted or uploaded facts document with chosen policy versions
(drafts included) and read the explanation. Nothing here is written to the decision log:
the page calls the Decider directly and never the log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, render_template, request

from engine.errors import DecisionRefused, NoPolicyInForce, UnknownPolicyVersion
from engine.json_locate import bad_string_pointer
from server.app import services
from server.body import JsonRefused, decode
from server.web.present import explain, fact_rows
from server.web.session import signed_in

__all__ = ["bp"]

bp = Blueprint("tryit", __name__)


def _choices(registry: Any) -> list[dict[str, Any]]:
    """Each policy with its versions for the pin selects (drafts and retired included)."""
    return [
        {"id": pid, "versions": [(v.version, v.policy.status) for v in registry.versions(pid)]}
        for pid in registry.ids()
    ]


def _read_facts() -> tuple[Any, str, list[str]]:
    """(document, text shown back in the form, errors). An uploaded file wins over the
    text area."""
    upload = request.files.get("facts_file")
    text = request.form.get("facts", "")
    source = "the text box"
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "", [f"{upload.filename}: the file is not UTF-8 text."]
        source = upload.filename
    if not text.strip():
        return None, text, ["Paste a facts document or choose a file."]
    try:
        # The API's decoder: duplicated names and absurd nesting are refused here too.
        doc = decode(text)
    except json.JSONDecodeError as exc:
        return None, text, [f"{source}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno}."]
    except JsonRefused as exc:
        return None, text, [f"{source}: {exc.message}"]
    except ValueError as exc:  # NaN/Infinity, integers over Python's digit limit
        return None, text, [f"{source}: unusable JSON: {str(exc)[:200]}."]
    if not isinstance(doc, dict):
        return None, text, [f"{source}: the facts document must be a JSON object."]
    bad = bad_string_pointer(doc)
    if bad is not None:  # "\ud800" parses, but can be neither rendered nor sent as UTF-8
        where = bad.encode("utf-8", "backslashreplace").decode("utf-8")  # a key may be one
        return None, text, [
            f"{source}: {where} is not valid Unicode (a lone surrogate escape such as \\ud800)."]
    return doc, json.dumps(doc, indent=2, ensure_ascii=False), []


@bp.route("/try", methods=["GET", "POST"])
@signed_in()
def try_it() -> Any:
    loaded = services().runtime.current()
    registry = loaded.registry
    form = {"facts": "", "as_of": "", "pins": {}}
    errors: list[str] = []
    refused: list[Any] = []
    decision = explanation = None
    if request.method == "POST":
        pins = {pid: v for pid in registry.ids()
                if (v := request.form.get(f"pin_{pid}", "").strip())}
        as_of_text = request.form.get("as_of", "").strip()
        facts, text, errors = _read_facts()
        form = {"facts": text, "as_of": as_of_text, "pins": pins}
        as_of = None
        if as_of_text:
            try:
                as_of = dt.date.fromisoformat(as_of_text)
            except ValueError:
                errors.append(f"As-of date {as_of_text!r} is not a date (YYYY-MM-DD).")
        if not errors:
            try:
                result = loaded.decider.decide(facts, as_of=as_of, pins=pins or None,
                                               explain=True)
            except DecisionRefused as exc:
                refused = exc.errors
            except (NoPolicyInForce, UnknownPolicyVersion) as exc:
                errors.append(str(exc))
            else:
                decision = result.model_dump(mode="json")
                explanation = explain(decision, decision.get("trace") or [], registry)
    status = 422 if errors or refused else 200
    return render_template(
        "web/try.html", choices=_choices(registry), form=form, errors=errors,
        refused=refused, decision=decision, explanation=explanation,
        facts=fact_rows(json.loads(form["facts"])) if decision else [],
    ), status

"""``crmc decide --batch``: a portfolio of facts (JSON Lines) decided by worker processes.

- Streaming in constant memory: lines are read lazily, in chunks, and at most
  ``workers × WINDOW`` chunks are in flight; results are written as soon as the oldest
  chunk is done, so the output keeps the input order.
- Worker processes (both cores by default), each building its own Decider once in the pool
  initializer (durable_rules must be set up after the process starts, never shared).
  ``forkserver`` start: the workers never inherit the parent's threads or open files.
- A bad line (invalid JSON, facts refused, no policy in force) becomes an error object in
  its place in the output and a ``FILE:LINE:COL: code: /path: message`` line on stderr
  (as ``crmc decide`` reports one document); the other lines go on. ``run_batch``
  returns the number of failed lines.
- A progress bar (bytes read) on stderr when stderr is a terminal, nothing otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import click

from engine.cli.decide import Located, located_errors, parse_facts
from engine.errors import DecisionRefused, NoPolicyInForce, UnknownPolicyVersion

__all__ = ["CHUNK", "WINDOW", "WorkerFailed", "decide_line", "run_batch"]

CHUNK = 64  # lines per task: amortises inter-process overhead
WINDOW = 4  # chunks in flight per worker: keeps both cores busy, bounds memory

Line = tuple[int, bytes]
Result = tuple[int, str, list[dict[str, Any]] | None]  # line number, output JSON, errors

_state: dict[str, Any] = {}


def _init(directory: str, engine: str, as_of: dt.date | None, pins: dict[str, str],
          explain: bool) -> None:
    """Pool initializer: one Decider per process, built after the process started."""
    from engine.cli.decide import load_registry
    from engine.evaluate import Decider

    _state.update(as_of=as_of, pins=pins, explain=explain)
    try:
        _state["decider"] = Decider(load_registry(Path(directory)), engine)
    except Exception as exc:
        # An initializer that raises makes the pool respawn workers forever; keep the
        # error and let the first task carry it back to the parent instead.
        _state["init_error"] = f"worker could not prepare the policies: {exc!r}"


def decide_line(number: int, raw: bytes) -> Result:
    """One line decided (or refused) as an output line; never raises for bad input.

    The errors returned (for stderr) carry the line, the column within the line and a
    code, as ``crmc decide`` reports them; the output line keeps ``{path, message}``.
    """
    client_id = None
    text = ""
    try:
        text, facts = parse_facts(raw)
        if isinstance(facts, Mapping) and isinstance(facts.get("client_id"), str):
            client_id = facts["client_id"]
        decision = _state["decider"].decide(
            facts, as_of=_state["as_of"], pins=_state["pins"], explain=_state["explain"]
        )
    except Located as exc:
        located = [{"line": number, "col": exc.col, "code": exc.code,
                    **exc.errors[0].to_json()}]
    except DecisionRefused as exc:
        located = located_errors(text, exc.errors, line_offset=number - 1)
    except (NoPolicyInForce, UnknownPolicyVersion) as exc:
        located = [{"line": number, "col": 1, "code": "no-policy", "path": "/",
                    "message": str(exc)}]
    else:
        return number, json.dumps(decision.model_dump(mode="json"), ensure_ascii=False), None
    errors = [{"path": e["path"], "message": e["message"]} for e in located]
    failure = {"line": number, "client_id": client_id, "error": "refused", "errors": errors}
    return number, json.dumps(failure, ensure_ascii=False), located


class WorkerFailed(RuntimeError):
    """A worker process could not build its Decider; the batch stops."""


def _decide_chunk(chunk: list[Line]) -> list[Result]:
    if "init_error" in _state:
        raise WorkerFailed(_state["init_error"])
    return [decide_line(number, raw) for number, raw in chunk]


def _chunks(stream: IO[bytes]) -> Iterator[tuple[list[Line], int]]:
    """Chunks of non-blank numbered lines, with the bytes they span (for the progress bar)."""
    chunk: list[Line] = []
    size = 0
    for number, raw in enumerate(stream, start=1):
        size += len(raw)
        if raw.strip():
            chunk.append((number, raw))
        if len(chunk) >= CHUNK:
            yield chunk, size
            chunk, size = [], 0
    if chunk or size:
        yield chunk, size


class _Progress:
    def __init__(self, path: str):
        self.bar = None
        if sys.stderr.isatty() and path != "-":
            self.bar = click.progressbar(
                length=os.path.getsize(path), label="deciding", file=sys.stderr
            )
            self.bar.__enter__()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_batch(
    source: str, output: str, *, directory: Path, engine: str, as_of: dt.date | None,
    pins: dict[str, str], explain: bool, workers: int | None, fmt: str = "text",
) -> int:
    """Decide every line of ``source`` into ``output``; the number of failed lines."""
    workers = workers or os.cpu_count() or 1
    init_args = (str(directory), engine, as_of, pins, explain)
    name = "<stdin>" if source == "-" else source
    failed = 0
    json_errors: list[dict[str, Any]] = []
    progress = _Progress(source)

    def emit(results: list[Result], out: IO[str]) -> None:
        nonlocal failed
        for _number, line, errors in results:
            out.write(line + "\n")
            if errors is not None:
                failed += 1
                if fmt == "json":
                    json_errors.extend({"file": name, **e} for e in errors)
                else:
                    click.echo(error_lines(name, errors, "text"), err=True)

    # Load once here first: a broken policy directory fails before any worker starts.
    from engine.cli.decide import error_lines, load_registry

    load_registry(directory)
    reader = click.open_file(source, "rb")
    writer = click.open_file(output, "w", encoding="utf-8")
    with reader as stream, writer as out:
        if workers == 1:  # in-process: no pool to start (small files, debugging)
            _init(*init_args)
            for chunk, size in _chunks(stream):
                emit(_decide_chunk(chunk), out)
                progress.update(size)
        else:
            ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
            if os.name == "posix":
                ctx.set_forkserver_preload(["engine.evaluate", "engine.cli.decide_batch"])
            with ctx.Pool(workers, initializer=_init, initargs=init_args) as pool:
                pending: deque[tuple[Any, int]] = deque()
                for chunk, size in _chunks(stream):
                    pending.append((pool.apply_async(_decide_chunk, (chunk,)), size))
                    if len(pending) >= workers * WINDOW:
                        task, done = pending.popleft()
                        emit(task.get(), out)
                        progress.update(done)
                while pending:
                    task, done = pending.popleft()
                    emit(task.get(), out)
                    progress.update(done)
    progress.close()
    if json_errors:
        click.echo(json.dumps(json_errors, indent=2, ensure_ascii=False), err=True)
    return failed

"""HTTP benchmark: POST /v1/decisions (seed case, durable engine, decision log on) against a
bare Flask endpoint that only parses and echoes the JSON (the ceiling for Flask here), both
under gunicorn with ``gunicorn.conf.py`` and 2 workers, in the same run.

    python -m bench.http_bench [--quick] [--seconds S] [--concurrency N] [--threads T]
                               [--db-sync full|normal|sqlite-full]

For each target: the peak (closed loop, N connections) in requests/s with p50/p99, then an
open loop at 70 % of that peak, latency measured from each request's *scheduled* time (so
a stall is not hidden by the client waiting). The client is small Python: one process per
connection, raw sockets, the request prebuilt (gunicorn's sync workers close each
connection, so every request is a new TCP connection, as it would be under wrk too).
The client shares the 2 cores with the server: the figures are a floor. ``cpu ms`` is
the workers' CPU time (user + system, from /proc) per request during the peak phase,
the figure least disturbed by other load on the machine.
Prints a table; the last line is the result as JSON; ``run()`` returns it as a dict.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask, request

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "tests" / "data" / "http" / "seed-case.json"

echo_app = Flask("echo")


@echo_app.post("/echo")
def echo() -> Any:
    return request.get_json()


# --- servers ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    var: Path, app: str | None, workers: int = 2, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMC_")}
    env.update(extra_env or {})
    env.update(
        PYTHONPATH=str(REPO), CRMC_VAR_DIR=str(var), CRMC_BIND=f"127.0.0.1:{port}",
        CRMC_WORKERS=str(workers), CRMC_POLICIES_DIR=str(REPO / "policies"),
        CRMC_DATABASE_URL=f"sqlite:///{var / 'decisions.db'}",
        CRMC_KEYS_FILE=str(var / "keys.json"), CRMC_AUDIT_KEY_FILE=str(var / "audit.key"),
        CRMC_LOG_LEVEL="warning",
    )
    cmd = [sys.executable, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py"),
           "--access-logfile", "/dev/null"]  # logging every request would be measured too
    if app:
        cmd.append(app)
    log = open(var / f"gunicorn-{port}.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((var / f"gunicorn-{port}.log").read_text()[-2000:])
        try:
            status, _ = _one(_raw("GET", "/healthz" if app is None else "/echo", b"", port), port)
            if status in (200, 405):
                time.sleep(1.0)  # let every worker finish booting
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


# --- the client -------------------------------------------------------------------------------


def _raw(method: str, path: str, body: bytes, port: int, key: str | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    if key:
        head.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _one(req: bytes, port: int) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(req)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    reply = b"".join(chunks)
    return int(reply[9:12]), reply


def _closed(req: bytes, port: int, seconds: float, out: Any) -> None:
    lat, errors = [], 0
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        status, _ = _one(req, port)
        lat.append(time.perf_counter() - t0)
        errors += status != 200
    out.put((lat, errors))


def _open(req: bytes, port: int, seconds: float, interval: float, offset: float, out: Any) -> None:
    lat, errors = [], 0
    start = time.perf_counter() + offset
    n = 0
    while (scheduled := start + n * interval) < start + seconds:
        now = time.perf_counter()
        if scheduled > now:
            time.sleep(scheduled - now)
        status, _ = _one(req, port)
        lat.append(time.perf_counter() - scheduled)
        errors += status != 200
        n += 1
    out.put((lat, errors))


def _gather(target: Any, args_list: list[tuple]) -> tuple[list[float], int]:
    out: Any = mp.Queue()
    procs = [mp.Process(target=target, args=(*a, out)) for a in args_list]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return [x for lat, _ in results for x in lat], sum(e for _, e in results)


def _pct(lat: list[float], q: float) -> float:
    ordered = sorted(lat)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def server_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by the master's worker processes."""
    total = 0
    try:
        kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in kids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (after pid and comm)
    return total / os.sysconf("SC_CLK_TCK")


def peak(req: bytes, port: int, seconds: float, conns: int, master: int = 0) -> dict[str, float]:
    _gather(_closed, [(req, port, 1.0)] * conns)  # warm-up
    cpu0 = server_cpu(master) if master else 0.0
    lat, errors = _gather(_closed, [(req, port, seconds)] * conns)
    cpu = server_cpu(master) - cpu0 if master else 0.0
    # Server CPU per request: the figure least disturbed by other load on the machine.
    return {"rps": len(lat) / seconds, "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99),
            "requests": len(lat), "errors": errors,
            "server_cpu_ms": 1000 * cpu / len(lat) if lat else 0.0}


def paced(req: bytes, port: int, seconds: float, rate: float, conns: int) -> dict[str, float]:
    interval = conns / rate  # each of the conns senders at rate/conns, staggered
    args = [(req, port, seconds, interval, i * interval / conns) for i in range(conns)]
    lat, errors = _gather(_open, args)
    return {"rate": rate, "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99),
            "requests": len(lat), "errors": errors}


# --- the run ----------------------------------------------------------------------------------


def measure(
    name: str, req: bytes, port: int, seconds: float, conns: int, master: int = 0
) -> dict[str, Any]:
    top = peak(req, port, seconds, conns, master)
    at70 = paced(req, port, seconds, 0.7 * top["rps"], conns)
    print(f"  {name}: {top['rps']:.0f} req/s", file=sys.stderr, flush=True)
    return {"peak": top, "at_70pct": at70}


def run(
    seconds: float = 10.0, conns: int = 4, db_sync: str = "full", threads: int | None = None
) -> dict[str, Any]:
    facts = json.loads(SEED.read_text(encoding="utf-8"))
    body = json.dumps({"facts": facts}).encode()
    env = {"CRMC_DB_SYNC": db_sync}
    if threads is not None:
        env["CRMC_THREADS"] = str(threads)
    results: dict[str, Any] = {"workers": 2, "connections": conns, "seconds": seconds,
                               "db_sync": db_sync, "threads": threads}
    with tempfile.TemporaryDirectory(prefix="crmc-http-bench-") as tmp:
        for name, app in (("echo", "bench.http_bench:echo_app"), ("decisions", None)):
            var = Path(tmp) / name
            var.mkdir()
            key = None
            if app is None:
                from engine.keys import KeyStore

                key = KeyStore(var / "keys.json").add("decide", "bench")[0]
            proc, port = start_gunicorn(var, app, extra_env=env)
            try:
                path = "/echo" if app else "/v1/decisions"
                req = _raw("POST", path, body, port, key)
                status, reply = _one(req, port)
                if status != 200:
                    raise RuntimeError(f"{name}: {status} {reply[-500:]!r}")
                results[name] = measure(name, req, port, seconds, conns, proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    results["ratio"] = results["decisions"]["peak"]["rps"] / results["echo"]["peak"]["rps"]
    return results


def table(r: dict[str, Any]) -> str:
    rows = [f"{'endpoint':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms':>8}"
            f"{'70% rate':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    for name, label in (("echo", "Flask echo (ceiling)"), ("decisions", "POST /v1/decisions")):
        p, s = r[name]["peak"], r[name]["at_70pct"]
        rows.append(f"{label:<22}{p['rps']:>9.0f}{p['p50_ms']:>9.2f}{p['p99_ms']:>9.2f}"
                    f"{p.get('server_cpu_ms', 0.0):>8.2f}"
                    f"{s['rate']:>10.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
                    f"{p['errors'] + s['errors']:>8}")
    rows.append(f"decisions / echo throughput: {r['ratio']:.2f}x "
                f"(target ≥ 0.6x); p99 at 70 %: {r['decisions']['at_70pct']['p99_ms']:.1f} ms "
                "(target ≤ 25 ms)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.http_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 s per phase")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per phase (10)")
    ap.add_argument("--concurrency", type=int, default=4, help="client connections (4)")
    ap.add_argument("--db-sync", default="full", choices=("full", "normal", "sqlite-full"),
                    help="CRMC_DB_SYNC of the service (full)")
    ap.add_argument("--threads", type=int, default=None,
                    help="CRMC_THREADS per worker (gunicorn.conf.py's default)")
    a = ap.parse_args(argv)
    seconds = a.seconds or (3.0 if a.quick else 10.0)
    results = run(seconds, a.concurrency, a.db_sync, a.threads)
    print(table(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

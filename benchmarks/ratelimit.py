"""How much of a vendor's rate allowance a real drain uses, and whether the vendor refuses any.

Starts the Litmos simulator in-process with a shortened rolling window (default 100
requests per 2 s instead of 100 per 60 s: the same rule, 30 times faster), queues real ops
in a real outbox (a SQLite state database in a temporary folder: one create and one course
assignment per person), and drains them through the real worker, connector, HTTP client
and shared limiter, each outcome committed with its mirror change as in production. The
simulator counts requests at arrival and refuses (503) once a rolling window is full,
exactly as Litmos documents; every figure below comes from the simulator's own counters
and request log, not from syncd.

``sustained_pct``: a perfect pacer sends ``N`` requests at once, then ``N`` more every
``W`` seconds. After the first ``N`` arrivals, the remaining ``R - N`` need at least
``(R - N) * W / N`` seconds, so ``sustained = (R - N) / (last arrival - N-th arrival)`` as
a share of ``N / W`` is the rate a long drain holds (100 % is the rule itself; more is
impossible without a rejection). ``overall_pct`` counts the whole drain from the first
arrival, opening burst included in the time but not in the count (a lower bound).
``rejections`` is the simulator's count of 503 "rate limit" answers; ``max_in_window`` is
the busiest rolling window re-derived from the log (arrival = answer time - duration, at
1 ms resolution). ``--connections 2`` drains two connections on the same API key at once,
each with its own worker thread and outbox: their shared limiter must keep the sum within
the rule.

    python benchmarks/ratelimit.py                                  # 100 / 2 s, ~60 s
    python benchmarks/ratelimit.py --requests 20 --window 1 --seconds 30 --connections 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from bisect import bisect_left
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd import log
from syncd.config import ConnectionConfig, RateConfig
from syncd.limiter import forget_limiters
from syncd.plan.ops import AssignCourses, CreateUser, Op
from syncd.queue.worker import DrainStats, Worker, WorkerSettings
from syncd.sandbox.running import start_sandbox
from syncd.state import runs
from syncd.state.db import open_state, session_factory
from syncd.state.outbox import OutboxStore
from syncd.vendors import connect


def max_in_window(arrivals: list[float], window: float) -> int:
    """Most arrivals in any half-open window [t, t + window), t an arrival."""
    arrivals = sorted(arrivals)
    return max((bisect_left(arrivals, t + window) - i for i, t in enumerate(arrivals)), default=0)


def people_ops(prefix: str, count: int, course_id: str) -> list[Op]:
    """One create and one course assignment per person: two calls each, as a first sync."""
    queued: list[Op] = []
    for n in range(count):
        name = f"{prefix}{n:05d}@corp.test"
        create = CreateUser(
            external_id=f"{prefix}{n:05d}",
            match_value=name,
            attrs=(
                ("UserName", name),
                ("FirstName", "Bench"),
                ("LastName", f"User{n}"),
                ("Email", name),
            ),
        )
        assign = AssignCourses(
            external_id=create.external_id, course_ids=(course_id,), depends_on=(create.key,)
        )
        queued += [create, assign]
    return queued


def run(requests: int, window: float, seconds: float, connections: int) -> dict[str, Any]:
    forget_limiters()
    calls = int(requests / window * seconds) + requests
    people = max(1, calls // (2 * connections))
    with tempfile.TemporaryDirectory() as folder, start_sandbox("litmos") as sandbox:
        assert sandbox.admin is not None
        sandbox.admin.set_rate(requests, window)
        course = sandbox.admin.seed({"courses": [{"code": "B1", "name": "Bench"}]})["courses"]
        engine = open_state(f"sqlite:///{Path(folder) / 'state.db'}", auto_upgrade=True)
        sessions = session_factory(engine)
        base = ConnectionConfig(
            vendor="litmos",
            base_url=sandbox.base_url + "/v1.svc",
            credentials={"api_key": sandbox.credentials["apikey"]},
            options={"source": sandbox.credentials["source"]},
            rate=RateConfig(requests=requests, per_seconds=window),
        )
        stores = []
        for index in range(connections):
            store = OutboxStore(sessions, f"lms{index}")
            now = datetime.now(UTC)
            with sessions.begin() as db:
                run_id = runs.start_run(db, connection=store.connection, kind="bench", now=now)
                store.enqueue(db, run_id, people_ops(f"c{index}p", people, course["B1"]), now=now)
            stores.append(store)
        results: list[DrainStats] = []

        def drain(store: OutboxStore) -> None:
            with connect(base) as connector:
                worker = Worker(store, connector, settings=WorkerSettings(batch_size=10))
                results.append(worker.drain())

        threads = [threading.Thread(target=drain, args=(store,)) for store in stores]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        counters = sandbox.admin.counters()
        entries = sandbox.admin.log(limit=counters["total"] + 10)
        left = sum(s.counts().open + s.counts()["dead"] for s in stores)
        engine.dispose()
    arrivals = sorted(
        datetime.fromisoformat(e["at"]).timestamp() - e["duration_ms"] / 1000 for e in entries
    )
    allowed = requests / window
    total = len(arrivals)
    steady = arrivals[-1] - arrivals[requests - 1] if total > requests else 0.0
    span = arrivals[-1] - arrivals[0] if total > 1 else 0.0
    return {
        "rule": f"{requests} requests / {window:g} s",
        "connections": connections,
        "ops_done": sum(r.done for r in results),
        "ops_not_done": left,
        "requests": counters["total"],
        "drain_seconds": round(wall, 2),
        "allowed_per_s": round(allowed, 3),
        "sustained_per_s": round((total - requests) / steady, 3) if steady else None,
        "sustained_pct": round(100 * (total - requests) / steady / allowed, 2) if steady else None,
        "overall_pct": round(100 * (total - requests) / span / allowed, 2) if span else None,
        "rejections": counters["rate_limited"],
        "max_in_window": max_in_window(arrivals, window),
        "creates": sum(counters["creates"].values()),
        "duplicate_creates": sum(n - 1 for n in counters["creates"].values() if n > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per window")
    parser.add_argument("--window", type=float, default=2.0, help="window in seconds")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the drain")
    parser.add_argument("--connections", type=int, default=1, help="connections on one key")
    args = parser.parse_args()
    log.configure(level="warning")
    figures = run(args.requests, args.window, args.seconds, args.connections)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""The status page: the :class:`~syncd.service.status.StatusReport` as one HTML document.

Server-rendered, refreshed by the browser every 30 s, readable without JavaScript and with
no external resource (no CDN, no web font): it must work on a locked-down admin network.
Every value is HTML-escaped here, once, in :func:`_e`: vendor reasons, op keys, connection
and holder names are user-controlled text, and a reason holding ``<script>`` is shown as
those characters. The response carries a Content-Security-Policy (:data:`CSP`) that
allows this page's one style block (by its hash) and a ``data:`` icon, and nothing else:
no script runs even if escaping were ever missed.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from syncd.service.status import ConnectionStatus, StatusReport

REFRESH_SECONDS = 30

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em}
h3{font-size:1em;margin:1em 0 .3em;color:#444}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1.2em 1em}
table{border-collapse:collapse;margin:.2em 0}
th,td{border-bottom:1px solid #e4e4e4;padding:.25em .7em .25em 0;text-align:left;
vertical-align:top}
th{font-weight:600;color:#555}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020;font-weight:600}.ok{color:#0a7d32}.muted{color:#777}
.reason{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; "
    "img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No script at all (``default-src 'none'`` covers ``script-src``); only the page's own
style block; the empty ``data:`` icon, so the browser asks for no favicon."""


def _e(value: object) -> str:
    """Any value as escaped HTML text; None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _when(value)
    elif isinstance(value, float):
        value = f"{value:.1f}"
    return html.escape(str(value), quote=True)


def _when(moment: datetime) -> str:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """``rows`` hold already escaped cells (numbers get the ``n`` class by the caller)."""
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: object, *, number: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("n" if number else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{_e(value)}</td>"


def render(report: StatusReport) -> str:
    """The whole page."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<link rel="icon" href="data:,">',
        "<title>syncd status</title>",
        f"<style>{STYLE}</style></head><body>",
        "<header><h1>syncd status</h1>",
        f'<p class="muted">as of {_e(report.generated_at)}; refreshes every {REFRESH_SECONDS}s</p>',
        _service(report),
        "</header>",
    ]
    parts += [_connection(conn) for conn in report.connections]
    if not report.connections:
        parts.append('<p class="muted">No connections configured.</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def unavailable(reason: str) -> str:
    """The page when no report can be made (the database does not answer)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<link rel="icon" href="data:,"><title>syncd status</title>'
        f"<style>{STYLE}</style></head><body><h1>syncd status</h1>"
        f'<p class="bad">Status unavailable: {_e(reason)}</p></body></html>'
    )


def _service(report: StatusReport) -> str:
    if not report.service:
        return '<p class="muted">No running service: read from the state database.</p>'
    running = (
        '<span class="ok">running</span>'
        if report.scheduler_running
        else '<span class="bad">not running</span>'
    )
    stuck = "".join(f'<li class="bad">{_e(line)}</li>' for line in report.stuck)
    return f"<p>Scheduler: {running}</p>" + (f"<ul>{stuck}</ul>" if stuck else "")


def _connection(conn: ConnectionStatus) -> str:
    owner = conn.owner
    if owner.holder is None:
        held = "nobody"
    else:
        held = f"{owner.holder} until {_when(owner.expires_at) if owner.expires_at else '?'}"
        held += "" if owner.live else " (expired)"
    if owner.here is not None:
        held += "; this replica owns it" if owner.here else "; another replica or nobody"
    queue = conn.queue
    summary = [
        ("Vendor", _e(conn.vendor)),
        ("Lease", _e(held)),
        ("Last successful sync", _e(conn.last_success) or "never"),
        ("Rows rejected from the last export", _e(conn.rejected_rows)),
        (
            "Queue",
            _e(", ".join(f"{n} {state}" for state, n in queue.by_state.items() if n) or "empty"),
        ),
        ("Oldest waiting op", _e(_age(queue.oldest_waiting_seconds)) or "none waiting"),
        (
            "Dead letters",
            f'<span class="{"bad" if queue.dead else "ok"}">{_e(queue.dead)}</span>',
        ),
        ("Held for approval", _e(queue.held)),
        ("Blocked (behind a dead op)", _e(queue.blocked)),
    ]
    facts = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in summary)
    return "\n".join(
        [
            f'<section id="connection-{_e(conn.name)}">',
            f"<h2>{_e(conn.name)}</h2>",
            f"<table>{facts}</table>",
            "<h3>Dead letters, held and blocked ops</h3>",
            _problems(conn),
            "<h3>Last runs</h3>",
            _runs(conn),
            "<h3>Next runs</h3>",
            _jobs(conn),
            "<h3>Rate limit</h3>",
            _rates(conn),
            "<h3>Results</h3>",
            _results(conn),
            "</section>",
        ]
    )


def _problems(conn: ConnectionStatus) -> str:
    rows = [
        [
            _td(op.id, number=True),
            _td(op.key),
            _td(op.kind),
            _td(op.state, cls="bad" if op.state == "dead" else ""),
            _td(op.attempts, number=True),
            _td(op.reason, cls="reason"),
            _td(op.updated_at),
        ]
        for op in conn.problems
    ]
    return _table(["id", "op", "kind", "state", "attempts", "reason", "since"], rows, "None.")


def _runs(conn: ConnectionStatus) -> str:
    rows = [
        [
            _td(run.id, number=True),
            _td(run.kind),
            _td(
                run.status,
                cls="ok"
                if run.status == "succeeded"
                else "bad"
                if run.status in ("failed", "refused")
                else "",
            ),
            _td(run.started_at),
            _td(_age(run.duration_seconds), number=True),
            _td(run.planned, number=True),
            _td(run.done, number=True),
            _td(run.retried, number=True),
            _td(run.dead, number=True),
            _td(run.blocked, number=True),
            _td(run.calls, number=True),
            _td(run.message, cls="reason"),
        ]
        for run in conn.runs
    ]
    headers = ["run", "kind", "outcome", "started", "took", "planned", "done", "retried",
               "dead", "blocked", "calls", "message"]  # fmt: skip
    return _table(headers, rows, "No runs yet.")


def _jobs(conn: ConnectionStatus) -> str:
    rows = [
        [
            _td(job.kind),
            _td(job.schedule),
            _td(job.next_run),
            _td(job.running_since),
            _td(job.last_finished),
            _td(job.last_outcome, cls="reason"),
        ]
        for job in conn.jobs
    ]
    headers = ["job", "schedule", "next run", "running since", "last finished", "last outcome"]
    return _table(headers, rows, "Not scheduled (no [connections.*.schedule]).")


def _rates(conn: ConnectionStatus) -> str:
    rows = [
        [
            _td(rate.credential),
            _td(f"{rate.limit} per {rate.window_seconds:g}s"),
            _td(rate.saved_held, number=True),
            _td(rate.saved_at),
            _td(
                "" if rate.live_utilization is None else f"{rate.live_utilization:.0%}", number=True
            ),
            _td(rate.live_in_flight, number=True),
            _td(rate.paused_seconds, number=True),
        ]
        for rate in conn.rate
    ]
    headers = ["credential", "rule", "held in window (saved)", "saved at", "use now",
               "in flight", "paused (s)"]  # fmt: skip
    return _table(headers, rows, "No send history saved yet.")


def _results(conn: ConnectionStatus) -> str:
    res = conn.results
    facts = [
        ("Scheduled pulls", "yes" if res.scheduled else "no"),
        ("Watermark", _when(res.watermark) if res.watermark else "none yet"),
        ("Last pull that moved it", _when(res.pulled_at) if res.pulled_at else "never"),
        ("Newest record written", _when(res.last_seen_at) if res.last_seen_at else "none"),
        ("Revision (exported)", f"{res.revision} ({res.exported_revision})"),
    ]
    return (
        "<table>" + "".join(f"<tr><th>{_e(k)}</th>{_td(v)}</tr>" for k, v in facts) + ("</table>")
    )

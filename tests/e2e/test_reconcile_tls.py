"""`syncd reconcile` pointed at an LMS whose TLS certificate cannot be trusted.

The server is a real HTTPS server on loopback with a self-signed certificate. The run
stops at the first handshake with one line naming the host and the reason, exit 1, and
every op stays pending (none retried op after op, none dead-lettered); pointed back at the
real LMS, the next run syncs everything.
"""

from __future__ import annotations

import json

from cryptography import x509

from tests.e2e.kit import assert_in_sync, company, result
from tests.fixtures.tls import LOOPBACK, tls_server


def test_an_untrusted_certificate_stops_the_run_with_every_op_pending(world, tmp_path):
    rows = company(4)
    setup = world(rows)
    good = setup.config.read_text(encoding="utf-8")
    plain = f"{setup.sandbox.base_url}/v1.svc"
    with tls_server(tmp_path, LOOPBACK) as (address, _):
        setup.config.write_text(good.replace(plain, f"https://{address}/v1.svc"), "utf-8")
        proc = setup.reconcile()
    assert proc.returncode == 1, result(proc)
    shown = proc.stdout + proc.stderr
    lines = [line for line in shown.splitlines() if "certificate verify failed" in line]
    assert lines, result(proc)
    assert address in lines[0]
    assert "certificate verify failed: self-signed certificate" in lines[0]
    assert "ConnectError" not in shown, "not a transient connection failure"
    listing = setup.syncd("queue", "list", "--format", "json")
    (queue,) = json.loads(listing.stdout)
    assert set(queue["counts"]) == {"pending"}, queue["counts"]
    assert all(op["attempts"] == 0 for op in queue.get("ops", [])), "nothing was charged"
    setup.config.write_text(good, "utf-8")
    fixed = setup.reconcile()
    assert fixed.returncode == 0, result(fixed)
    assert_in_sync(setup, rows)


def test_a_certificate_for_another_host_names_the_mismatch(world, tmp_path, monkeypatch):
    setup = world(company(2))
    good = setup.config.read_text(encoding="utf-8")
    plain = f"{setup.sandbox.base_url}/v1.svc"
    with tls_server(tmp_path, x509.DNSName("lms.other.example")) as (address, cert):
        named = address.replace("127.0.0.1", "localhost")
        setup.config.write_text(good.replace(plain, f"https://{named}/v1.svc"), "utf-8")
        proc = setup.reconcile(SSL_CERT_FILE=str(cert))
    assert proc.returncode == 1, result(proc)
    assert f"{named}: certificate verify failed: Hostname mismatch" in proc.stdout + proc.stderr

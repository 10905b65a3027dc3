"""TLS failures at the HTTP edge: a server the client cannot trust stops the drain, clearly.

A real TLS server on loopback (``ssl`` serving a certificate made here with
``cryptography``) answers through the production client: no fake transport. A certificate
problem is not a transient connection failure to retry op after op; it is one
``TlsFailure`` naming the host and the reason.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from syncd.errors import Retryable, TlsFailure
from syncd.http import HttpClient


def make_certificate(folder: Path, name: str, san: x509.GeneralName) -> tuple[Path, Path]:
    """A self-signed certificate for ``san`` and its key, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


class _Server(http.server.ThreadingHTTPServer):
    """Serves plain HTTP, or TLS with ``context``; a refused handshake ends quietly."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.context = context

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.context is None:
            return sock, address
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: object, client_address: object) -> None:
        return None


@contextmanager
def serving(context: ssl.SSLContext | None) -> Iterator[str]:
    """A loopback server in a thread; yields its ``host:port``."""
    server = _Server(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextmanager
def tls_server(folder: Path, san: x509.GeneralName) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate for ``san``.

    Yields ``host:port`` and the certificate's path (to trust it with ``SSL_CERT_FILE``).
    """
    cert, key = make_certificate(folder, "server", san)
    with serving(server_context(cert, key)) as address:
        yield address, cert


LOOPBACK = x509.IPAddress(IPv4Address("127.0.0.1"))


def get(base_url: str) -> int:
    client = HttpClient(vendor="litmos", base_url=base_url, timeout=5.0)
    try:
        return client.request("GET", "/users").status
    finally:
        client.close()


def test_a_self_signed_certificate_is_a_tls_failure_naming_host_and_reason(tmp_path):
    with tls_server(tmp_path, LOOPBACK) as (address, _), pytest.raises(TlsFailure) as caught:
        get(f"https://{address}/v1.svc")
    error = caught.value
    assert not isinstance(error, Retryable), "retrying cannot fix a certificate"
    message = str(error)
    assert address in message
    assert "certificate verify failed: self-signed certificate" in message
    assert "\n" not in message and "_ssl.c" not in message
    assert error.fields["host"] == address


def test_a_trusted_certificate_for_another_host_is_a_hostname_mismatch(tmp_path, monkeypatch):
    with tls_server(tmp_path, x509.DNSName("lms.other.example")) as (address, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        named = address.replace("127.0.0.1", "localhost")
        with pytest.raises(TlsFailure) as caught:
            get(f"https://{named}/v1.svc")
    assert named in str(caught.value)
    assert "certificate verify failed: Hostname mismatch" in str(caught.value)


def test_a_trusted_certificate_for_the_host_connects(tmp_path, monkeypatch):
    """The control: the same server, its certificate trusted, answers (SSL_CERT_FILE works)."""
    with tls_server(tmp_path, LOOPBACK) as (address, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert get(f"https://{address}/v1.svc") == 200


def test_https_to_a_plain_http_port_is_a_tls_failure(tmp_path):
    with serving(None) as address, pytest.raises(TlsFailure) as caught:
        get(f"https://{address}/v1.svc")
    assert address in str(caught.value)


def test_a_closed_port_is_still_a_transient_connection_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Retryable, match="connection failed"):
        get(f"https://127.0.0.1:{port}/v1.svc")

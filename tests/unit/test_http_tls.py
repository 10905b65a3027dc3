"""TLS failures at the HTTP edge: a server the client cannot trust stops the drain, clearly.

A real TLS server on loopback (``ssl`` serving a certificate made here with
``cryptography``) answers through the production client: no fake transport. A certificate
problem is not a transient connection failure to retry op after op; it is one
``TlsFailure`` naming the host and the reason.
"""

from __future__ import annotations

import socket

import pytest
from cryptography import x509

from syncd.errors import Retryable, TlsFailure
from syncd.http import HttpClient
from tests.fixtures.tls import LOOPBACK, serving, tls_server


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

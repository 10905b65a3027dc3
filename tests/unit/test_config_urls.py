"""A connection's `base_url` is checked when the configuration loads (issue 11, item 13).

Every command loads the configuration first, so a URL that cannot work (empty, no scheme,
a scheme no vendor speaks) or that would send the API key in clear text to another host
is refused before anything runs, with one line naming the key, instead of failing later
one op at a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import config
from syncd.errors import ConfigError

TEMPLATE = """
[sources.hris]
path = "export.csv"
columns = {{ employee_id = "ID" }}

[connections.lms]
vendor = "litmos"
base_url = "{base_url}"
credentials = {{ api_key = "k-0123456789" }}
{extra}
"""


def load(tmp_path: Path, base_url: str, extra: str = "") -> config.Config:
    path = tmp_path / "syncd.toml"
    path.write_text(TEMPLATE.format(base_url=base_url, extra=extra), encoding="utf-8")
    return config.load(path)


@pytest.mark.parametrize(
    "base_url, why",
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("api.litmos.com/v1.svc", "has no scheme"),
        ("api.litmos.com:443/v1.svc", "has no scheme"),
        ("ftp://files.example.com/v1.svc", "`ftp`"),
        ("https://", "has no host"),
        ("https:///v1.svc", "has no host"),
        ("https://api.litmos.com:notaport/v1.svc", "port"),
        ("http://api.litmos.com/v1.svc", "allow_insecure_http"),
        ("http://10.0.0.5:8080/v1.svc", "allow_insecure_http"),
    ],
)
def test_an_unusable_base_url_is_refused_naming_the_key(tmp_path, base_url, why):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, base_url)
    (line,) = [ln.strip() for ln in str(err.value).splitlines() if "connections." in ln]
    assert line.startswith("connections.lms.base_url: "), line
    assert why in line


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.litmos.com/v1.svc",
        "HTTPS://api.litmos.com/v1.svc",
        "https://u:p4ss@api.litmos.com/v1.svc",
        "http://127.0.0.1:8000/v1.svc",
        "http://127.9.9.9/v1.svc",
        "http://localhost:8000/v1.svc",
        "http://[::1]:8000/v1.svc",
        "sandbox:",
        "sandbox:sample/litmos-seed.json",
    ],
)
def test_urls_that_can_work_are_accepted(tmp_path, base_url):
    assert load(tmp_path, base_url).connections["lms"].base_url == base_url


def test_plain_http_to_a_remote_host_needs_an_explicit_allowance(tmp_path):
    cfg = load(tmp_path, "http://lms.internal.example/v1.svc", "allow_insecure_http = true")
    assert cfg.connections["lms"].allow_insecure_http is True


def test_the_refusal_never_shows_a_secret_from_the_url(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, "http://svc:pw-secret-9876@api.litmos.com/v1.svc")
    assert "pw-secret-9876" not in str(err.value)

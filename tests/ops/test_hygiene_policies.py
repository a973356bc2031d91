"""Host and Origin allow-lists: the pure rules behind the hygiene middleware."""

from __future__ import annotations

import pytest

from runyard.api.hygiene import HostPolicy, OriginPolicy, split_host_port


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM:8080", ("example.com", "8080")),
        ("example.com", ("example.com", None)),
        ("[::1]:5000", ("[::1]", "5000")),
        ("[::1]", ("[::1]", None)),
        ("::1", ("[::1]", None)),
    ],
)
def test_split_host_port(value: str, expected: tuple[str, str | None]) -> None:
    assert split_host_port(value) == expected


def test_default_hosts_are_loopback_names_on_any_port_and_the_listen_address() -> None:
    policy = HostPolicy("10.1.2.3", "")
    for host in ("localhost", "localhost:5000", "127.0.0.1:1", "[::1]:5000", "10.1.2.3:5000"):
        assert policy.allows(host), host
    for host in ("evil.example", "evil.example:5000", "10.1.2.4:5000", "", "localhost.evil:80"):
        assert not policy.allows(host), host


def test_listed_hosts_take_wildcards_and_an_optional_port() -> None:
    policy = HostPolicy("127.0.0.1", "tracking.example.com, *.corp.example:8443")
    assert policy.allows("tracking.example.com")
    assert policy.allows("TRACKING.example.com:443")  # no port in the pattern: any port
    assert policy.allows("a.b.corp.example:8443")
    assert not policy.allows("a.corp.example:8080")  # the pattern names its port
    assert not policy.allows("corp.example:8443")
    assert not policy.allows("tracking.example.com.evil")
    assert policy.allows("localhost:5000")  # loopback stays allowed


def test_star_allows_any_well_formed_host() -> None:
    policy = HostPolicy("127.0.0.1", "*")
    assert policy.allows("anything.example:1")
    assert not policy.allows("bad host")
    assert not policy.allows("user@host")


def test_wildcard_listen_address_accepts_ip_literals_but_not_names() -> None:
    policy = HostPolicy("0.0.0.0", "")
    assert policy.allows("192.0.2.7:5000")
    assert policy.allows("[2001:db8::1]:5000")
    assert not policy.allows("rebound.example:5000")
    assert not policy.allows("0.0.0.0.evil:5000")


def test_origins_loopback_same_origin_and_listed() -> None:
    policy = OriginPolicy("https://ui.example.com, https://*.trusted.example")
    assert policy.allows("http://localhost:3000", "127.0.0.1:5000")
    assert policy.allows("http://[::1]:8080", "127.0.0.1:5000")
    assert policy.allows("https://tracking.example.com", "tracking.example.com")  # same origin
    assert policy.allows("https://ui.example.com", "127.0.0.1:5000")
    assert policy.allows("https://app.trusted.example", "127.0.0.1:5000")
    assert not policy.allows("https://ui.example.com.evil", "127.0.0.1:5000")
    assert not policy.allows("https://evil.example", "127.0.0.1:5000")
    assert not policy.allows("null", "127.0.0.1:5000")
    assert not policy.allows("http://localhost@evil.example", "127.0.0.1:5000")


def test_star_origin_allows_all() -> None:
    policy = OriginPolicy("*")
    assert policy.allows("https://anyone.example", "127.0.0.1:5000")
    assert policy.allows("null", "127.0.0.1:5000")

"""Where webhooks may go (SSRF): https to public addresses; plain http only to loopback and
only where allowed; private, loopback, link-local, shared, multicast and mapped addresses
refused unless their host is on the allow-list; no credentials in the URL."""

from __future__ import annotations

import pytest

from app.services.webhooks import Policy, Refused, check_url, policy_from

PRODUCTION = Policy()
DEVELOPMENT = Policy(allow_http_loopback=True)


def resolving(*addresses: str):
    return lambda host, port: list(addresses)


def test_https_to_a_public_address_is_taken_and_connects_to_that_address() -> None:
    target = check_url("https://hooks.example.com/stock?x=1", PRODUCTION,
                       resolve=resolving("93.184.216.34"))
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https", "hooks.example.com", 443, "/stock?x=1", "93.184.216.34")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "240.0.0.1",
])
def test_inner_addresses_are_refused_in_production(address: str) -> None:
    with pytest.raises(Refused, match="private, loopback or link-local"):
        check_url("https://inner.example.com/", PRODUCTION, resolve=resolving(address))


def test_a_name_with_one_inner_address_among_public_ones_is_refused() -> None:
    with pytest.raises(Refused):
        check_url("https://mixed.example.com/", PRODUCTION,
                  resolve=resolving("93.184.216.34", "10.1.2.3"))


def test_localhost_really_resolved_is_refused_in_production() -> None:
    with pytest.raises(Refused):
        check_url("https://localhost/hook", PRODUCTION)


@pytest.mark.parametrize("url", ["http://hooks.example.com/", "ftp://hooks.example.com/",
                                 "hooks.example.com/x", "javascript:alert(1)"])
def test_only_https(url: str) -> None:
    with pytest.raises(Refused, match="https://"):
        check_url(url, PRODUCTION, resolve=resolving("93.184.216.34"))


def test_plain_http_to_loopback_only_where_allowed() -> None:
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:8099/hook", PRODUCTION)
    target = check_url("http://127.0.0.1:8099/hook", DEVELOPMENT)
    assert (target.address, target.port) == ("127.0.0.1", 8099)
    # Allowed for loopback, not for the rest of the network.
    with pytest.raises(Refused):
        check_url("http://192.168.1.20/hook", DEVELOPMENT, resolve=resolving("192.168.1.20"))


def test_the_allow_list_lets_a_named_inner_host_through() -> None:
    policy = policy_from({"WEBHOOKS_ALLOWED_HOSTS": " erp.internal ,other.internal"})
    target = check_url("https://ERP.internal/in", policy, resolve=resolving("10.0.0.7"))
    assert target.address == "10.0.0.7"
    with pytest.raises(Refused):
        check_url("https://wiki.internal/in", policy, resolve=resolving("10.0.0.8"))


@pytest.mark.parametrize(("url", "message"), [
    ("", "Enter the URL"),
    ("https://user:pw@hooks.example.com/", "user name and password"),
    ("https://hooks.example.com/a b", "no spaces"),
    ("https://hooks.example.com/\x00", "control characters"),
    ("https://hooks.example.com:99999/", "not a URL"),
    ("https://" + "a" * 2050 + ".com/", "at most 2048"),
])
def test_malformed_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        check_url(url, PRODUCTION, resolve=resolving("93.184.216.34"))


def test_an_unknown_host_is_named() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(Refused, match="could not be found"):
        check_url("https://nowhere.example/", PRODUCTION, resolve=fails)


def test_settings_read_from_strings() -> None:
    policy = policy_from({"WEBHOOKS_ALLOW_HTTP_LOOPBACK": "true",
                          "WEBHOOKS_CONNECT_TIMEOUT": "1.5", "WEBHOOKS_READ_TIMEOUT": 4})
    assert policy == Policy(allow_http_loopback=True, connect_timeout=1.5, read_timeout=4.0)

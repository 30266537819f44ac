"""bridgekit.addresses: the one reading of addresses and network lists, for core and plugins."""

from __future__ import annotations

import pytest

from bridgekit.addresses import parse_address, parse_networks
from bridgekit.exceptions import ConfigError


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:4711", "203.0.113.7"),  # a proxy that appends the port
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),  # a zone id names the interface, not the host
        ("::ffff:203.0.113.7", "203.0.113.7"),  # a dual-stack socket's IPv4 peer
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
    ],
)
def test_an_address_in_any_form_a_socket_or_proxy_writes_is_read(written: str, address: str) -> None:
    assert str(parse_address(written)) == address


@pytest.mark.parametrize(
    "written", ["", "unknown", "example.com", "10.0.0.300", "[2001:db8::1", "1.2.3.4:5:6"]
)
def test_what_is_not_an_address_is_none(written: str) -> None:
    assert parse_address(written) is None


def test_a_network_list_takes_addresses_and_networks_and_names_a_wrong_entry() -> None:
    networks = parse_networks(["10.0.0.0/8", " ::1 ", "192.0.2.7", "192.0.2.9/24"], "settings.allowed_ips")
    assert [str(n) for n in networks] == ["10.0.0.0/8", "::1/128", "192.0.2.7/32", "192.0.2.0/24"]
    with pytest.raises(
        ConfigError, match=r"settings\.allowed_ips: '10\.0\.0\.300' is not an address or a network"
    ):
        parse_networks(["10.0.0.0/8", "10.0.0.300"], "settings.allowed_ips")
    with pytest.raises(ConfigError, match=r"settings\.allowed_ips\[\] has the wrong type: int"):
        parse_networks([10], "settings.allowed_ips")

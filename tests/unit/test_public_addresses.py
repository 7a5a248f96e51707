"""Which addresses the outboxes send to when only public receivers are allowed (webhooks, the LRS)."""
from __future__ import annotations

import ipaddress

import pytest

from plugin.outbox.http import is_public


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fd00::1",
    "::ffff:10.0.0.1",        # IPv4-mapped
    "2002:a9fe:a9fe::",       # 6to4 of 169.254.169.254 (cloud metadata)
    "64:ff9b::7f00:1",        # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",       # NAT64 local-use prefix, 10.0.0.1
    "::127.0.0.1",            # IPv4-compatible
])
def test_a_private_address_or_one_carrying_a_private_ipv4_address_is_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "2002:808:808::", "64:ff9b::808:808",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_and_ones_carrying_a_public_ipv4_address_are_public(address):
    assert is_public(ipaddress.ip_address(address))

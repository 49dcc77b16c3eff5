"""The addresses that lead back to the controller: its own, its subnets' edges, nothing else."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns import local

ifaddr = pytest.importorskip("ifaddr")


def own_ipv4_interfaces():
    return [
        ipaddress.ip_interface("%s/%d" % (ip.ip, ip.network_prefix))
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not ipaddress.ip_address(ip.ip).is_loopback
    ]


def test_own_addresses_and_subnet_edges_lead_here():
    leads_here = local.controller_test()
    assert leads_here("127.0.0.1")
    for interface in own_ipv4_interfaces():
        assert leads_here(str(interface.ip))
        if interface.network.prefixlen < 31:
            assert leads_here(str(interface.network.network_address))
            assert leads_here(str(interface.network.broadcast_address))


def test_other_addresses_do_not():
    leads_here = local.controller_test()
    taken = {str(interface.ip) for interface in own_ipv4_interfaces()}
    for candidate in ("198.51.100.7", "203.0.113.9", "2001:db8::7"):
        if candidate not in taken:
            assert not leads_here(candidate)
    assert not leads_here("not an address")


def test_without_ifaddr_the_bind_test_still_finds_own_addresses(monkeypatch):
    monkeypatch.setattr(local, "interface_addresses", frozenset)
    assert local.controller_test()("127.0.0.1")
    assert not local.controller_test()("198.51.100.7")

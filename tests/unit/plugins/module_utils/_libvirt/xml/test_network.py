"""The network builder: libvirt's schema, round trips, what libvirt stores, and redefinitions
that keep what the module does not manage."""

from __future__ import annotations

import os

import pytest

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import (
    DhcpHost,
    DhcpRange,
    IpConfig,
    Network,
    subnets_of,
)
from conftest import assert_valid

STORED = fixtures.read(__file__, "network-stored.xml")
# Beside the domain builder's golden files, in a folder of their own.
GOLDEN = os.path.join(golden.folder(__file__), "network")

PXE_IP = IpConfig(
    family="ipv4",
    address="10.213.2.1",
    prefix=24,
    ranges=(DhcpRange("10.213.2.50", "10.213.2.99"),),
    hosts=(DhcpHost(mac="52:54:00:00:02:10", ip="10.213.2.10", name="node1"),),
    tftp_root="/var/lib/tftpboot",
    bootp_file="pxelinux.0",
)
# case: a network as the module builds it for a new definition
CASES = {
    "nat": Network(
        name="lab",
        bridge="virbr-lab",
        domain="lab.example",
        ipv4=IpConfig(family="ipv4", address="10.213.1.1", prefix=24, ranges=(DhcpRange("10.213.1.100", "10.213.1.199"),)),
        ipv6=IpConfig(
            family="ipv6", address="fd00:213:1::1", prefix=64, ranges=(DhcpRange("fd00:213:1::100", "fd00:213:1::1ff"),)
        ),
    ),
    "isolated_pxe": Network(name="provisioning", forward="isolated", bridge="virbr-prov", ipv4=PXE_IP),
    "route": Network(name="routed", forward="route", ipv4=IpConfig(family="ipv4", address="10.213.3.1", prefix=28)),
    "bridge": Network(name="lan", forward="bridge", bridge="br0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_built_network_matches_golden_file_and_schema(case):
    xml = CASES[case].to_xml()
    golden.compare(os.path.join(GOLDEN, "%s.xml" % case), xml)
    assert_valid("network", xml)


@pytest.mark.parametrize("case", list(CASES))
def test_built_network_round_trips(case):
    network = CASES[case]
    assert Network.from_xml(network.to_xml()) == network


def test_golden_networks_are_all_known():
    assert golden.stale(GOLDEN, ".xml", ("%s.xml" % case for case in CASES)) == []


def test_reads_what_libvirt_stores():
    """netmask as a prefix, MACs in lower case, IPv6 in Python's form; uuid and MAC kept."""
    network = Network.from_xml(STORED)
    assert network.forward == "nat" and network.bridge == "virbr-lab" and network.domain == "lab.example"
    assert network.uuid == "0f3c3c9e-3f8e-4c7b-9a55-7b1c1f3f8a10" and network.mac == "52:54:00:6b:1d:2e"
    assert network.ipv4 == IpConfig(
        family="ipv4",
        address="10.213.1.1",
        prefix=24,
        ranges=(DhcpRange("10.213.1.100", "10.213.1.199"),),
        hosts=(DhcpHost(mac="52:54:00:aa:00:10", ip="10.213.1.10", name="web01"),),
        tftp_root="/srv/tftp",
        bootp_file="pxelinux.0",
        bootp_server="10.213.1.2",
    )
    assert network.ipv6 is not None and network.ipv6.address == "fd00:213:1::1" and network.ipv6.index == 1


def test_a_network_without_forward_is_isolated():
    assert Network.from_xml("<network><name>x</name></network>").forward == "isolated"


def test_unreadable_netmask_is_an_xml_error():
    with pytest.raises(XmlError):
        Network.from_xml("<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>")


def test_managed_view_leaves_out_what_libvirt_assigns():
    view = Network.from_xml(STORED).managed_view()
    assert view.uuid is None and view.mac is None


def test_redefinition_keeps_what_is_not_managed():
    """DNS entries, port groups, MTU, uuid, MAC and bridge settings survive; forward details survive
    an unchanged mode."""
    existing = Network.from_xml(STORED)
    wanted = existing.with_changes(domain="new.example", ipv6=None)
    xml = wanted.redefinition(STORED)
    assert_valid("network", xml)
    root = parse(xml)
    assert root.find("dns/host/hostname").text == "printer"
    assert root.find("portgroup").get("name") == "trusted"
    assert root.find("mtu").get("size") == "9000"
    assert root.find("forward/nat/port").get("start") == "2048"
    assert root.find("bridge").get("stp") == "on"
    assert len(root.findall("ip")) == 1
    redefined = Network.from_xml(xml)
    assert redefined == wanted
    assert redefined.uuid == existing.uuid and redefined.mac == existing.mac


def test_redefinition_with_another_mode_replaces_forward():
    wanted = Network.from_xml(STORED).with_changes(forward="isolated")
    root = parse(wanted.redefinition(STORED))
    assert root.find("forward") is None
    routed = parse(Network.from_xml(STORED).with_changes(forward="route").redefinition(STORED))
    assert routed.find("forward").get("mode") == "route" and routed.find("forward/nat") is None


def test_a_host_without_mac_is_written_without_one():
    """IPv6 hosts that libvirt names by id or name: a delete of one matches what libvirt stores."""
    assert DhcpHost(mac="", ip="fd00::5", name="v6host").to_xml().strip() == '<host name="v6host" ip="fd00::5"/>'


def test_subnets_of_every_ip_whether_prefix_or_netmask():
    xml = (
        "<network><name>n</name><ip address='192.168.122.1' netmask='255.255.255.0'/>"
        "<ip address='10.1.2.3' prefix='16'/><ip family='ipv6' address='FD00:1::1' prefix='64'/>"
        "<ip address='bogus' prefix='24'/></network>"
    )
    assert subnets_of(xml) == ("192.168.122.0/24", "10.1.0.0/16", "fd00:1::/64")
    assert IpConfig(family="ipv4", address="10.1.2.3", prefix=16).subnet == "10.1.0.0/16"

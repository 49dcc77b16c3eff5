"""The hypervisor role's filter: entries of one network list on overlapping subnets."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.filter.hypervisor import network_clashes


def planned(name, ipv4=None, ipv6=None, active=True, autostart=False, uri=None, msg=None):
    """One registered check-mode result of virt_network, as the role's plan loop keeps it."""
    item = {"name": name, "uri": uri or "qemu:///system"}
    if msg:
        return {"item": item, "msg": msg, "failed": True}
    network = {"name": name, "ipv4": ipv4, "ipv6": ipv6, "active": active, "autostart": autostart}
    return {"item": item, "network": network, "plan": []}


def test_the_later_entry_on_an_overlapping_subnet_is_named_with_the_earlier():
    clashes = network_clashes([planned("a", ipv4="10.219.0.1/16"), planned("b", ipv4="10.219.5.1/24")])
    assert clashes == [
        {
            "index": 1,
            "problem": "its subnet 10.219.5.0/24 overlaps 10.219.0.0/16 of network a (hypervisor_networks[0]), and the two "
            "would run at the same time (now or at boot): libvirt would refuse to start the second; give each network "
            "its own subnet",
        }
    ]


def test_ipv6_and_boot_time_clashes_count():
    at_boot = planned("b", ipv6="fd00:219::2/48", active=False, autostart=True)
    assert [clash["index"] for clash in network_clashes([planned("a", ipv6="fd00:219::1/64"), at_boot])] == [1]


def test_no_clash_apart_in_time_on_other_libvirts_or_subnets_or_when_refused():
    stopped = planned("b", ipv4="10.219.5.1/24", active=False)
    assert network_clashes([planned("a", ipv4="10.219.0.1/16"), stopped]) == []
    remote = planned("b", ipv4="10.219.5.1/24", uri="qemu+ssh://hv2/system")
    assert network_clashes([planned("a", ipv4="10.219.0.1/16"), remote]) == []
    assert network_clashes([planned("a", ipv4="10.219.0.1/16"), planned("b", ipv4="10.220.0.1/16")]) == []
    assert network_clashes([planned("a", ipv4="10.219.0.1/16"), planned("b", msg="refused")]) == []
    assert network_clashes([planned("a", ipv4="10.219.0.1/16"), planned("a", ipv4="10.219.0.1/16")]) == []  # given twice
    assert network_clashes([{"skipped": True, "item": {"_not_a_dictionary": "a number"}}, "junk", None]) == []

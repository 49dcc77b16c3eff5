"""Differential property: virt_network's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for runs that follow each other on the
same few networks: each meets what the earlier ones left."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_network
from differential import assert_check_predicts_real_run, remove_named, runs_of
from strategies import twisted

NAMES = ("dp-n1", "dp-n2", "dp-" + "n" * 252, "dp-" + "n" * 253)
STATES = st.sampled_from(["present", "active", "inactive", "absent"])
ADDRESS = st.sampled_from(["10.231.1.1/24", "10.231.2.1/24", "10.231.1.1/255.255.255.0", "10.231.1.1/16"]).flatmap(twisted)
RANGE = st.sampled_from([("10.231.1.100", "10.231.1.199"), ("10.231.1.50", "10.231.1.60"), ("10.231.2.100", "10.231.2.110")])
HOST = st.sampled_from(
    [("52:54:00:dd:00:10", "10.231.1.10"), ("52:54:00:DD:00:10", "10.231.1.11"), ("52:54:00:dd:00:12", "10.231.1.12")]
)
IPV4 = st.fixed_dictionaries(
    dict(address=ADDRESS),
    optional=dict(
        dhcp_ranges=st.lists(RANGE.map(lambda pair: dict(start=pair[0], end=pair[1])), max_size=2),
        dhcp_hosts=st.lists(HOST.map(lambda pair: dict(mac=pair[0], ip=pair[1])), max_size=2),
    ),
)
SHAPES = (
    dict(ipv4=IPV4),
    dict(ipv4=IPV4, forward=st.sampled_from(["nat", "route", "isolated"])),
    dict(ipv4=IPV4, bridge=st.sampled_from(["dp-br1", "dp-br2", "dp-br-15-chars", "dp-br-16-charsx"])),
    dict(ipv4=IPV4, domain=st.sampled_from(["dp.example", "DP.example"])),
    dict(ipv6=st.fixed_dictionaries(dict(address=st.sampled_from(["fd00:231::1/64", "fd00:231:0::1/64"])))),
    dict(state=STATES),
    dict(state=st.just("absent")),
    dict(autostart=st.booleans()),
)
EXTRAS = dict(state=STATES, autostart=st.booleans(), recreate=st.booleans(), delete_in_use=st.booleans())
# Mostly the short names, which meet each other.
RUN = runs_of(NAMES[:2] * 4 + NAMES[2:], SHAPES, EXTRAS)

# An earlier run that makes a network the later ones meet.
MAKE = st.fixed_dictionaries(
    dict(name=st.sampled_from(NAMES[:2]), ipv4=st.just(dict(address="10.231.1.1/24"))), optional=dict(state=STATES)
)


def remove_networks(conn):
    remove_named(conn.listAllNetworks(0))


@settings(derandomize=True)
@given(st.lists(MAKE, max_size=1), st.lists(RUN, min_size=1, max_size=4))
def test_check_mode_predicts_the_real_run(capsys, test_client, makes, runs):
    try:
        for run in makes + runs:
            assert_check_predicts_real_run(capsys, test_client.conn, virt_network, dict(run, uri="test:///default"))
    finally:
        remove_networks(test_client.conn)

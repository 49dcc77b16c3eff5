"""Reading a guest's addresses (libvirt's interfaceAddresses, through the test driver too), its serial
log marker and a TCP port."""

from __future__ import annotations

import os
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable

RAW = {
    "lo": {"addrs": [{"addr": "127.0.0.1", "prefix": 8, "type": 0}], "hwaddr": "00:00:00:00:00:00"},
    "vnet3": {
        "addrs": [
            {"addr": "192.168.150.17", "prefix": 24, "type": 0},
            {"addr": "fe80::5054:ff:fe12:3456", "prefix": 64, "type": 1},
        ],
        "hwaddr": "52:54:00:12:34:56",
    },
    "eth1": {"addrs": None, "hwaddr": "52:54:00:AB:CD:EF"},
}


def test_parse_addresses_per_card_without_loopback():
    assert reachable.parse_addresses(RAW) == [
        {"name": "eth1", "mac": "52:54:00:ab:cd:ef", "addresses": []},
        {
            "name": "vnet3",
            "mac": "52:54:00:12:34:56",
            "addresses": [
                {"addr": "192.168.150.17", "prefix": 24, "type": "ipv4"},
                {"addr": "fe80::5054:ff:fe12:3456", "prefix": 64, "type": "ipv6"},
            ],
        },
    ]


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::ffff:0.0.0.0",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "0.0.0.0",
        "::",
        "255.255.255.255",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "0.0.0.1",
        "0.1.2.3",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)
def test_addresses_no_card_of_a_guest_has_are_left_out(address):
    """The host may reach an IPv4-mapped, NAT64, 6to4 or Teredo address as the IPv4 address inside (the
    Teredo one here carries 127.0.0.1): a guest naming ::ffff:127.0.0.1 would have the host's own port probed for it."""
    cards = reachable.parse_addresses(
        {"eth0": {"hwaddr": "52:54:00:00:00:01", "addrs": [{"addr": address, "prefix": 8, "type": 0}]}}
    )
    assert cards[0]["addresses"] == [] and not reachable.usable(address)


def test_an_address_is_typed_by_what_it_is_and_a_zone_needs_a_name():
    raw = {
        "eth0": {
            "hwaddr": "52:54:00:00:00:01",
            "addrs": [{"addr": "10.0.0.5", "prefix": 8, "type": 1}, {"addr": "fe80::1%", "prefix": 64, "type": 1}],
        }
    }
    assert reachable.parse_addresses(raw)[0]["addresses"] == [{"addr": "10.0.0.5", "prefix": 8, "type": "ipv4"}]


def own_global_address():
    """An address of this machine's other than loopback and link-local, or None."""
    import subprocess

    shown = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True, check=False).stdout
    for line in shown.splitlines():
        words = line.split()
        if len(words) > 3 and words[2] in ("inet", "inet6"):
            return words[3].split("/")[0]
    return None


def test_an_address_of_this_machine_is_not_the_guests():
    """A guest's agent naming the host's own address would have the host's ports taken for the guest's."""
    own = own_global_address()
    if own is None:
        pytest.skip("this machine has no global address")
    assert not reachable.usable(own)
    assert reachable.usable("192.0.2.77")  # TEST-NET-1: nobody's


def test_only_reachable_addresses_count():
    """A link-local address is there before any lease: it does not make the guest reachable."""
    assert reachable.usable_addresses(reachable.parse_addresses(RAW)) == ["192.168.150.17"]
    assert reachable.usable_addresses(reachable.parse_addresses({"vnet0": RAW["eth1"]})) == []


# A hostile guest's agent: names that forge log lines or hide, MACs and addresses that are none,
# prefixes out of range, and more cards and addresses than any result should carry.
HOSTILE = {
    "eth0\n[WARNING]: forged\u202e": {
        "hwaddr": "52:54:00:12:34:56\n",
        "addrs": [
            {"addr": "192.168.150.17\nroot", "prefix": 24, "type": 0},
            {"addr": "192.168.150.18", "prefix": 99, "type": 0},
            {"addr": "fe80::1%eth0", "prefix": 64, "type": 1},
            {"addr": "fe80::2%eth0;rm -rf /", "prefix": 64, "type": 1},
            {"addr": "10.0.0.1%eth0", "prefix": 8, "type": 0},
            {"addr": 3232235521, "prefix": 8, "type": 0},
            "not an entry",
        ],
    },
    **{
        "x%04d" % index: {
            "hwaddr": None,
            "addrs": [{"addr": "10.1.%d.%d" % (index // 256, index % 256), "prefix": 16, "type": 0}] * 100,
        }
        for index in range(200)
    },
}


def test_a_hostile_agents_answer_is_shown_small_and_checked():
    cards = reachable.parse_addresses(HOSTILE)
    assert len(cards) == reachable.MAX_CARDS
    assert all(len(card["addresses"]) <= reachable.MAX_ADDRESSES for card in cards)
    eth0 = cards[0]
    assert eth0["name"] == "eth0?[WARNING]: forged?" and eth0["mac"] is None
    assert eth0["addresses"] == [
        {"addr": "192.168.150.18", "prefix": None, "type": "ipv4"},
        {"addr": "fe80::1%eth0", "prefix": 64, "type": "ipv6"},
    ]


@given(
    st.dictionaries(
        st.text(max_size=80),
        st.one_of(
            st.none(),
            st.text(max_size=5),
            st.fixed_dictionaries(
                {
                    "hwaddr": st.one_of(st.none(), st.text(max_size=20), st.just("52:54:00:00:00:01")),
                    "addrs": st.one_of(
                        st.none(),
                        st.lists(
                            st.one_of(
                                st.text(max_size=5),
                                st.fixed_dictionaries(
                                    {
                                        "addr": st.one_of(st.text(max_size=50), st.ip_addresses().map(str), st.integers()),
                                        "prefix": st.one_of(st.none(), st.integers(-5, 200), st.text(max_size=3)),
                                        "type": st.one_of(st.integers(-1, 3), st.none()),
                                    }
                                ),
                            ),
                            max_size=5,
                        ),
                    ),
                }
            ),
        ),
        max_size=8,
    )
)
def test_any_answer_parses_to_shown_cards_of_ip_addresses(raw):
    for card in reachable.parse_addresses(raw):
        assert control_problem(card["name"], "name") == "" and len(card["name"]) <= reachable.MAX_CARD_NAME
        assert card["mac"] is None or len(card["mac"]) == 17
        for entry in card["addresses"]:
            assert reachable.ipaddress.ip_address(entry["addr"].split("%")[0])
            assert entry["prefix"] is None or 0 <= entry["prefix"] <= 128


@pytest.mark.parametrize("source", ["lease", "arp", "any"])
def test_read_addresses_through_libvirt(test_client, source):
    domain = test_client.find_domain("test")
    cards = reachable.read_addresses(test_client, domain, source)
    assert reachable.usable_addresses(cards) and cards[0]["mac"]


def test_an_agent_that_cannot_answer_is_no_address_while_waiting_and_an_error_when_asked_alone(test_client, monkeypatch):
    """wait_for keeps asking an agent not running yet; virt_guest_info asked for the agent warns instead."""
    domain = test_client.find_domain("test")

    def unanswered(domain, source):
        raise reachable.LibvirtError("read addresses of", "test", "argument unsupported: QEMU guest agent is not configured")

    monkeypatch.setattr(test_client, "interface_addresses", unanswered)
    assert reachable.read_addresses(test_client, domain, "agent") == []
    assert reachable.read_addresses(test_client, domain, "any", waiting=False) == []
    with pytest.raises(reachable.LibvirtError, match="not configured"):
        reachable.read_addresses(test_client, domain, "agent", waiting=False)


def test_marker_is_looked_for_after_the_offset(tmp_path):
    log = tmp_path / "serial.log"
    log.write_bytes(b"Cloud-init v. 22.4 finished\n" + b"second boot\n")
    old = len(b"Cloud-init v. 22.4 finished\n")
    assert reachable.marker_seen(str(log), 0, r"Cloud-init v\. \S+ finished")
    assert not reachable.marker_seen(str(log), old, r"Cloud-init v\. \S+ finished")
    assert reachable.marker_seen(str(log), 10**9, "second boot")  # a log that shrank is read whole
    assert not reachable.marker_seen(str(tmp_path / "missing.log"), 0, "x")


def test_a_port_is_tried_on_the_first_addresses_only(monkeypatch):
    """A guest listing thousands of addresses would hold each poll for thousands of connection timeouts."""
    tried = []

    def refused(address, port):
        tried.append(address)

    monkeypatch.setattr(reachable, "_connecting", refused)
    addresses = ["10.9.%d.%d" % (index // 250, index % 250 + 1) for index in range(1000)]
    assert not reachable.port_open(addresses, 22)
    assert tried == addresses[: reachable.MAX_PROBED]


@pytest.fixture
def silent_or_real(monkeypatch):
    """_connecting for 127.0.0.1 as it is; for any other address a socket that never gets writable (the
    send buffer of a socket pair filled up), as a connection to a host that drops every packet."""
    made = []
    connecting = reachable._connecting

    def connection_to(address, port):
        if address == "127.0.0.1":
            return connecting(address, port)
        silent, peer = socket.socketpair()
        silent.setblocking(False)
        try:
            while True:
                silent.send(b"x" * 65536)
        except BlockingIOError:
            pass
        made.append(peer)
        return silent

    monkeypatch.setattr(reachable, "_connecting", connection_to)
    yield
    for peer in made:
        peer.close()


def test_the_answering_address_is_found_behind_silent_ones(silent_or_real):
    """Tried one by one, three silent addresses listed first (a guest's docker0 and bridges sort before
    eth0) used up a short wait_for_timeout before the one that answers was tried."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        started = time.monotonic()
        assert reachable.port_open(["10.10.0.1", "10.20.0.1", "172.17.0.1", "127.0.0.1"], port, deadline=started + 5)
        assert time.monotonic() - started < 1


def test_port_tries_end_at_the_deadline(silent_or_real):
    """Eight silent addresses took 16 s per poll: a wait_for_timeout of 5 s ended 16 s late."""
    started = time.monotonic()
    assert not reachable.port_open(["10.9.0.%d" % index for index in range(1, 9)], 22, deadline=started + 0.3)
    assert 0.3 <= time.monotonic() - started < 1
    started = time.monotonic()
    assert not reachable.port_open(["10.9.0.1"], 22, deadline=started - 1)
    assert time.monotonic() - started < 0.2


def test_an_address_no_socket_takes_is_passed_over():
    """A zone after an IPv6 address (the guest agent reports what the guest says) fails the connect at
    once; the other addresses are still tried, and the wait goes on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert reachable.port_open(["2001:db8::5%eth0", "fe80::1%nonexistent9", "127.0.0.1"], port)
    assert not reachable.port_open(["2001:db8::5%eth0"], port)


def test_a_wait_says_why_the_agent_did_not_answer_in_a_line_of_its_own(test_client, monkeypatch):
    """libvirt's message about an agent carries the guest's own text: shown without controls, short."""
    domain = test_client.find_domain("test")

    def unanswered(domain, source):
        raise reachable.LibvirtError("read addresses of", "test", "agent says: \n[ERROR]: forged\u202e" + "x" * 100000)

    monkeypatch.setattr(test_client, "interface_addresses", unanswered)
    signs = type("Signs", (), dict(ip=True, source="agent", marker=None, port=None, serial_log=None, log_offset=0))()
    missing, cards = reachable.missing_signs(test_client, domain, signs)
    assert cards == [] and len(missing) == 1
    assert missing[0].startswith("no address from agent (") and "\n" not in missing[0] and "\u202e" not in missing[0]
    assert len(missing[0]) < reachable.MAX_ERROR_TEXT + 50


def test_port_open():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert reachable.port_open(["127.0.0.1"], port)
    assert not reachable.port_open(["127.0.0.1"], port)


def test_a_fifo_in_place_of_the_serial_log_is_not_read(tmp_path):
    """Reading a FIFO would block the run until something writes to it."""
    fifo = tmp_path / "serial.log"
    os.mkfifo(fifo)
    assert not reachable.marker_seen(str(fifo), 0, "login:")


def test_a_marker_that_backtracks_without_end_is_not_seen_after_its_time(tmp_path, monkeypatch):
    log = tmp_path / "serial.log"
    log.write_text("a" * 40 + "\n")
    monkeypatch.setattr(reachable, "MARKER_SEARCH_SECONDS", 0.2)
    started = time.monotonic()
    assert not reachable.marker_seen(str(log), 0, "(a+)+Q")
    assert time.monotonic() - started < 5
    assert reachable.marker_seen(str(log), 0, "a{40}")  # an ordinary search after it is not cut short

"""Reading a guest's addresses (libvirt's interfaceAddresses, through the test driver too), its serial
log marker and a TCP port."""

from __future__ import annotations

import os
import socket
import time

import pytest

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


def test_only_reachable_addresses_count():
    """A link-local address is there before any lease: it does not make the guest reachable."""
    assert reachable.usable_addresses(reachable.parse_addresses(RAW)) == ["192.168.150.17"]
    assert reachable.usable_addresses(reachable.parse_addresses({"vnet0": RAW["eth1"]})) == []


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

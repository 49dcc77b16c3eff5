"""virt_guest_install refuses, at plan time (check mode predicts it), a MAC address, serial log file
or fixed graphics port that another guest on the host has; never a value the guest has already."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._preflight import run as preflight
from runner_params import as_passed, guest, network

MAC = "52:54:00:12:00:0a"


def graphics(**overrides):
    return as_passed(guest_argument_spec()["graphics"]["options"], **{"type": "vnc", **overrides})


def other_xml(name, devices):
    return (
        "<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>" % (name, devices)
    )


@pytest.fixture
def host(test_client, tmp_path):
    """rt12-other on the host, made by someone else: a card with MAC (upper case), a console writing
    a file, a fixed VNC port and a display libvirt picks a port for; every rt12- guest removed after."""
    log = tmp_path / "other.log"
    log.write_text("")
    devices = (
        "<interface type='network'><mac address='%s'/><source network='default'/></interface>"
        "<console type='file'><source path='%s'/><target type='serial' port='0'/></console>"
        "<graphics type='vnc' port='5911' autoport='no' listen='127.0.0.1'/>"
        "<graphics type='spice' port='5912' autoport='yes'/>" % (MAC.upper(), log)
    )
    test_client.conn.defineXML(other_xml("rt12-other", devices))
    yield tmp_path
    for domain in test_client.conn.listAllDomains(0):
        if domain.name().startswith("rt12-"):
            if domain.isActive():
                domain.destroy()
            domain.undefine()
    pool = test_client.conn.storagePoolLookupByName("default-pool")
    for volume in pool.listAllVolumes(0):
        if volume.name().startswith("rt12-"):
            volume.delete(0)


def refused(options, match):
    """Check mode and the real run refuse alike, and the real run makes nothing."""
    for check_mode in (True, False):
        with pytest.raises(RunError, match=match) as raised:
            run(options, check_mode=check_mode, diff=False)
        assert "rt12-other" in str(raised.value)
    return str(raised.value)


def new_values(tmp_path):
    return {
        "mac": dict(networks=[network(mac=MAC.upper().replace("0A", "0a"))]),
        "serial log": dict(serial_log=str(tmp_path) + "//./other.log"),
        "graphics port": dict(graphics=graphics(port=5911)),
    }


MATCHES = {
    "mac": r"networks\[0\]: mac 52:54:00:12:00:0a is the MAC address of guest\(s\) rt12-other",
    "serial log": r"serial_log: .*other.log is also the serial or console log of guest\(s\) rt12-other",
    "graphics port": r"graphics: port 5911 is also the fixed graphics port of guest\(s\) rt12-other",
}


@pytest.mark.parametrize("value", sorted(MATCHES))
def test_a_new_guest_taking_another_guests_value_is_refused(host, test_client, value):
    refused(guest("rt12-new", **new_values(host)[value]), MATCHES[value])
    assert test_client.find_domain("rt12-new") is None


@pytest.mark.parametrize("value", sorted(MATCHES))
def test_a_change_that_takes_another_guests_value_is_refused(host, test_client, value):
    made = run(guest("rt12-changed", serial_log=str(host / "own.log")), check_mode=False, diff=False)
    assert made["changed"]
    before = test_client.domain_definition(test_client.find_domain("rt12-changed"))
    options = guest("rt12-changed", serial_log=str(host / "own.log"))
    options.update(new_values(host)[value])
    refused(options, MATCHES[value])
    assert test_client.domain_definition(test_client.find_domain("rt12-changed")) == before


@pytest.mark.parametrize("made", [True, False])
def test_a_log_is_the_same_file_by_any_name(host, made):
    """Through a link, whether QEMU has made the file yet or not."""
    if not made:
        (host / "other.log").unlink()
    (host / "link.log").symlink_to(host / "other.log")
    refused(guest("rt12-new", serial_log=str(host / "link.log")), "serial or console log of guest.s. rt12-other")


def test_a_port_libvirt_picks_and_other_values_are_free(host):
    options = guest(
        "rt12-new",
        networks=[network(mac="52:54:00:12:00:0b")],
        serial_log=str(host / "new.log"),
        graphics=graphics(type="spice", port=5912),
    )
    assert run(options, check_mode=True, diff=False)["changed"]
    assert run(options, check_mode=False, diff=False)["changed"]


def test_a_port_another_guest_has_as_its_websocket_port_is_refused(host, test_client):
    test_client.conn.defineXML(other_xml("rt12-websocket", "<graphics type='vnc' port='5915' autoport='no' websocket='5916'/>"))
    refused_by = r"graphics: port 5916 is also the fixed graphics port of guest\(s\) rt12-websocket"
    for check_mode in (True, False):
        with pytest.raises(RunError, match=refused_by):
            run(guest("rt12-new", graphics=graphics(port=5916)), check_mode=check_mode, diff=False)
    assert test_client.find_domain("rt12-new") is None


def test_a_file_another_guest_writes_through_a_channel_is_refused_as_a_serial_log(host, test_client):
    devices = "<channel type='file'><source path='%s'/><target type='virtio' name='c'/></channel>" % (host / "channel.log")
    test_client.conn.defineXML(other_xml("rt12-channel", devices))
    for check_mode in (True, False):
        with pytest.raises(RunError, match=r"channel.log is also the serial or console log of guest\(s\) rt12-channel"):
            run(guest("rt12-new", serial_log=str(host / "channel.log")), check_mode=check_mode, diff=False)


def test_a_guest_sharing_a_value_already_still_converges(host, test_client):
    """Made before rt12-late took the same MAC, serial log and port: its re-run changes nothing and
    is not refused, nor is a change that adds none of these values."""
    options = guest("rt12-first", networks=[network(mac="52:54:00:12:00:0c")], serial_log=str(host / "first.log"))
    options["graphics"] = graphics(port=5913)
    assert run(options, check_mode=False, diff=False)["changed"]
    devices = (
        "<interface type='network'><mac address='52:54:00:12:00:0C'/><source network='default'/></interface>"
        "<serial type='file'><source path='%s'/><target port='0'/></serial>"
        "<graphics type='vnc' port='5913' autoport='no'/>" % (host / "first.log")
    )
    test_client.conn.defineXML(other_xml("rt12-late", devices))
    for check_mode in (True, False):
        assert run(options, check_mode=check_mode, diff=False)["changed"] is False
    assert run(dict(options, memory=512), check_mode=False, diff=False)["changed"]


def test_a_guest_never_clashes_with_itself(host, test_client):
    """A running guest's live and persistent definitions both have its values; a change adding a
    card lists the host's guests, this one among them, and is not refused."""
    options = guest("rt12-self", networks=[network(mac="52:54:00:12:00:0d")], state="running")
    options["graphics"] = graphics(port=5914)
    run(options, check_mode=False, diff=False)
    assert test_client.domain_is_active(test_client.find_domain("rt12-self"))
    options["networks"] = [network(mac="52:54:00:12:00:0d"), network(mac="52:54:00:12:00:0e")]
    assert run(options, check_mode=False, diff=False)["changed"]


def test_a_run_that_adds_no_such_value_lists_no_guest(host, monkeypatch):
    options = guest("rt12-quiet", networks=[network(mac="52:54:00:12:00:0f")])
    run(options, check_mode=False, diff=False)
    listed = []
    original = Client.guest_names
    monkeypatch.setattr(Client, "guest_names", lambda self: listed.append(1) or original(self))
    assert run(options, check_mode=False, diff=False)["changed"] is False  # a no-op
    assert run(dict(options, memory=512), check_mode=False, diff=False)["changed"]  # a change without one
    assert listed == []
    run(dict(options, networks=[network(mac="52:54:00:12:00:10")]), check_mode=True, diff=False)
    assert listed == [1]


def test_preflight_refuses_the_guest_as_the_install_would(host):
    entry = dict(name="rt12-new", memory=256, disks=[dict(pool="default-pool", size="1M")], install=dict(method="import"))
    entry["networks"] = [dict(network="default", mac=MAC)]
    result = preflight(dict(uri="test:///default", guests=[entry], probe_kvm=False, check_memory=False))
    assert not result["ok"]
    assert [(problem["guest"], problem["check"]) for problem in result["problems"]] == [("rt12-new", "host")]
    assert "rt12-other" in result["problems"][0]["message"]

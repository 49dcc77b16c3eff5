"""virt_guest_info's flow through libvirt's embedded test driver (no daemon, real libvirt calls)."""

from __future__ import annotations

import libvirt
import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._info.guests import run
from ansible_collections.remotevirt.install.plugins.modules import virt_guest_info

GUEST_XML = """<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='default-pool' volume='{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/iso/{name}.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='export1;tok=nbdsecret'><host name='nbd.example' port='10809'/></source>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='network'><mac address='52:54:00:AA:00:01'/><source network='default'/><model type='virtio'/></interface>
    <interface type='bridge'><mac address='52:54:00:aa:00:02'/><source bridge='br0'/></interface>
    <graphics type='vnc' port='-1' autoport='yes' passwd='s3cret-console'/>
  </devices>
</domain>"""


def params(**overrides):
    """Every key of virt_guest_info's argument_spec, as AnsibleModule passes them (the test driver's URI)."""
    base = {name: option.get("default") for name, option in virt_guest_info.argument_spec().items()}
    base.update(uri="test:///default", addresses="none")
    base.update(overrides)
    return base


@pytest.fixture
def guest(test_client, unique_name):
    """A defined guest (shut off) with two disks, two cards and a console password; removed after."""
    made = []

    def make(prefix: str = "rvinfo-") -> str:
        name = prefix + unique_name("")[-30:].lstrip("-")
        made.append(test_client.conn.defineXML(GUEST_XML.format(name=name)))
        return name

    yield make
    for domain in made:
        if domain.isActive():
            domain.destroy()
        domain.undefine()


def test_a_guest_is_reported_with_its_devices(guest):
    name = guest()
    result = run(params(name=name), False, False)
    assert result["changed"] is False and result["warnings"] == []
    (facts,) = result["guests"]
    assert facts["name"] == name and len(facts["uuid"]) == 36
    assert (facts["state"], facts["persistent"], facts["autostart"], facts["reboot_required"]) == ("shut off", True, False, False)
    assert (facts["memory"], facts["vcpus"], facts["addresses"]) == (512, 1, [])
    assert facts["interfaces"] == [
        {"mac": "52:54:00:aa:00:01", "type": "network", "network": "default", "bridge": None, "model": "virtio"},
        {"mac": "52:54:00:aa:00:02", "type": "bridge", "network": None, "bridge": "br0", "model": None},
    ]
    assert facts["disks"] == [
        {
            "target": "vda",
            "device": "disk",
            "bus": "virtio",
            "pool": "default-pool",
            "volume": name + ".qcow2",
            "path": None,
            "format": "qcow2",
            "source": None,
        },
        {
            "target": "vdb",
            "device": "disk",
            "bus": "virtio",
            "pool": None,
            "volume": None,
            "path": None,
            "format": "raw",
            "source": "nbd://nbd.example:10809/export1;***",
        },
        {
            "target": "sda",
            "device": "cdrom",
            "bus": "sata",
            "pool": None,
            "volume": None,
            "path": "/srv/iso/%s.iso" % name,
            "format": "raw",
            "source": None,
        },
    ]


def test_no_console_password_is_ever_returned(guest):
    guest()
    assert "s3cret-console" not in repr(run(params(), False, False))


def test_check_mode_returns_the_same_result(guest):
    name = guest()
    assert run(params(name=name), True, False) == run(params(name=name), False, False)


def test_a_missing_guest_gives_an_empty_list():
    assert run(params(name="rvinfo-missing"), False, False)["guests"] == []


def test_pattern_and_state_filters(guest, test_client):
    first, second = guest(), guest()
    test_client.find_domain(second).create()
    both = [facts["name"] for facts in run(params(name_pattern="rvinfo-*"), False, False)["guests"]]
    assert first in both and second in both and both == sorted(both)
    running = run(params(name_pattern="rvinfo-*", state=["running"]), False, False)["guests"]
    assert [facts["name"] for facts in running] == [second]
    assert running[0]["state"] == "running"
    stopped = [facts["name"] for facts in run(params(name_pattern="rvinfo-*", state=["shutoff"]), False, False)["guests"]]
    assert first in stopped and second not in stopped


def test_paused_guests_have_their_reason(guest, test_client):
    name = guest()
    domain = test_client.find_domain(name)
    domain.create()
    domain.suspend()
    (facts,) = run(params(name=name, state=["paused"]), False, False)["guests"]
    assert (facts["state"], facts["state_reason"]) == ("paused", "user")


def test_addresses_of_a_running_guest(test_client):
    # The test driver's own guest "test" runs, with a lease-like address on its card.
    (facts,) = run(params(name="test", addresses="lease"), False, False)["guests"]
    assert facts["addresses"][0]["mac"] == "aa:bb:cc:dd:ee:ff"
    assert facts["addresses"][0]["addresses"][0]["type"] == "ipv4"


def test_no_addresses_for_a_guest_that_does_not_run(guest):
    name = guest()
    assert run(params(name=name, addresses="any"), False, False)["guests"][0]["addresses"] == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(name="../x"), "must not contain '..'"),
        (dict(name_pattern="a\x1b[31m*"), "control character"),
        (dict(name="a", name_pattern="a"), "mutually exclusive"),
        (dict(state=["stopped"]), "state: 'stopped' is not one of"),
        (dict(state=[]), "state: give at least one of"),
        (dict(addresses="dns"), "addresses must be one of"),
    ],
)
def test_bad_input_is_refused_before_libvirt(overrides, message):
    with pytest.raises(RunError, match=message):
        run(params(uri="qemu+ssh://unreachable.invalid/system", **overrides), False, False)


def test_a_guest_undefined_between_the_listing_and_its_reading_is_left_out(guest, test_client, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    kept = guest()
    gone = "rvinfo-gone-" + kept[-8:]
    test_client.conn.defineXML(GUEST_XML.format(name=gone))
    listed = Client.all_domains

    def listing_then_undefine(self):
        domains = listed(self)
        test_client.conn.lookupByName(gone).undefine()  # another admin, while this run reads
        return domains

    monkeypatch.setattr(Client, "all_domains", listing_then_undefine)
    result = run(params(name_pattern="rvinfo-*"), False, False)
    names = [facts["name"] for facts in result["guests"]]
    assert kept in names and gone not in names
    assert result["warnings"] == []


def test_a_running_guest_whose_stored_definition_changed_needs_a_reboot(guest, test_client):
    """As virt_guest_install's mark says, until the guest starts again; a transient guest has no stored
    definition to compare with, and a mark copied into the stored definition counts for nothing."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
        Mark,
        definition_digest,
        mark_started_from,
    )

    def reported():
        return run(params(name=name), False, False)["guests"][0]["reboot_required"]

    name = guest()
    domain = test_client.find_domain(name)
    domain.create()
    assert reported() is False
    mark_started_from(test_client, domain, Mark(definition_digest(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))), None)
    assert reported() is False  # marked, nothing changed yet
    test_client.conn.defineXML(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).replace("524288", "262144"))
    assert reported() is True
    domain.suspend()
    assert reported() is True
    domain.resume()
    test_client.conn.defineXML(domain.XMLDesc(0))  # the live definition, its mark too, stored
    assert reported() is False
    domain.destroy()
    assert reported() is False

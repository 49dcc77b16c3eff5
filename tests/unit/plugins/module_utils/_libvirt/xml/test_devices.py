"""The device builders of devices.py: golden XML of each device, libvirt's stored form read back as
the objects that made it (no drift), and patches that leave other devices and memoryBacking
children (hugepages) alone."""

from __future__ import annotations

import os

import pytest

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse, serialize
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import (
    DeviceCapabilities,
    DiskModes,
    Filesystem,
    HostDevice,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain, patch_definition
from conftest import assert_valid

STORED = fixtures.read(__file__, "devices-stored.xml")
GOLDEN_DIR = os.path.join(golden.folder(__file__), "devices")
MODES = DiskModes(cache="none", io="native", discard="unmap", detect_zeroes="unmap")
SHARE = Filesystem(source="/tmp/dva", target="share0")
PCI = HostDevice(type="pci", address="0000:7f:1f.7")
USB_ID = HostDevice(type="usb", vendor="0x1234", product="0xabcd")
USB_PLACE = HostDevice(type="usb", address="1.4")

DEVICES = {
    "disk-modes": Disk(target="vda", path="/tmp/dva/x.img", modes=MODES),
    "filesystem-virtiofs": SHARE,
    "hostdev-pci": PCI,
    "hostdev-usb-ids": USB_ID,
    "hostdev-usb-bus-device": USB_PLACE,
}


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_golden_device_xml(name):
    device = DEVICES[name]
    text = golden.compare(os.path.join(GOLDEN_DIR, name + ".xml"), device.to_xml())
    assert type(device).from_element(parse(text)) == device


def test_golden_domain_with_every_device_is_valid():
    domain = Domain(
        name="dva-g", type="qemu", memory=256 << 20, vcpus=1, disks=(DEVICES["disk-modes"],),
        filesystems=(SHARE,), hostdevs=(PCI, USB_ID, USB_PLACE), shared_memory=True,
    )  # fmt: skip
    xml = golden.compare(os.path.join(GOLDEN_DIR, "domain.xml"), domain.to_xml())
    assert_valid("domain", xml)
    read = Domain.from_xml(xml)
    assert (read.disks, read.filesystems, read.hostdevs, read.shared_memory) == (
        domain.disks, domain.filesystems, domain.hostdevs, True,
    )  # fmt: skip


def test_libvirt_stored_form_reads_back_without_drift():
    """Addresses, aliases, upper-case USB ids, 9p shares and SCSI hostdevs are not the collection's."""
    domain = Domain.from_xml(STORED)
    assert domain.disks[0].modes == MODES
    assert domain.filesystems == (SHARE,)
    assert domain.hostdevs == (PCI, USB_ID, USB_PLACE)
    assert domain.shared_memory


def test_patch_keeps_hugepages_and_other_devices():
    previous = Domain.from_xml(STORED)
    wanted = previous.with_changes(filesystems=(), hostdevs=(PCI,), disks=(previous.disks[0].with_changes(modes=DiskModes()),))
    root = parse(patch_definition(STORED, previous, wanted))
    assert Domain.from_element(root) == wanted
    backing = root.find("memoryBacking")
    assert [child.tag for child in backing] == ["hugepages", "source", "access"]
    assert root.find("devices/filesystem/source").get("dir") == "/srv/9p"  # 9p stays
    assert root.find("devices/hostdev[@type='scsi']") is not None
    # the kept PCI device keeps its guest address
    kept = root.find("devices/hostdev[@type='pci']")
    assert kept.find("address[@type='pci']").get("slot") == "0x04"


def test_patch_adds_shared_memory_beside_hugepages():
    xml = STORED.replace("<source type='memfd'/>", "").replace("<access mode='shared'/>", "")
    previous = Domain.from_xml(xml)
    assert not previous.shared_memory
    root = parse(patch_definition(xml, previous, previous.with_changes(shared_memory=True)))
    assert [child.tag for child in root.find("memoryBacking")] == ["hugepages", "source", "access"]


def test_shared_memory_goes_after_current_memory():
    root = Domain(name="g", memory=1 << 30, shared_memory=True).to_element()
    assert [child.tag for child in root][:4] == ["name", "memory", "currentMemory", "memoryBacking"]
    assert "memfd" in serialize(root)


@pytest.mark.parametrize(
    "modes, problem",
    [
        (DiskModes(io="native"), "io native needs cache: none or directsync"),
        (DiskModes(io="native", cache="writeback"), "not writeback"),
        (DiskModes(io="native", cache="directsync"), None),
        (DiskModes(detect_zeroes="unmap"), "needs discard: unmap"),
        (DiskModes(detect_zeroes="unmap", discard="unmap"), None),
        (DiskModes(cache="unsafe", io="io_uring"), None),
    ],
)
def test_disk_mode_combinations(modes, problem):
    found = modes.problem()
    assert (found is None) if problem is None else (problem in found)


def test_modes_over_stored_keep_what_is_left_out():
    assert DiskModes(io="threads").over(MODES) == MODES.with_changes(io="threads")
    assert DiskModes().over(MODES) == MODES


def test_capabilities_read_from_domcapabilities():
    caps = parse(
        "<domainCapabilities><devices>"
        "<disk supported='yes'><enum name='bus'><value>virtio</value><value>sata</value></enum></disk>"
        "<filesystem supported='yes'><enum name='driverType'><value>path</value><value>virtiofs</value></enum></filesystem>"
        "<hostdev supported='no'/>"
        "</devices></domainCapabilities>"
    )
    facts = DeviceCapabilities.from_xml_element(caps)
    assert facts.filesystem_drivers == ("path", "virtiofs")
    assert facts.hostdev_types == ()
    assert facts.disk_buses == ("virtio", "sata")
    assert DeviceCapabilities.from_xml_element(parse("<domainCapabilities/>")) == DeviceCapabilities()


def test_node_device_names():
    assert PCI.nodedev_name == "pci_0000_7f_1f_7"
    assert USB_ID.nodedev_name is None
    assert [device.label for device in (PCI, USB_ID, USB_PLACE)] == ["pci 0000:7f:1f.7", "usb 0x1234:0xabcd", "usb 1.4"]


def test_huge_pages_and_shared_memory_share_one_memory_backing():
    """Tuning's huge pages and the shares' shared memory are written into one element, and read back apart."""
    # Imported here: this test joins the two halves of <memoryBacking>.
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import Hugepages, Tuning

    domain = Domain(
        name="g", type="qemu", memory=1 << 30, filesystems=(SHARE,), shared_memory=True, tuning=Tuning(hugepages=Hugepages(2048))
    )
    root = domain.to_element()
    (backing,) = root.findall("memoryBacking")
    assert sorted(child.tag for child in backing) == ["access", "hugepages", "source"]
    read = Domain.from_element(root)
    assert (read.tuning.hugepages, read.shared_memory, read.filesystems) == (Hugepages(2048), True, (SHARE,))
    without_pages = domain.with_changes(tuning=Tuning())
    patched = parse(patch_definition(serialize(root), domain, without_pages))
    assert [child.tag for child in patched.find("memoryBacking")] == ["source", "access"]
    read = Domain.from_element(patched)
    assert (read.tuning.hugepages, read.shared_memory) == (None, True)

"""Device options of a guest request (disk driver modes, virtiofs shares, host devices): validation,
including generated strings, and drift against web01 as libvirt stores it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.devices_request import (
    capability_problems,
    pci_device,
    usb_device,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import (
    DeviceCapabilities,
    DiskModes,
    Filesystem,
    HostDevice,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState

GiB = 1 << 30
STORED = fixtures.read(__file__, "web01-stored.xml")
POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
DISK0 = Volume(name="web01-disk0.qcow2", capacity=10 * GiB, format="qcow2", path="/srv/p/web01-disk0.qcow2")
DISK = dict(pool="p", volume="web01-disk0.qcow2")


def request(**params):
    params.setdefault("name", "web01")
    return GuestRequest.from_params(params)


def stored_state(xml=STORED):
    return GuestState(
        existing=Domain.from_xml(xml), existing_xml=xml, disks=(DiskState(volume=VolumeState(POOL, existing=DISK0)),)
    )


def stored_with_modes(modes):
    return STORED.replace("<driver name='qemu' type='qcow2'/>", "<driver name='qemu' type='qcow2' %s/>" % modes)


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, message",
    [
        (dict(disks=[dict(DISK, cache="writeback", io="native")]), "disks[0]: io native needs cache: none or directsync"),
        (dict(disks=[dict(DISK, cache="fast")]), "disks[0]: cache must be one of none, writeback"),
        (dict(disks=[dict(DISK, detect_zeroes="unmap", discard="ignore")]), "detect_zeroes unmap needs discard: unmap"),
        (dict(filesystems=[dict(source="srv", target="t")]), "filesystems[0]: source must be an absolute path"),
        (dict(filesystems=[dict(source="/srv/../etc", target="t")]), "filesystems[0]: source"),
        (dict(filesystems=[dict(source="/srv/x", target="x" * 37)]), "filesystems[0]: target must be a mount tag"),
        (dict(filesystems=[dict(source="/", target="t")]), "filesystems[0]: source / is a directory of the host's system"),
        (dict(filesystems=[dict(source="/etc/", target="t")]), "source /etc is a directory of the host's system"),
        (dict(filesystems=[dict(source="/etc/ssh", target="t")]), "source /etc/ssh is a directory of the host's system"),
        (dict(filesystems=[dict(source="/var/lib", target="t")]), "source /var/lib is a directory of the host's system"),
        # any spelling of a system directory: '/.' is the root, '/./etc' is /etc
        (dict(filesystems=[dict(source="/.", target="t")]), "source /. is a directory of the host's system"),
        (dict(filesystems=[dict(source="/./etc", target="t")]), "source /./etc is a directory of the host's system"),
        (dict(filesystems=[dict(source="//usr/./lib", target="t")]), "is a directory of the host's system"),
        # libvirt's state, its pools' usual places, the services' runtime state, the host's data: never shared
        (dict(filesystems=[dict(source="/var/lib/libvirt/qemu", target="t")]), "or of libvirt's state, which the guest"),
        (dict(filesystems=[dict(source="/var/lib/libvirt/images", target="t")]), "or of libvirt's state, which the guest"),
        (dict(filesystems=[dict(source="/run/libvirt", target="t")]), "source /run/libvirt is a directory of the host's"),
        (dict(filesystems=[dict(source="/var/run/x", target="t")]), "source /var/run/x is a directory of the host's"),
        (dict(filesystems=[dict(source="/usr/lib/x", target="t")]), "source /usr/lib/x is a directory of the host's"),
        (dict(filesystems=[dict(source="/home/u/.ssh", target="t")]), "source /home/u/.ssh is a directory of the host's"),
        (dict(filesystems=[dict(source="/var/log", target="t")]), "source /var/log is a directory of the host's"),
        (dict(filesystems=[dict(source="/a", target="t"), dict(source="/b", target="t")]), "mount tag t is given to more"),
        (dict(hostdevs=[dict()]), "hostdevs[0]: give either pci"),
        (dict(hostdevs=[dict(pci="0000:03:00.0", usb="1.2")]), "hostdevs[0]: give either pci"),
        (dict(hostdevs=[dict(pci="0000:03:00.8")]), "hostdevs[0].pci must be a PCI address"),
        (dict(hostdevs=[dict(pci="0000:03:2a.0")]), "PCI slot 2a is out of range"),
        (dict(hostdevs=[dict(usb="1.0")]), "USB bus and device numbers run from 1 to 127"),
        (dict(hostdevs=[dict(usb="0x12345:0x1")]), "hostdevs[0].usb must be vendor:product"),
        (dict(hostdevs=[dict(pci="03:00.0"), dict(pci="0000:03:00.0")]), "pci 0000:03:00.0 is given more than once"),
    ],
)
def test_refused(params, message):
    with pytest.raises(PlanError) as error:
        request(**params)
    assert message in str(error.value)


def test_accepted_forms_are_normalised():
    parsed = request(
        disks=[dict(DISK, cache="none", io="native")],
        filesystems=[dict(source="/srv/share/", target="data")],
        hostdevs=[dict(pci="03:00.0"), dict(pci="0000:0A:1F.7"), dict(usb="1234:ABCD"), dict(usb="001.004")],
    )
    assert parsed.disks[0].modes == DiskModes(cache="none", io="native")
    assert parsed.filesystems == (Filesystem(source="/srv/share", target="data"),)
    assert [device.label for device in parsed.hostdevs] == [
        "pci 0000:03:00.0",
        "pci 0000:0a:1f.7",
        "usb 0x1234:0xabcd",
        "usb 1.4",
    ]


def test_unset_device_options_stay_unset():
    parsed = request(disks=[DISK])
    assert parsed.filesystems is None and parsed.hostdevs is None and parsed.disks[0].modes == DiskModes()


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0x1F), st.integers(0, 7))
def test_every_pci_address_round_trips(domain, bus, slot, function):
    text = "%04x:%02x:%02x.%x" % (domain, bus, slot, function)
    device = pci_device(text.upper(), "hostdevs[0].pci")
    assert device.address == text
    assert HostDevice.from_element(device.to_element()) == device


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_every_usb_id_round_trips(vendor, product):
    device = usb_device("0x%04x:0x%04X" % (vendor, product), "hostdevs[0].usb")
    assert HostDevice.from_element(device.to_element()) == device


@given(st.text(max_size=20))
def test_any_text_is_a_device_or_a_refusal(text):
    """Hostile strings (other scripts' digits, newlines, NUL) never pass and never raise anything else."""
    for read in (pci_device, usb_device):
        try:
            device = read(text, "hostdevs[0]")
        except PlanError:
            continue
        assert text.isascii() and "\n" not in text
        assert HostDevice.from_element(device.to_element()) == device


# -- host capabilities -------------------------------------------------------------------------
def test_capability_refusals_name_the_option_and_what_the_host_offers():
    caps = DeviceCapabilities(filesystem_drivers=("path", "handle"), hostdev_types=("usb",))
    problems = capability_problems(caps, [Filesystem("/s", "t")], [HostDevice(type="pci", address="0000:03:00.0")])
    assert problems == [
        "filesystems: the host's QEMU does not offer virtiofs (domcapabilities filesystem driverType: path, handle)",
        "hostdevs[0].pci: the host does not offer PCI passthrough (domcapabilities hostdev subsysType: usb)",
    ]
    assert capability_problems(None, [Filesystem("/s", "t")], []) == []


# -- drift -------------------------------------------------------------------------------------
def test_new_guest_definition_has_the_devices():
    params = dict(
        disks=[dict(pool="p", size="1G", cache="none", io="native", discard="unmap")],
        filesystems=[dict(source="/srv/share", target="data")],
        hostdevs=[dict(pci="0000:03:00.0")],
        install=dict(method="import"),
    )
    plan = plan_guest(request(**params), GuestState(disks=(DiskState(volume=VolumeState(POOL)),)))
    domain = next(action.payload.domain for action in plan.actions if action.verb == "define")
    assert domain.disks[0].modes == DiskModes(cache="none", io="native", discard="unmap")
    assert domain.filesystems == (Filesystem("/srv/share", "data"),) and domain.shared_memory
    assert domain.hostdevs == (HostDevice(type="pci", address="0000:03:00.0"),)


@pytest.mark.parametrize(
    "stored_modes, params, changed",
    [
        ("", dict(disks=[dict(DISK, cache="none")]), True),
        ("cache='none' io='native'", dict(disks=[dict(DISK, cache="none", io="native")]), False),
        ("cache='none' io='native'", dict(disks=[dict(DISK, io="threads")]), True),
        ("cache='none' io='native'", dict(disks=[DISK]), False),  # left out: stays as stored
        ("", dict(filesystems=[dict(source="/srv/share", target="data")]), True),
        ("", dict(filesystems=[], hostdevs=[]), False),
        ("", dict(hostdevs=[dict(usb="0x1234:0xabcd")]), True),
    ],
)
def test_drift(stored_modes, params, changed):
    xml = stored_with_modes(stored_modes) if stored_modes else STORED
    plan = plan_guest(request(**params), stored_state(xml))
    assert plan.changed == changed
    assert [action.verb for action in plan.actions] == (["define"] if changed else [])


def test_io_native_checked_against_the_stored_cache():
    plan = plan_guest(request(disks=[dict(DISK, io="native")]), stored_state(stored_with_modes("cache='directsync'")))
    assert plan.actions[0].payload.domain.disks[0].modes == DiskModes(cache="directsync", io="native")
    with pytest.raises(PlanError, match="disks.0.: io native needs cache: none or directsync"):
        plan_guest(request(disks=[dict(DISK, io="native")]), stored_state())


def test_changed_devices_are_stored_in_libvirt_form():
    """The patched definition reads back as the wanted one: a re-run finds no drift."""
    params = dict(
        disks=[dict(DISK, cache="none", io="native")],
        filesystems=[dict(source="/srv/share", target="data")],
        hostdevs=[dict(pci="0000:03:00.0"), dict(usb="1.4")],
    )
    plan = plan_guest(request(**params), stored_state())
    define = plan.actions[0].payload
    # Imported here as the handler does.
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import patch_definition

    patched = patch_definition(STORED, define.previous, define.domain)
    assert '<source type="memfd"/>' in patched
    again = plan_guest(request(**params), stored_state(patched))
    assert again.actions == []

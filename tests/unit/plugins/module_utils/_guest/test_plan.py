"""Guest planner tables: module parameters + what the host has -> the exact actions, or a refusal. No I/O."""

from __future__ import annotations

import re
import shlex

import pytest

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import DURABLE, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import (
    carry_macs,
    machine_matches,
    wanted_definition,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest, reboot_required
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import Mark, definition_digest
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain, Interface
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState
from conftest import assert_valid

MiB = 1 << 20
GiB = 1 << 30
NAME = "web01"
MAC = "52:54:00:6b:3c:58"
POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
DISK0 = Volume(name="web01-disk0.qcow2", capacity=10 * GiB, format="qcow2", allocation=2 * GiB, path="/srv/p/web01-disk0.qcow2")
OLD = Volume(name="old.qcow2", capacity=8 * GiB, format="qcow2", path="/srv/p/old.qcow2")
TREE = InstallTree(family="redhat", kernel="http://m/os/images/pxeboot/vmlinuz", initrd="http://m/os/images/pxeboot/initrd.img")
KERNEL = "/var/lib/libvirt/boot/remotevirt-web01-kernel"
INITRD = "/var/lib/libvirt/boot/remotevirt-web01-initrd"
WAIT = "timeout 3600 sh -c 'until virsh domstate web01 | grep -q \"shut off\"; do sleep 5; done'"

# web01 as libvirt stores it (virsh dumpxml --inactive --security-info) after this collection
# defined it: libvirt added its uuid, MAC, addresses, controllers and default devices.
STORED = fixtures.read(__file__, "web01-stored.xml")

# The parameters web01 was installed with; a run with exactly these changes nothing.
MATCHING = dict(
    memory="1G",
    vcpus=2,
    disks=[dict(pool="p", volume="web01-disk0.qcow2")],
    networks=[dict(network="default")],
    graphics=dict(type="vnc", password="s3cret"),
    serial_log="/var/log/libvirt/qemu/web01-serial.log",
    cpu="host-model",
    machine="pc",
    firmware="bios",
    arch="x86_64",
    domain_type="kvm",
)


def request(**params):
    params.setdefault("name", NAME)
    return GuestRequest.from_params(params)


def volume_disk(existing=None):
    return DiskState(volume=VolumeState(POOL, existing=existing))


def new_state(*disks, **fields):
    """The host of a guest not defined yet; by default one new volume disk."""
    return GuestState(disks=disks or (volume_disk(),), **fields)


def stored_state(*disks, xml=STORED, **fields):
    """The host with web01 defined as STORED; by default its disk volume exists."""
    fields.setdefault("storage", (("p", "web01-disk0.qcow2"),))
    return GuestState(existing=Domain.from_xml(xml), existing_xml=xml, disks=disks or (volume_disk(DISK0),), **fields)


def verbs(plan):
    return [action.verb for action in plan.actions]


def commands(plan):
    return [action.command_line for action in plan.actions]


def payload(plan, verb):
    return next(action.payload for action in plan.actions if action.verb == verb)


# -- from_params: refusals ---------------------------------------------------------------------
PXE = dict(method="pxe")
CDROM = dict(method="cdrom", cdrom=dict(pool="iso", volume="d.iso"))
LOCATION = dict(method="location", location="http://m/os")
REFUSALS = [
    (
        "pxe and cdrom",
        dict(install=dict(PXE, cdrom=dict(path="/srv/d.iso"))),
        "install.method is pxe, which conflicts with install.cdrom",
    ),
    (
        "cdrom and location",
        dict(install=dict(CDROM, location="http://m/os")),
        "install.method is cdrom, which conflicts with install.location",
    ),
    ("cdrom without media", dict(install=dict(method="cdrom")), "install.method cdrom needs install.cdrom"),
    ("location without a tree", dict(install=dict(method="location")), "install.method location needs install.location"),
    (
        "media without a method",
        dict(install=dict(cdrom=dict(path="/srv/d.iso"))),
        "install.method is missing; cdrom implies method: cdrom",
    ),
    (
        "cdrom with path and volume",
        dict(install=dict(method="cdrom", cdrom=dict(path="/d.iso", pool="iso", volume="d.iso"))),
        "install.cdrom: give either pool and volume",
    ),
    (
        "cdrom volume without pool",
        dict(install=dict(method="cdrom", cdrom=dict(volume="d.iso"))),
        "install.cdrom: volume d.iso needs its pool",
    ),
    (
        "location scheme file",
        dict(install=dict(method="location", location="file:///srv/tree")),
        "install.location must be an http, https, ftp or nfs URL or an absolute path",
    ),
    (
        "location scheme gopher",
        dict(install=dict(method="location", location="gopher://m/os")),
        "install.location must be an http, https, ftp or nfs URL",
    ),
    (
        "relative location",
        dict(install=dict(method="location", location="srv/tree")),
        "install.location must be an http, https, ftp or nfs URL",
    ),
    (
        "kickstart with pxe",
        dict(install=dict(PXE, kickstart="http://k/ks.cfg"), networks=[dict(network="n")]),
        "install.kickstart needs method: location",
    ),
    (
        "kickstart_content with cdrom",
        dict(install=dict(CDROM, kickstart_content="text")),
        "install.kickstart_content needs method: location",
    ),
    (
        "extra_args with import",
        dict(install=dict(method="import", extra_args="console=ttyS0")),
        "install.extra_args needs method: location",
    ),
    (
        "kickstart and kickstart_content",
        dict(install=dict(LOCATION, kickstart="/srv/ks.cfg", kickstart_content="text")),
        "install.kickstart and install.kickstart_content are mutually exclusive",
    ),
    ("name with <>", dict(name="a<b>"), "guest name 'a<b>' may only contain"),
    ("name with &", dict(name="a&b"), "guest name 'a&b' may only contain"),
    ("name with ..", dict(name="../x"), "guest name '../x' must not contain '..'"),
    ("name with quote", dict(name="a'b"), "may only contain"),
    ("empty name", dict(name=""), "guest name must not be empty"),
    ("name longer than its files allow", dict(name="g" * 228), "guest name is longer than 227 bytes"),
    (
        "duplicate disk targets",
        dict(disks=[dict(pool="p", size="1G", target="vdb"), dict(pool="p", size="1G", target="vdb")]),
        "disk target vdb is given to more than one disk",
    ),
    (
        "disk with pool and path",
        dict(disks=[dict(pool="p", path="/srv/x.img")]),
        "disks[0]: give either pool (a pool volume) or path",
    ),
    ("disk with neither pool nor path", dict(disks=[dict(size="1G")]), "disks[0]: give either pool"),
    (
        "disk with neither volume nor size",
        dict(disks=[dict(pool="p", size="1G"), dict(pool="p")]),
        "disks[1]: give volume (an existing volume) or size (a new one)",
    ),
    ("bad bus", dict(disks=[dict(pool="p", size="1G", bus="usb")]), "disks[0]: bus must be one of virtio, sata, scsi, ide"),
    (
        "bad target",
        dict(disks=[dict(pool="p", size="1G", target="xvda")]),
        "disks[0]: target must look like vda, sdb or hdc, not 'xvda'",
    ),
    ("target with a number", dict(disks=[dict(pool="p", size="1G", target="vda1")]), "target must look like"),
    ("relative disk path", dict(disks=[dict(path="x.img")]), "disks[0]: path must be absolute"),
    (
        "path disk with size",
        dict(disks=[dict(path="/srv/x.img", size="1G")]),
        "disks[0]: size and volume apply to pool disks, not to path",
    ),
    ("zero disk size", dict(disks=[dict(pool="p", size="0")]), "disks[0]: size must be larger than zero"),
    ("unreadable disk size", dict(disks=[dict(pool="p", size="ten")]), "disks[0]: size: cannot read size"),
    ("volume with a slash", dict(disks=[dict(pool="p", volume="a/b")]), "disks[0] volume name 'a/b' may only"),
    ("pool with ..", dict(disks=[dict(pool="..", volume="v")]), "disks[0] pool name '..' must not contain"),
    (
        "network and bridge",
        dict(networks=[dict(network="default", bridge="br0")]),
        "networks[0]: give one of network (a libvirt network), bridge (a host bridge) or type: user",
    ),
    ("type bridge with network", dict(networks=[dict(type="bridge", network="default")]), "give one of network"),
    ("type user with bridge", dict(networks=[dict(type="user", bridge="br0")]), "give one of network"),
    ("type bridge without a name", dict(networks=[dict(type="bridge")]), "networks[0]: type bridge needs bridge: <name>"),
    ("network name with <", dict(networks=[dict(network="<x>")]), "networks[0] network name '<x>' may only"),
    (
        "bad mac",
        dict(networks=[dict(network="default", mac="52:54:00:12:34")]),
        "networks[0]: mac '52:54:00:12:34' is not a MAC address like 52:54:00:12:34:56",
    ),
    ("mac with dashes", dict(networks=[dict(network="default", mac="52-54-00-12-34-56")]), "is not a MAC address"),
    (
        "multicast mac",
        dict(networks=[dict(network="default", mac="01:00:5e:00:00:01")]),
        "networks[0]: mac 01:00:5e:00:00:01 is a multicast address; a card needs a unicast one",
    ),
    (
        "all-zero mac",
        dict(networks=[dict(network="default", mac="00:00:00:00:00:00")]),
        "networks[0]: mac 00:00:00:00:00:00 is no card's address",
    ),
    (
        "card model with a space",
        dict(networks=[dict(network="default", model="no such model")]),
        "networks[0]: model 'no such model' is not a card model name like virtio or e1000e",
    ),
    (
        "graphics listen on a host name",
        dict(graphics=dict(type="vnc", listen="localhost")),
        "graphics.listen must be an IP address such as 127.0.0.1, not 'localhost'",
    ),
    (
        "duplicate macs",
        dict(networks=[dict(network="a", mac="52:54:00:12:34:56"), dict(network="b", mac="52:54:00:12:34:56")]),
        "networks: the same mac is given to more than one interface",
    ),
    (
        "duplicate macs in other case",
        dict(networks=[dict(network="a", mac="52:54:00:AB:CD:EF"), dict(network="b", mac="52:54:00:ab:cd:ef")]),
        "the same mac is given to more than one interface",
    ),
    (
        "vnc password of 9 characters",
        dict(graphics=dict(type="vnc", password="123456789")),
        "graphics.password for vnc is at most 8 characters long (got 9)",
    ),
    ("graphics port below 5900", dict(graphics=dict(type="vnc", port=5000)), "graphics.port must be between 5900 and 65535"),
    ("secure_boot without uefi", dict(secure_boot=True), "secure_boot needs firmware: uefi"),
    ("secure_boot with bios", dict(secure_boot=True, firmware="bios"), "secure_boot needs firmware: uefi"),
    ("memory 0", dict(memory="0"), "memory must be at least 1 MiB, not 0"),
    ("memory abc", dict(memory="abc"), "memory: cannot read size 'abc'"),
    ("memory below 1 MiB", dict(memory="512K"), "memory must be at least 1 MiB, not 512K"),
    ("negative memory", dict(memory="-1G"), "memory: a size cannot be negative"),
    # BREAK (fixed): planned (check mode said changed); the define failed with libvirt's numerical overflow.
    (
        "memory past libvirt's limit",
        dict(memory=9999999999999),
        "memory 9999999999999 is more than libvirt takes (9007199254740991 KiB at most)",
    ),
    ("memory past libvirt's limit as a size", dict(memory="8E"), "memory 8E is more than libvirt takes"),
    ("vcpus 0", dict(vcpus=0), "vcpus must be at least 1"),
    ("wait_timeout 0", dict(wait_timeout=0), "wait_timeout must be at least 1"),
    ("relative serial_log", dict(serial_log="web01.log"), "serial_log must be an absolute path on the host"),
    ("pxe with no networks", dict(install=PXE, networks=[]), "install method pxe needs a network interface (networks)"),
    (
        "import without disks",
        dict(install=dict(method="import")),
        "install method import boots an existing disk: give it in disks",
    ),
]


@pytest.mark.parametrize("params, message", [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS])
def test_from_params_refuses(params, message):
    """Each invalid parameter combination is refused before the host is read, with a message naming it."""
    with pytest.raises(PlanError) as error:
        request(**params)
    assert message in str(error.value)


def test_kickstart_schemes_pass_through_and_host_paths_are_injected():
    """A kickstart URL goes to the installer as it is; a host path is read on the host."""
    assert not request(install=dict(LOCATION, kickstart="nfs:srv:/ks.cfg")).install.kickstart_on_host
    assert not request(install=dict(LOCATION, kickstart="https://k/ks.cfg")).install.kickstart_on_host
    assert request(install=dict(LOCATION, kickstart="/srv/ks.cfg")).install.kickstart_on_host


@pytest.mark.parametrize(
    "location", ["http://m/os", "HTTPS://m/os", "ftp://m/os", "nfs://srv/export", "nfs:srv:/export", "/srv/tree"]
)
def test_accepted_locations(location):
    """Install trees over http(s), ftp, nfs or a host path are accepted."""
    assert request(install=dict(method="location", location=location)).install.location == location


# -- from_params: values -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "memory, expected",
    [
        ("512", 512 * MiB),
        (512, 512 * MiB),
        (" 2048 ", 2 * GiB),
        ("2G", 2 * GiB),
        ("2GiB", 2 * GiB),
        ("1536M", 1536 * MiB),
        ("1.5G", 1536 * MiB),
        ("2GB", 2 * 10**9 // 1024 * 1024),
        ("1048577B", MiB),
        (None, None),
    ],
)
def test_memory_parsing(memory, expected):
    """A bare number is MiB, text is a size; the result is bytes rounded down to whole KiB."""
    assert request(memory=memory).memory == expected


@pytest.mark.parametrize(
    "disks, targets",
    [
        ([dict(pool="p", size="1G"), dict(pool="p", size="1G")], ["vda", "vdb"]),
        ([dict(pool="p", size="1G", target="vdb"), dict(pool="p", size="1G"), dict(pool="p", size="1G")], ["vdb", "vda", "vdc"]),
        ([dict(pool="p", size="1G"), dict(pool="p", size="1G", target="vda")], ["vdb", "vda"]),
        (
            [dict(pool="p", size="1G", bus="sata"), dict(pool="p", size="1G"), dict(pool="p", size="1G", bus="scsi")],
            ["sda", "vda", "sdb"],
        ),
        ([dict(pool="p", size="1G", bus="ide"), dict(path="/dev/sdb", bus="ide")], ["hda", "hdb"]),
    ],
)
def test_target_auto_assignment(disks, targets):
    """Open targets take the first free name on their bus, after the explicit ones."""
    assert [disk.target for disk in request(disks=disks).disks] == targets


@pytest.mark.parametrize(
    "disks, volumes",
    [
        ([dict(pool="p", size="1G")], ["web01-disk0.qcow2"]),
        ([dict(pool="p", size="1G"), dict(pool="p", size="2G")], ["web01-disk0.qcow2", "web01-disk1.qcow2"]),
        ([dict(pool="p", size="1G", format="raw")], ["web01-disk0.img"]),
        ([dict(path="/srv/a.img"), dict(pool="p", size="1G")], [None, "web01-disk1.qcow2"]),
        ([dict(pool="p", size="1G", volume="mine.img")], ["mine.img"]),
    ],
)
def test_default_volume_names(disks, volumes):
    """A new volume without a name is called <guest>-disk<index> with the format's extension."""
    assert [disk.volume for disk in request(disks=disks).disks] == volumes


def test_networks_are_typed_and_macs_lowered():
    """type is inferred from network/bridge, the model defaults to virtio and MACs are lower case."""
    networks = request(
        networks=[dict(network="default", mac="52:54:00:AA:BB:CC"), dict(bridge="br0"), dict(type="user", model="e1000")]
    ).networks
    assert networks == (
        Interface("network", "default", "virtio", "52:54:00:aa:bb:cc"),
        Interface("bridge", "br0", "virtio", None),
        Interface("user", None, "e1000", None),
    )


@pytest.mark.parametrize(
    "graphics, expected",
    [
        (None, None),
        (dict(type="none"), ()),
        (dict(type="vnc", password="12345678"), "vnc 127.0.0.1 None"),
        (dict(type="spice", listen="0.0.0.0", port=5901, password="longer than eight"), "spice 0.0.0.0 5901"),
    ],
)
def test_graphics_parameters(graphics, expected):
    """graphics: unset, none (no console), or one console with libvirt picking the port by default."""
    result = request(graphics=graphics).graphics
    if isinstance(expected, str):
        consoles = ["%s %s %s" % (console.type, console.listen, console.port) for console in result or ()]
        assert consoles == [expected]
    else:
        assert result == expected


def test_unset_parameters_stay_unset():
    """None means "not set": nothing is filled in that would overwrite an existing guest's values."""
    req = request(domain_type="auto")
    assert (req.domain_type, req.memory, req.vcpus, req.disks, req.networks, req.graphics, req.autostart) == (
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert req.install.method is None and req.wait_timeout == 3600 and req.state == "present"


# -- new guests --------------------------------------------------------------------------------
NEW_DISK = [dict(pool="p", size="10G")]
NET = [dict(network="default")]
IMPORT_DISK = [dict(pool="p", volume="old.qcow2")]
IMPORTED = new_state(volume_disk(OLD))
CREATE = "virsh vol-create-as --pool p --name web01-disk0.qcow2 --capacity 10737418240 --allocation 0 --format qcow2"
NEW_GUESTS = [
    ("pxe", dict(install=PXE, networks=NET), new_state(), ["create", "define", "install"]),
    ("pxe, running without wait", dict(install=PXE, networks=NET, state="running"), new_state(), ["create", "define", "install"]),
    ("cdrom", dict(install=CDROM), new_state(), ["create", "define", "install"]),
    (
        "cdrom, wait, running",
        dict(install=CDROM, wait=True, state="running"),
        new_state(),
        ["create", "define", "install", "wait", "start"],
    ),
    ("cdrom, installed", dict(install=CDROM, state="installed"), new_state(), ["create", "define", "install", "wait"]),
    ("cdrom, wait, present", dict(install=CDROM, wait=True), new_state(), ["create", "define", "install", "wait"]),
    ("location", dict(install=LOCATION), new_state(tree=TREE), ["create", "fetch", "fetch", "define", "install"]),
    ("import", dict(install=dict(method="import"), disks=IMPORT_DISK), IMPORTED, ["define"]),
    ("import, running", dict(install=dict(method="import"), disks=IMPORT_DISK, state="running"), IMPORTED, ["define", "start"]),
    (
        "import, installed does not wait",
        dict(install=dict(method="import"), disks=IMPORT_DISK, state="installed"),
        IMPORTED,
        ["define"],
    ),
    (
        "import, grown",
        dict(install=dict(method="import"), disks=[dict(pool="p", volume="old.qcow2", size="9G")]),
        IMPORTED,
        ["resize", "define"],
    ),
    (
        "pxe, autostart",
        dict(install=PXE, networks=NET, autostart=True),
        new_state(),
        ["create", "define", "install", "autostart"],
    ),
    (
        "import, autostart, running",
        dict(install=dict(method="import"), disks=IMPORT_DISK, autostart=True, state="running"),
        IMPORTED,
        ["define", "autostart", "start"],
    ),
    ("pxe without disks", dict(install=PXE, networks=NET, disks=None), new_state(), ["define", "install"]),
    (
        "autostart false adds nothing",
        dict(install=PXE, networks=NET, autostart=False),
        new_state(),
        ["create", "define", "install"],
    ),
]


@pytest.mark.parametrize("params, state, expected", [case[1:] for case in NEW_GUESTS], ids=[case[0] for case in NEW_GUESTS])
def test_new_guest_plans(params, state, expected):
    """A new guest gets its volumes, the install (not for import), the final definition, then the extras."""
    params.setdefault("disks", NEW_DISK)
    plan = plan_guest(request(**params), state)
    assert verbs(plan) == expected
    assert plan.changed and not plan.destructive
    assert plan.before is None
    assert_valid("domain", plan.after)
    define = payload(plan, "define")
    assert define.new and define.domain.to_shown_xml() == plan.after


def test_pxe_plan_commands():
    """The plan shows the virsh command lines an admin would run by hand."""
    plan = plan_guest(request(install=PXE, networks=NET, disks=NEW_DISK, autostart=True), new_state())
    assert commands(plan) == [CREATE, "virsh define web01.xml", "virsh create web01-install.xml", "virsh autostart web01"]


def test_wait_and_start_commands():
    """wait polls the guest until its installer powers off, within wait_timeout; then it is started."""
    plan = plan_guest(request(install=CDROM, disks=NEW_DISK, wait=True, state="running"), new_state())
    assert commands(plan)[-2:] == [WAIT, "virsh start web01"]
    assert payload(plan, "wait").timeout == 3600
    short = plan_guest(request(install=CDROM, disks=NEW_DISK, state="installed", wait_timeout=60), new_state())
    assert commands(short)[-1].startswith("timeout 60 sh -c ")


def test_final_definition_boots_the_disk_and_install_definition_the_network():
    """pxe: the install definition boots network first and ends on reboot; the final one boots hd."""
    plan = plan_guest(request(install=PXE, networks=NET, disks=NEW_DISK, memory="2G", vcpus=2), new_state())
    final, install = payload(plan, "define").domain, payload(plan, "install").domain
    assert final.os.boot == ("hd",) and final.on_reboot is None
    assert install.os.boot == ("network", "hd") and install.on_reboot == "destroy"
    assert install.with_changes(os=final.os, on_reboot=None) == final
    assert (final.type, final.memory, final.vcpus, final.os.arch, final.os.firmware) == ("kvm", 2 * GiB, 2, "x86_64", "bios")
    assert final.serial_log.path == "/var/log/libvirt/qemu/web01-serial.log"
    assert [graphics.type for graphics in final.graphics] == ["vnc"]
    assert_valid("domain", install.to_xml())


def test_new_guest_defaults_follow_the_host():
    """Without domain_type the detected type is used; 1 GiB and 1 vcpu when memory and vcpus are unset."""
    plan = plan_guest(request(install=PXE, networks=NET, disks=NEW_DISK), new_state(detected_type="qemu"))
    final = payload(plan, "define").domain
    assert (final.type, final.memory, final.vcpus) == ("qemu", GiB, 1)
    assert final.disks[0].format == "qcow2" and final.disks[0].source_label == "p/web01-disk0.qcow2"


@pytest.mark.parametrize(
    "machine, bus, target", [(None, "ide", "hda"), ("pc", "ide", "hda"), ("q35", "sata", "sda"), ("pc-q35-8.2", "sata", "sda")]
)
def test_cdrom_install_attaches_the_media(machine, bus, target):
    """The cdrom joins the install definition only, on IDE for i440fx and SATA for q35, and boots first."""
    plan = plan_guest(request(install=CDROM, disks=NEW_DISK, machine=machine), new_state(media_format="raw"))
    final, install = payload(plan, "define").domain, payload(plan, "install").domain
    cdrom = install.disks[-1]
    assert (cdrom.device, cdrom.bus, cdrom.target, cdrom.source_label) == ("cdrom", bus, target, "iso/d.iso")
    assert install.disks[:-1] == final.disks and all(disk.device == "disk" for disk in final.disks)
    assert install.os.boot == ("cdrom", "hd")
    assert_valid("domain", install.to_xml())


def test_location_plan_fetches_kernel_and_initrd():
    """location: the host fetches kernel and initrd into boot_dir and boots them directly."""
    params = dict(install=dict(LOCATION, kickstart="http://k/ks.cfg", extra_args="console=ttyS0"), disks=NEW_DISK)
    plan = plan_guest(request(**params), new_state(tree=TREE))
    assert commands(plan)[1:3] == ["curl -fsSL -o %s %s" % (KERNEL, TREE.kernel), "curl -fsSL -o %s %s" % (INITRD, TREE.initrd)]
    kernel = payload(plan, "install").domain.os.kernel
    assert (kernel.kernel, kernel.initrd, kernel.cmdline) == (KERNEL, INITRD, "inst.ks=http://k/ks.cfg console=ttyS0")
    assert payload(plan, "define").domain.os.kernel is None


def test_location_from_a_host_path_copies():
    """A tree on the host is copied with cp into a boot_dir of the user's choice."""
    tree = InstallTree("debian", "/srv/tree/linux", "/srv/tree/initrd.gz")
    plan = plan_guest(
        request(install=dict(method="location", location="/srv/tree", boot_dir="/boot/x/"), disks=NEW_DISK), new_state(tree=tree)
    )
    assert commands(plan)[1:3] == [
        "cp /srv/tree/linux /boot/x/remotevirt-web01-kernel",
        "cp /srv/tree/initrd.gz /boot/x/remotevirt-web01-initrd",
    ]


def test_kickstart_content_is_injected_and_never_shown():
    """kickstart_content goes into the initrd; the plan shows its size, never its text."""
    secret = "rootpw --plaintext hunter2"
    plan = plan_guest(
        request(install=dict(LOCATION, kickstart_content=secret), disks=NEW_DISK),
        new_state(tree=TREE, kickstart_bytes=len(secret)),
    )
    assert commands(plan)[2] == "curl -fsSL -o %s %s  # + /ks.cfg (%d bytes) appended as a cpio archive" % (
        INITRD,
        TREE.initrd,
        len(secret),
    )
    assert payload(plan, "install").domain.os.kernel.cmdline == "inst.ks=file:/ks.cfg"
    shown = (
        repr(plan.actions) + repr(plan.summaries()) + plan.after + repr(request(install=dict(LOCATION, kickstart_content=secret)))
    )
    assert "hunter2" not in shown


def test_preseed_for_debian_trees():
    """A Debian tree takes a preseed: by URL, or injected as /preseed.cfg."""
    tree = InstallTree("debian", "http://m/linux", "http://m/initrd.gz")
    by_url = plan_guest(request(install=dict(LOCATION, kickstart="http://k/p.cfg"), disks=NEW_DISK), new_state(tree=tree))
    assert payload(by_url, "install").domain.os.kernel.cmdline == ("auto=true priority=critical preseed/url=http://k/p.cfg")
    injected = plan_guest(
        request(install=dict(LOCATION, kickstart="/srv/p.cfg"), disks=NEW_DISK), new_state(tree=tree, kickstart_bytes=10)
    )
    assert payload(injected, "install").domain.os.kernel.cmdline.endswith("preseed/file=/preseed.cfg")
    assert commands(injected)[2].endswith("# + /preseed.cfg (10 bytes) appended as a cpio archive")


def test_uefi_with_secure_boot():
    """firmware uefi lets libvirt pick the loader; secure boot turns on SMM."""
    plan = plan_guest(
        request(install=PXE, networks=NET, disks=NEW_DISK, firmware="uefi", secure_boot=True, machine="q35"), new_state()
    )
    assert 'firmware="efi"' in plan.after and '<smm state="on"/>' in plan.after
    assert_valid("domain", plan.after)


def test_vnc_password_is_masked_in_the_diff():
    """The console password reaches libvirt but never the diff."""
    plan = plan_guest(
        request(install=PXE, networks=NET, disks=NEW_DISK, graphics=dict(type="vnc", password="s3cret")), new_state()
    )
    assert "s3cret" not in plan.after and 'passwd="********"' in plan.after
    assert 'passwd="s3cret"' in payload(plan, "define").domain.to_xml()


NEW_REFUSALS = [
    (
        "no install method",
        dict(disks=NEW_DISK),
        new_state(),
        "guest web01 does not exist; set install.method (pxe, cdrom, location or import) to create it",
    ),
    ("pxe without networks", dict(install=PXE, disks=NEW_DISK), new_state(), "install method pxe needs a network"),
    (
        "missing volume without size",
        dict(install=dict(method="import"), disks=[dict(pool="p", volume="gone.qcow2")]),
        new_state(),
        "disks[0]: volume p/gone.qcow2 does not exist; give size to create it",
    ),
    (
        "volume larger than size",
        dict(install=dict(method="import"), disks=[dict(pool="p", volume="old.qcow2", size="4G")]),
        IMPORTED,
        "disks[0]: volume p/old.qcow2 is 8G, larger than size 4G; guest disks are never shrunk",
    ),
    (
        "volume of another format",
        dict(install=dict(method="import"), disks=[dict(pool="p", volume="old.qcow2", format="raw")]),
        IMPORTED,
        "disks[0]: volume p/old.qcow2 has format qcow2, not raw",
    ),
    (
        "disk larger than the pool",
        dict(install=PXE, networks=NET, disks=[dict(pool="p", size="60G")]),
        new_state(),
        "disks[0]: volume p/web01-disk0.qcow2 of 60G is larger than the 50G free in pool p",
    ),
]


@pytest.mark.parametrize("params, state, message", [case[1:] for case in NEW_REFUSALS], ids=[case[0] for case in NEW_REFUSALS])
def test_new_guest_refusals(params, state, message):
    """A new guest that cannot be made from what the host has is refused at planning."""
    with pytest.raises(PlanError) as error:
        plan_guest(request(**params), state)
    assert message in str(error.value)


# -- existing guests ---------------------------------------------------------------------------
EXISTING = [
    ("all fields match", dict(), stored_state(), []),
    (
        "nothing set",
        dict(memory=None, vcpus=None, disks=None, networks=None, graphics=None, serial_log=None, cpu=None),
        stored_state(),
        [],
    ),
    ("machine pc is stored as pc-i440fx-7.2", dict(machine="pc"), stored_state(), []),
    ("stored machine name", dict(machine="pc-i440fx-7.2"), stored_state(), []),
    ("memory as a number of MiB", dict(memory=1024), stored_state(), []),
    ("mac given as stored", dict(networks=[dict(network="default", mac=MAC.upper())]), stored_state(), []),
    ("install ignored on an existing guest", dict(install=PXE), stored_state(), []),
    ("running when active", dict(state="running"), stored_state(active=True), []),
    # An earlier run's install still runs (its job killed or out of time): never taken as installed.
    ("install still running, no wait", dict(state="running"), stored_state(active=True, installing=True), []),
    (
        "install still running, state installed waits for it",
        dict(state="installed", wait_timeout=60),
        stored_state(active=True, installing=True),
        ["timeout 60 sh -c 'until virsh domstate web01 | grep -q \"shut off\"; do sleep 5; done'"],
    ),
    (
        "install still running, wait waits for it, then starts",
        dict(state="running", wait=True, wait_timeout=60),
        stored_state(active=True, installing=True),
        ["timeout 60 sh -c 'until virsh domstate web01 | grep -q \"shut off\"; do sleep 5; done'", "virsh start web01"],
    ),
    ("same autostart", dict(autostart=True), stored_state(autostart=True), []),
    ("memory drift", dict(memory="2G"), stored_state(), ["virsh define web01.xml"]),
    ("vcpus drift", dict(vcpus=4), stored_state(), ["virsh define web01.xml"]),
    ("cpu drift", dict(cpu="host-passthrough"), stored_state(), ["virsh define web01.xml"]),
    ("graphics removed", dict(graphics=dict(type="none")), stored_state(), ["virsh define web01.xml"]),
    ("serial log moved", dict(serial_log="/srv/log/web01.log"), stored_state(), ["virsh define web01.xml"]),
    ("network changed", dict(networks=[dict(bridge="br0")]), stored_state(), ["virsh define web01.xml"]),
    ("second card", dict(networks=NET + [dict(type="user")]), stored_state(), ["virsh define web01.xml"]),
    ("start a shut-off guest", dict(state="running"), stored_state(), ["virsh start web01"]),
    ("autostart on", dict(autostart=True), stored_state(), ["virsh autostart web01"]),
    ("autostart off", dict(autostart=False), stored_state(autostart=True), ["virsh autostart --disable web01"]),
    (
        "drift, autostart and start in order",
        dict(memory="2G", autostart=True, state="running"),
        stored_state(),
        ["virsh define web01.xml", "virsh autostart web01", "virsh start web01"],
    ),
    (
        "disk grown",
        dict(disks=[dict(pool="p", volume="web01-disk0.qcow2", size="20G")]),
        stored_state(),
        ["virsh vol-resize --pool p web01-disk0.qcow2 21474836480"],
    ),
    ("same disk size", dict(disks=[dict(pool="p", size="10G")]), stored_state(), []),
    (
        "second disk",
        dict(disks=[dict(pool="p", size="10G"), dict(pool="p", size="1G")]),
        stored_state(volume_disk(DISK0), volume_disk()),
        [
            "virsh vol-create-as --pool p --name web01-disk1.qcow2 --capacity 1073741824 --allocation 0 --format qcow2",
            "virsh define web01.xml",
        ],
    ),
    (
        "disk swapped",
        dict(disks=[dict(pool="p", volume="old.qcow2")]),
        stored_state(volume_disk(OLD)),
        ["virsh define web01.xml"],
    ),
]


@pytest.mark.parametrize("params, state, expected", [case[1:] for case in EXISTING], ids=[case[0] for case in EXISTING])
def test_existing_guest_plans(params, state, expected):
    """An existing guest: only fields the user set are compared; drift is one define, never a reinstall."""
    plan = plan_guest(request(**{**MATCHING, **params}), state)
    assert commands(plan) == expected
    assert plan.changed == bool(expected) and not plan.destructive
    assert plan.before == state.existing.to_shown_xml()
    if "virsh define web01.xml" not in expected:
        assert plan.after == plan.before
    else:
        define = payload(plan, "define")
        assert not define.new and define.previous == state.existing
        assert define.previous_xml == STORED
        assert plan.after == define.domain.to_shown_xml() != plan.before


def test_password_change_is_planned_but_never_shown():
    """A new console password is a define; the diff masks both passwords, so it shows no difference."""
    plan = plan_guest(request(graphics=dict(type="vnc", password="other")), stored_state())
    assert commands(plan) == ["virsh define web01.xml"]
    assert plan.before == plan.after and 'passwd="********"' in plan.after
    assert "other" not in plan.after and "s3cret" not in plan.before
    assert payload(plan, "define").domain.graphics[0].password == "other"


def test_drift_keeps_everything_else():
    """A memory change leaves uuid, disks, cards, cdrom and graphics of the stored guest as they are."""
    state = stored_state()
    plan = plan_guest(request(**{**MATCHING, "memory": "2G"}), state)
    wanted = payload(plan, "define").domain
    assert wanted == state.existing.with_changes(memory=2 * GiB)
    assert wanted.uuid == "8f0e6c1e-4a0c-4b8e-9a55-0f1b2f0c9d11" and wanted.macs == (MAC,)


def test_network_change_keeps_the_mac_from_the_stored_card():
    """A changed card without a requested MAC keeps the stored card's MAC; a new extra card gets none."""
    plan = plan_guest(request(networks=[dict(bridge="br0"), dict(network="other")]), stored_state())
    assert payload(plan, "define").domain.interfaces == (
        Interface("bridge", "br0", "virtio", MAC),
        Interface("network", "other", "virtio", None),
    )


def test_requested_mac_replaces_the_stored_one():
    """A MAC the user sets wins over the stored one."""
    plan = plan_guest(request(networks=[dict(network="default", mac="52:54:00:00:00:01")]), stored_state())
    assert payload(plan, "define").domain.macs == ("52:54:00:00:00:01",)


def test_disks_keep_the_cdroms_of_the_stored_guest():
    """Set disks are the full set of disks; cdroms the user did not describe stay attached."""
    plan = plan_guest(request(disks=[dict(pool="p", volume="old.qcow2")]), stored_state(volume_disk(OLD)))
    disks = payload(plan, "define").domain.disks
    assert [(disk.target, disk.device, disk.source_label) for disk in disks] == [
        ("vda", "disk", "p/old.qcow2"),
        ("hdc", "cdrom", "/srv/iso/tools.iso"),
    ]


@pytest.mark.parametrize("active, expected", [(True, True), (False, False)])
def test_reboot_required_after_drift_of_an_active_guest(active, expected):
    """A running guest whose stored definition changed runs the old one until restarted."""
    state = stored_state(active=active)
    plan = plan_guest(request(memory="2G"), state)
    assert verbs(plan) == ["define"]
    assert reboot_required(plan, state) is expected


def test_no_reboot_required_without_drift_or_for_a_new_guest():
    """Only a changed stored definition of an existing running guest needs a reboot."""
    state = stored_state(active=True)
    assert not reboot_required(plan_guest(request(autostart=True), state), state)
    new = new_state(active=True)
    assert not reboot_required(plan_guest(request(install=PXE, networks=NET, disks=NEW_DISK), new), new)


def test_reboot_stays_required_until_the_guest_starts_again():
    """A later run without drift still reports the change an earlier run made to the running guest."""
    pending = stored_state(active=True, running_mark=Mark("d0"))
    assert reboot_required(plan_guest(request(), pending), pending)
    stopped = stored_state(active=False)
    assert not reboot_required(plan_guest(request(), stopped), stopped)
    reinstall = plan_guest(request(install=PXE, networks=NET, disks=NEW_DISK, reinstall=True), pending)
    assert "destroy" in verbs(reinstall) and not reboot_required(reinstall, pending)


def test_the_first_change_of_a_running_guest_marks_what_it_started_from():
    """The digest of the stored definition goes into the running guest's live metadata before the change;
    a later change keeps the first mark."""
    running = stored_state(active=True)
    define = payload(plan_guest(request(memory="2G"), running), "define")
    assert define.mark == Mark(definition_digest(STORED))
    marked = stored_state(active=True, running_mark=Mark("d0"))
    assert payload(plan_guest(request(memory="2G"), marked), "define").mark is None
    stopped = stored_state(active=False)
    assert payload(plan_guest(request(memory="2G"), stopped), "define").mark is None


def test_a_start_runs_the_stored_definition_unless_it_resumes_a_saved_guest():
    """A run that waits for an earlier run's install and then starts the guest boots its stored
    definition; a guest saved with virsh managedsave resumes the definition it was saved with."""
    installing = stored_state(active=True, installing=True, running_mark=Mark("d0"))
    plan = plan_guest(request(state="running", wait=True), installing)
    assert verbs(plan) == ["wait", "start"] and not reboot_required(plan, installing)
    saved = stored_state(active=False, resumes_saved=True, running_mark=Mark("d0"))
    plan = plan_guest(request(state="running"), saved)
    assert verbs(plan) == ["start"] and reboot_required(plan, saved)
    saved_unmarked = stored_state(active=False, resumes_saved=True)
    assert not reboot_required(plan_guest(request(state="running"), saved_unmarked), saved_unmarked)
    changed = plan_guest(request(state="running", memory="2G"), saved_unmarked)
    assert verbs(changed) == ["define", "start"] and reboot_required(changed, saved_unmarked)


FIXED = [
    ("machine", dict(machine="q35"), "machine (pc-i440fx-7.2, wanted q35)"),
    ("versioned machine", dict(machine="pc-i440fx-8.0"), "machine (pc-i440fx-7.2, wanted pc-i440fx-8.0)"),
    ("firmware", dict(firmware="uefi"), "firmware (bios, wanted uefi)"),
    ("arch", dict(arch="aarch64"), "arch (x86_64, wanted aarch64)"),
    ("domain_type", dict(domain_type="qemu"), "domain_type (kvm, wanted qemu)"),
    (
        "two at once",
        dict(machine="q35", firmware="uefi"),
        "differs in machine (pc-i440fx-7.2, wanted q35); firmware (bios, wanted uefi), which",
    ),
]


@pytest.mark.parametrize("params, message", [case[1:] for case in FIXED], ids=[case[0] for case in FIXED])
def test_fixed_fields_need_a_reinstall(params, message):
    """Platform fields of an existing guest are refused, pointing at reinstall; reinstall goes ahead."""
    with pytest.raises(PlanError) as error:
        plan_guest(request(**params), stored_state())
    assert message in str(error.value)
    assert str(error.value).startswith("guest web01 differs in ")
    assert "cannot be changed in place; set reinstall: true to install it again" in str(error.value)
    plan = plan_guest(request(reinstall=True, install=PXE, networks=NET, **params), stored_state())
    assert verbs(plan) == ["define", "install"]


@pytest.mark.parametrize(
    "wanted, actual, matches",
    [
        ("pc", "pc-i440fx-7.2", True),
        ("q35", "pc-q35-8.2", True),
        ("pc-q35-8.2", "pc-q35-8.2", True),
        ("pc", None, True),
        ("q35", "pc-i440fx-7.2", False),
        ("pc", "pc-q35-7.2", False),
        ("pc-i440fx-8.0", "pc-i440fx-7.2", False),
        ("virt", "virt-8.2", False),
    ],
)
def test_machine_matches(wanted, actual, matches):
    """libvirt stores the versioned machine; the alias given at install matches it."""
    assert machine_matches(wanted, actual) is matches


REINSTALLS = [
    (
        "active guest",
        dict(install=PXE, networks=NET, disks=NEW_DISK),
        stored_state(active=True),
        [("destroy", True), ("define", True), ("install", False)],
    ),
    ("shut-off guest", dict(install=PXE, networks=NET, disks=NEW_DISK), stored_state(), [("define", True), ("install", False)]),
    (
        "import, running",
        dict(install=dict(method="import"), disks=NEW_DISK, state="running"),
        stored_state(active=True),
        [("destroy", True), ("define", True), ("start", False)],
    ),
    (
        "storage kept",
        dict(install=dict(method="import"), disks=NEW_DISK, remove_storage=True),
        stored_state(),
        [("define", True)],
    ),
    (
        "disk grown on the way",
        dict(install=CDROM, disks=[dict(pool="p", size="20G")], wait=True),
        stored_state(),
        [("resize", False), ("define", True), ("install", False), ("wait", False)],
    ),
]


@pytest.mark.parametrize("params, state, expected", [case[1:] for case in REINSTALLS], ids=[case[0] for case in REINSTALLS])
def test_reinstall(params, state, expected):
    """reinstall: destroy (if running), then replace the stored definition under the guest's identity (UUID and
    MACs kept, never undefined, so the NVRAM stays and the previous definition can be put back) and install."""
    plan = plan_guest(request(reinstall=True, **params), state)
    assert [(action.verb, action.destructive) for action in plan.actions] == expected
    assert plan.destructive
    assert plan.before == state.existing.to_shown_xml()
    define = payload(plan, "define")
    assert define.new and define.domain.uuid == state.existing.uuid
    assert define.previous_xml == state.existing_xml
    assert not any("undefine" in command for command in commands(plan))


def test_reinstall_keeps_macs_by_position():
    """The reinstalled guest's cards keep the MACs the stored guest had."""
    plan = plan_guest(request(reinstall=True, install=PXE, networks=NET, disks=NEW_DISK), stored_state())
    kept = [iface.mac for iface in payload(plan, "define").domain.interfaces]
    assert kept == [iface.mac for iface in stored_state().existing.interfaces][: len(kept)]


def test_install_is_durable():
    """Once the install started, nothing before it is rolled back."""
    plan = plan_guest(request(install=CDROM, wait=True, state="running"), new_state())
    assert [action.verb for action in plan.actions if VERBS[action.verb].undo == DURABLE] == ["install"]


def test_transient_guest_is_refused_unless_reinstall():
    """A running guest without a definition is never adopted; reinstall destroys it and installs."""
    state = GuestState(transient=True, active=True, disks=new_state().disks)
    with pytest.raises(PlanError, match="running without a stored definition"):
        plan_guest(request(install=PXE, networks=NET), state)
    plan = plan_guest(request(install=PXE, networks=NET, reinstall=True), state)
    assert verbs(plan) == ["destroy", "define", "install"]
    assert plan_guest(request(state="absent"), GuestState(transient=True, active=True)).commands() == ["virsh destroy web01"]


ABSENT = [
    ("active", dict(), stored_state(active=True), ["virsh destroy web01", "virsh undefine --nvram web01"]),
    ("shut off", dict(), stored_state(), ["virsh undefine --nvram web01"]),
    (
        "remove_storage",
        dict(remove_storage=True),
        stored_state(storage=(("p", "web01-disk0.qcow2"), ("q", "d1"))),
        # The definition last: a removal stopped halfway leaves the re-run what is left to remove.
        ["virsh vol-delete --pool p web01-disk0.qcow2", "virsh vol-delete --pool q d1", "virsh undefine --nvram web01"],
    ),
    ("storage kept by default", dict(), stored_state(storage=(("p", "web01-disk0.qcow2"),)), ["virsh undefine --nvram web01"]),
    ("missing guest", dict(), GuestState(), []),
    ("missing guest, remove_storage", dict(remove_storage=True), GuestState(), []),
]


@pytest.mark.parametrize("params, state, expected", [case[1:] for case in ABSENT], ids=[case[0] for case in ABSENT])
def test_absent(params, state, expected):
    """absent destroys, undefines and (with remove_storage) deletes the guest's volumes; all destructive."""
    plan = plan_guest(request(state="absent", **params), state)
    assert commands(plan) == expected
    assert all(action.destructive for action in plan.actions)
    assert plan.after is None
    if state.existing is None:
        assert not plan.changed and plan.before is None
    else:
        assert plan.before == state.existing.to_shown_xml() and "s3cret" not in plan.before
        assert payload(plan, "undefine").guest == NAME


EXISTING_REFUSALS = [
    (
        "disk larger than size",
        dict(disks=[dict(pool="p", volume="web01-disk0.qcow2", size="5G")]),
        stored_state(),
        "disks[0]: volume p/web01-disk0.qcow2 is 10G, larger than size 5G; guest disks are never shrunk",
    ),
    (
        "missing disk volume",
        dict(disks=[dict(pool="p", volume="gone.qcow2")]),
        stored_state(volume_disk()),
        "disks[0]: volume p/gone.qcow2 does not exist; give size to create it",
    ),
    ("growth beyond the pool", dict(disks=[dict(pool="p", size="100G")]), stored_state(), "free in pool p"),
]


@pytest.mark.parametrize(
    "params, state, message", [case[1:] for case in EXISTING_REFUSALS], ids=[case[0] for case in EXISTING_REFUSALS]
)
def test_existing_guest_refusals(params, state, message):
    """Disks of an existing guest are grown, never shrunk, and must exist or be sized."""
    with pytest.raises(PlanError) as error:
        plan_guest(request(**params), state)
    assert message in str(error.value)


# -- the helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "wanted, actual, expected",
    [
        ((Interface("network", "a"),), (Interface("network", "b", mac="52:54:00:00:00:01"),), ("52:54:00:00:00:01",)),
        (
            (Interface("network", "a", mac="52:54:00:00:00:09"),),
            (Interface("network", "a", mac="52:54:00:00:00:01"),),
            ("52:54:00:00:00:09",),
        ),
        (
            (Interface("network", "a"), Interface("user")),
            (Interface("network", "a", mac="52:54:00:00:00:01"),),
            ("52:54:00:00:00:01", None),
        ),
        ((Interface("user"),), (), (None,)),
        ((), (Interface("network", "a", mac="52:54:00:00:00:01"),), ()),
        # The stored first card's MAC given to the second card: the first is not given it as well.
        (
            (Interface("network", "a"), Interface("network", "a", mac="52:54:00:00:00:01")),
            (Interface("network", "a", mac="52:54:00:00:00:01"),),
            (None, "52:54:00:00:00:01"),
        ),
    ],
)
def test_carry_macs(wanted, actual, expected):
    """Cards without a requested MAC take the MAC of the stored card at the same position, unless
    another card is given that MAC."""
    assert tuple(interface.mac for interface in carry_macs(wanted, actual)) == expected


@pytest.mark.parametrize("reinstall", [False, True], ids=["update", "reinstall"])
def test_a_stored_mac_given_to_another_card_is_not_carried_as_well(reinstall):
    """networks: [a card without a MAC, a card given the MAC the stored first card has] stores one card
    with that MAC, not two (the define, and the after that check mode shows)."""
    stored_mac = MAC.upper()  # as a hand-made definition may spell it
    params = {**MATCHING, "networks": [dict(network="default"), dict(network="default", mac=stored_mac)]}
    if reinstall:
        params.update(reinstall=True, install=PXE, disks=NEW_DISK)
    plan = plan_guest(request(**params), stored_state())
    macs = [interface.mac for interface in payload(plan, "define").domain.interfaces]
    assert macs == [None, MAC]
    assert plan.after.count(MAC) == 1


def test_wanted_definition_without_fields_is_the_actual_one():
    """Nothing set by the user means nothing to change."""
    actual = Domain.from_xml(STORED)
    assert wanted_definition(request(), actual, None) == actual


def test_stored_fixture_parses_as_expected():
    """The hand-written stored XML is valid libvirt XML and reads back as the guest the tables assume."""
    for xml in (STORED, TWO_DISKS, UEFI):
        assert_valid("domain", xml)
    actual = Domain.from_xml(STORED)
    assert (actual.type, actual.memory, actual.vcpus, actual.cpu_mode) == ("kvm", GiB, 2, "host-model")
    assert (actual.os.machine, actual.os.firmware, actual.macs) == ("pc-i440fx-7.2", "bios", (MAC,))
    assert actual.graphics[0].port is None and actual.graphics[0].password == "s3cret"


# -- known bugs ----------------------------------------------------------------------------------
TWO_DISKS = STORED.replace(
    "<source pool='p' volume='web01-disk0.qcow2'/>\n      <target dev='vda' bus='virtio'/>",
    "<source pool='p' volume='b.qcow2'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
    "    <disk type='volume' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
    "      <source pool='p' volume='a.qcow2'/>\n      <target dev='vdb' bus='virtio'/>",
)


def test_disk_order_of_the_request_is_not_drift():
    """disks [a on vdb, b on the next free target (vda)] is stored by libvirt as vda=b, vdb=a: no change."""
    assert [disk.target for disk in Domain.from_xml(TWO_DISKS).disks] == ["vda", "vdb", "hdc"]
    a = Volume(name="a.qcow2", capacity=GiB, format="qcow2")
    b = Volume(name="b.qcow2", capacity=GiB, format="qcow2")
    req = request(disks=[dict(pool="p", volume="a.qcow2", target="vdb"), dict(pool="p", volume="b.qcow2")])
    plan = plan_guest(req, stored_state(volume_disk(a), volume_disk(b), xml=TWO_DISKS))
    assert commands(plan) == []


def test_block_device_disk_is_raw():
    """A block device given by path without format is a raw disk of source type block."""
    plan = plan_guest(
        request(install=dict(method="import"), disks=[dict(path="/dev/vg/web01")]), new_state(DiskState(format="block"))
    )
    disk = payload(plan, "define").domain.disks[0]
    assert disk.block and disk.source_type == "block"
    assert disk.format == "raw"


UEFI = (
    STORED.replace("<os>", "<os firmware='efi'>")
    .replace(
        "<boot dev='hd'/>\n    <bios useserial='yes'/>",
        "<firmware>\n      <feature enabled='no' name='enrolled-keys'/>\n      <feature enabled='no' name='secure-boot'/>\n"
        "    </firmware>\n    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n"
        "    <nvram>/var/lib/libvirt/qemu/nvram/web01_VARS.fd</nvram>\n    <boot dev='hd'/>",
    )
    .replace("pc-i440fx-7.2", "pc-q35-7.2")
)


def test_secure_boot_on_an_existing_guest_is_not_silently_ignored():
    """Asking for secure boot on a UEFI guest without it is either refused (reinstall) or planned."""
    state = stored_state(xml=UEFI)
    assert state.existing.os.firmware == "uefi" and not state.existing.os.secure_boot
    try:
        plan = plan_guest(request(firmware="uefi", secure_boot=True, machine="q35"), state)
    except PlanError as error:
        assert "reinstall" in str(error)
    else:
        assert plan.changed


PATH_DISK = [dict(path="/srv/web01.img")]
RAW_PATH_XML = (
    STORED.replace("<source pool='p' volume='web01-disk0.qcow2'/>", "<source file='/srv/web01.img'/>")
    .replace("type='volume' device='disk'", "type='file' device='disk'")
    .replace("type='qcow2'", "type='raw'")
)


def test_a_stored_path_disk_keeps_its_format_whatever_its_content():
    """A guest that wrote a qcow2 header into its raw disk does not make the next run attach it as qcow2."""
    state = stored_state(DiskState(format="qcow2"), xml=RAW_PATH_XML)
    assert [disk.format for disk in state.existing.disks if disk.device == "disk"] == ["raw"]
    plan = plan_guest(request(disks=PATH_DISK), state)
    assert commands(plan) == []


def test_a_new_path_disk_is_raw_unless_told():
    """format as given, else raw; a file that holds a qcow2 image without format is refused, not guessed."""
    importing = dict(install=dict(method="import"))
    plan = plan_guest(request(disks=PATH_DISK, **importing), new_state(DiskState(format="raw")))
    assert payload(plan, "define").domain.disks[0].format == "raw"
    with pytest.raises(PlanError, match="formats are never guessed from a disk's content; set format: qcow2"):
        plan_guest(request(disks=PATH_DISK, **importing), new_state(DiskState(format="qcow2")))
    told = [dict(PATH_DISK[0], format="qcow2")]
    plan = plan_guest(request(disks=told, **importing), new_state(DiskState(format="qcow2")))
    assert payload(plan, "define").domain.disks[0].format == "qcow2"


def test_an_existing_volume_without_a_record_is_attached_as_read_and_its_format_recorded():
    """A volume another tool made is attached the first time as libvirt reads it, and that format is
    recorded on its file by the define, so a later guest reads it so whatever header it holds by then;
    told raw, it is read raw and used as it is."""
    importing = dict(install=dict(method="import"))
    given = [dict(pool="p", volume="old.qcow2")]
    guessed = DiskState(volume=VolumeState(POOL, existing=OLD), guessed_format="qcow2", unrecorded_path=OLD.path)
    plan = plan_guest(request(disks=given, **importing), new_state(guessed))
    define = payload(plan, "define")
    assert define.domain.disks[0].format == "qcow2" and define.records == ((OLD.path, "qcow2"),)
    plan = plan_guest(request(disks=[dict(given[0], format="raw")], **importing), new_state(guessed))
    assert payload(plan, "define").domain.disks[0].format == "raw" and payload(plan, "define").records == ((OLD.path, "raw"),)
    # recorded already (made or attached by this collection): nothing more to record
    plan = plan_guest(request(disks=given, **importing), new_state(volume_disk(OLD)))
    assert payload(plan, "define").records == ()
    # read raw, it is used as it is: grown, libvirt would change it as the format it reads; also when
    # the raw comes from the guest's definition, the re-run giving no format
    grown = [dict(given[0], format="raw", size="9G")]
    with pytest.raises(PlanError, match="volume p/old.qcow2 is read raw, but its content reads as qcow2"):
        plan_guest(request(disks=grown, **importing), new_state(guessed))
    raw_stored = DiskState(volume=VolumeState(POOL, existing=DISK0), guessed_format="qcow2")
    xml = STORED.replace("<driver name='qemu' type='qcow2'/>", "<driver name='qemu' type='raw'/>", 1)
    stored_grown = [dict(pool="p", volume="web01-disk0.qcow2", size="20G")]
    with pytest.raises(PlanError, match="volume p/web01-disk0.qcow2 is read raw, but its content reads as qcow2"):
        plan_guest(request(disks=stored_grown), stored_state(raw_stored, xml=xml))
    # the guest's own disk keeps the format its definition stores, whatever its content reads as now
    assert (
        commands(plan_guest(request(disks=[dict(pool="p", volume="web01-disk0.qcow2")]), stored_state(raw_stored, xml=xml))) == []
    )


# -- from_params: every string option checked before the host is read -----------------------------
VALIDATION_REFUSALS = [
    ("newline in the name", dict(name="web01\n"), "name: contains a control character (U+000A)"),
    (
        "NUL in extra_args",
        dict(install=dict(LOCATION, extra_args="console=ttyS0\x00")),
        "install.extra_args: contains a control character (U+0000)",
    ),
    ("newline in extra_args", dict(install=dict(LOCATION, extra_args="a\nb")), "install.extra_args: contains"),
    (
        "NUL in kickstart_content",
        dict(install=dict(LOCATION, kickstart_content="rootpw x\x00")),
        "install.kickstart_content: contains a control character (U+0000)",
    ),
    ("escape in machine", dict(machine="q35\x1b"), "machine: contains a control character (U+001B)"),
    ("machine with a space", dict(machine="pc q35"), "machine must be a name such as q35"),
    ("arch with a slash", dict(arch="x86/64"), "arch must be a name such as x86_64"),
    ("target with a newline", dict(disks=[dict(pool="p", size="1G", target="vda\n")]), "disks[0].target: contains"),
    ("mac with a newline", dict(networks=[dict(network="n", mac="52:54:00:12:34:56\n")]), "networks[0].mac: contains"),
    ("model with a newline", dict(networks=[dict(network="n", model="virtio\n")]), "networks[0].model: contains"),
    (
        "bridge longer than the kernel's limit",
        dict(networks=[dict(bridge="bridge-for-provisioning")]),
        "longer than the kernel's 15 bytes",
    ),
    ("unicode digits in vcpus", dict(vcpus="\u0663"), "vcpus must be a whole number written with the digits 0-9"),
    ("unicode digits in memory", dict(memory="\u0662\u0660\u0664\u0668"), "memory: cannot read size"),
    ("memory as a list", dict(memory=[2048]), "memory must be a number of MiB or a size"),
    ("unicode digits in the port", dict(graphics=dict(port="\u0665\u0669\u0660\u0660")), "graphics.port must be a whole"),
    ("unicode digits in listen", dict(graphics=dict(listen="\u0661\u0662\u0667.0.0.1")), "graphics.listen must be an IP"),
    ("relative boot_dir", dict(install=dict(LOCATION, boot_dir="boot")), "install.boot_dir must be an absolute path"),
    ("boot_dir with ..", dict(install=dict(LOCATION, boot_dir="/var/lib/../../etc")), "install.boot_dir must not contain '..'"),
    ("serial_log with ..", dict(serial_log="/var/log/../../etc/passwd"), "serial_log must not contain '..'"),
    ("disk path with ..", dict(disks=[dict(path="/srv/../etc/shadow")]), "disks[0]: path must not contain '..'"),
    (
        "relative cdrom path",
        dict(install=dict(method="cdrom", cdrom=dict(path="d.iso"))),
        "install.cdrom.path must be an absolute path",
    ),
    (
        "cdrom volume with a slash",
        dict(install=dict(method="cdrom", cdrom=dict(pool="iso", volume="a/d.iso"))),
        "install.cdrom volume name 'a/d.iso' may only contain",
    ),
    (
        "location with a space",
        dict(install=dict(method="location", location="http://m/os tree")),
        "install.location must not contain spaces",
    ),
    (
        "location without a host",
        dict(install=dict(method="location", location="http:///os")),
        "install.location must name a host",
    ),
    ("location with ..", dict(install=dict(method="location", location="/srv/../tree")), "must not contain '..'"),
    (
        "short nfs location without a path",
        dict(install=dict(method="location", location="nfs:srv")),
        "install.location must be like nfs://server/path or nfs:server:/path",
    ),
    ("relative kickstart", dict(install=dict(LOCATION, kickstart="ks.cfg")), "install.kickstart must be an absolute"),
    (
        "kickstart URL with a space",
        dict(install=dict(LOCATION, kickstart="http://k/ks file.cfg")),
        "install.kickstart must not contain spaces",
    ),
    ("kickstart URL without a host", dict(install=dict(LOCATION, kickstart="HTTP:ks.cfg")), "install.kickstart must name a host"),
    (
        "same volume twice",
        dict(disks=[dict(pool="p", volume="a.qcow2"), dict(pool="p", volume="a.qcow2")]),
        "disks[0] and disks[1] are both volume p/a.qcow2",
    ),
    (
        "a named volume equal to a default name",
        dict(disks=[dict(pool="p", size="1G"), dict(pool="p", volume="web01-disk0.qcow2")]),
        "disks[0] and disks[1] are both volume p/web01-disk0.qcow2",
    ),
    (
        "same path twice",
        dict(disks=[dict(path="/srv/a.img"), dict(path="/srv/a.img", bus="sata")]),
        "disks[0] and disks[1] are both /srv/a.img",
    ),
    (
        "a disk path that is the cdrom",
        dict(install=dict(method="cdrom", cdrom=dict(path="/srv/d.iso")), disks=[dict(path="/srv/d.iso")]),
        "disks[0] is the install cdrom /srv/d.iso too",
    ),
    (
        "a disk volume that is the cdrom",
        dict(install=CDROM, disks=[dict(pool="iso", volume="d.iso")]),
        "disks[0] is the install cdrom iso/d.iso too",
    ),
    (
        "a serial log that is a disk of the guest",
        dict(disks=[dict(path="/srv/d.img")], serial_log="/srv//./d.img"),
        "serial_log: /srv/d.img is also disks[0] of this guest",
    ),
    (
        "a serial log that is the install ISO",
        dict(install=dict(method="cdrom", cdrom=dict(path="/srv/d.iso")), serial_log="/srv/d.iso"),
        "serial_log: /srv/d.iso is also install.cdrom of this guest",
    ),
    ("tls uri without a port", dict(uri="qemu+tls://hv1/system"), "needs an explicit port for the tls transport"),
    ("uri with a newline", dict(uri="qemu:///system\n"), "uri: contains a control character"),
]


@pytest.mark.parametrize(
    "params, message", [entry[1:] for entry in VALIDATION_REFUSALS], ids=[entry[0] for entry in VALIDATION_REFUSALS]
)
def test_from_params_checks_every_string(params, message):
    with pytest.raises(PlanError) as error:
        request(**params)
    assert message in str(error.value)


def test_kickstart_content_may_hold_lines_and_tabs():
    assert request(install=dict(LOCATION, kickstart_content="rootpw x\n\tpart /\n")).install.kickstart_content


@pytest.mark.parametrize(
    "kickstart, on_host, given",
    [
        ("HTTP://k/ks.cfg", False, "http://k/ks.cfg"),
        ("Nfs:srv:/ks.cfg", False, "nfs:srv:/ks.cfg"),
        ("cdrom:/ks.cfg", False, "cdrom:/ks.cfg"),
        ("hd:sdb1:/ks.cfg", False, "hd:sdb1:/ks.cfg"),
        ("/srv/ks.cfg", True, "/srv/ks.cfg"),
    ],
)
def test_kickstart_schemes_are_case_insensitive(kickstart, on_host, given):
    """HTTP://k/ks.cfg is a URL for the installer (given to it in lower case), not a host path."""
    install = request(install=dict(LOCATION, kickstart=kickstart)).install
    assert (install.kickstart_on_host, install.kickstart) == (on_host, given)


def test_fetch_commands_never_show_url_credentials():
    """The plan's command lines mask the user information; the fetch payload keeps the real URL."""
    tree = InstallTree("redhat", "http://u:Pw-9@m/os/images/pxeboot/vmlinuz", "NFS://u:Pw-9@m/os/initrd.img")
    plan = plan_guest(
        request(install=dict(method="location", location="http://u:Pw-9@m/os"), disks=NEW_DISK), new_state(tree=tree)
    )
    assert commands(plan)[1:3] == [
        "curl -fsSL -o %s 'http://***@m/os/images/pxeboot/vmlinuz'" % KERNEL,
        "nfs-cp 'NFS://***@m/os/initrd.img' %s" % INITRD,
    ]
    assert "Pw-9" not in " ".join(commands(plan))
    assert payload(plan, "fetch").source == tree.kernel


# -- URL credentials and boot_dir ------------------------------------------------------------------------
def test_location_credentials_are_used_never_shown():
    """url_username shows as curl's -u (which would prompt for the password); user information in the
    tree's URLs is masked; the password only travels in the payloads."""
    tree = InstallTree("redhat", "https://bob:pw@m/os/images/pxeboot/vmlinuz", "https://bob:pw@m/os/images/pxeboot/initrd.img")
    plan = plan_guest(
        request(
            install=dict(LOCATION, location="https://bob:pw@m/os"), url_username="alice", url_password="s3cret", disks=NEW_DISK
        ),
        new_state(tree=tree),
    )
    assert commands(plan)[1:3] == [
        "curl -fsSL -u alice -o %s 'https://***@m/os/images/pxeboot/vmlinuz'" % KERNEL,
        "curl -fsSL -u alice -o %s 'https://***@m/os/images/pxeboot/initrd.img'" % INITRD,
    ]
    fetch = payload(plan, "fetch")
    assert (fetch.username, fetch.password, fetch.source) == ("alice", "s3cret", tree.kernel)
    shown = repr(plan) + repr(plan.summaries()) + plan.after + repr(request(install=LOCATION, url_password="s3cret"))
    assert "s3cret" not in shown and "bob:pw" not in shown


def test_kickstart_url_credentials_are_masked_in_shown_definitions():
    plan = plan_guest(request(install=dict(LOCATION, kickstart="https://k:pw@c/ks.cfg"), disks=NEW_DISK), new_state(tree=TREE))
    install = payload(plan, "install").domain
    # The host fetches a kickstart behind a login into the initrd: its URL is in no definition.
    assert "k:pw" not in install.to_xml() and "inst.ks=file:/ks.cfg" in install.to_xml()
    assert "k:pw" not in install.to_shown_xml()


def test_missing_boot_dir_is_made_0711_first():
    plan = plan_guest(
        request(install=dict(LOCATION, boot_dir="/srv/boot"), disks=NEW_DISK), new_state(tree=TREE, boot_dir_exists=False)
    )
    assert commands(plan)[1] == "install -d -m 0711 /srv/boot && curl -fsSL -o /srv/boot/remotevirt-web01-kernel %s" % (
        TREE.kernel
    )
    assert not commands(plan)[2].startswith("install")


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(install=dict(LOCATION, boot_dir="boot")), "install.boot_dir must be an absolute path"),
        (dict(install=dict(method="location", location="/srv/tree"), url_username="a"), "http, https or ftp install.location"),
        (dict(install=PXE, url_password="x"), "http, https or ftp install.location"),
        (dict(url_username="a"), "apply to install.location"),
    ],
)
def test_credentials_and_boot_dir_refusals(params, message):
    with pytest.raises(PlanError, match=message):
        request(**params)


@pytest.mark.parametrize("size, capacity", [("1GB", 1000000512), ("500MB", 500000768), (1000, 1024)])
def test_disk_size_in_other_units_converges(size, capacity):
    """libvirt stored the qcow2 disk in whole KiB: the same size asked again is no shrink and no change."""
    existing = DISK0.with_changes(capacity=capacity)
    params = {**MATCHING, "disks": [dict(pool="p", volume="web01-disk0.qcow2", size=size)]}
    assert plan_guest(request(**params), stored_state(volume_disk(existing))).actions == []


def test_a_kickstart_url_with_credentials_is_fetched_by_the_host_and_injected():
    """Credentials never reach the kernel command line, which any libvirt client can read."""
    url = "https://ksuser:Ks-Pass-0rd@config.example.com/ks.cfg"
    plan = plan_guest(request(install=dict(LOCATION, kickstart=url)), new_state(tree=TREE, kickstart_bytes=42))
    install = payload(plan, "install").domain
    assert "inst.ks=file:/ks.cfg" in install.os.kernel.cmdline
    assert "Ks-Pass-0rd" not in repr(install.os.kernel.cmdline) and "Ks-Pass-0rd" not in repr(plan.summaries())
    assert any("appended as a cpio archive" in command for command in commands(plan))
    plain = plan_guest(request(install=dict(LOCATION, kickstart="https://config.example.com/ks.cfg")), new_state(tree=TREE))
    assert "inst.ks=https://config.example.com/ks.cfg" in payload(plain, "install").domain.os.kernel.cmdline


def test_a_kickstart_url_with_a_token_in_its_query_is_fetched_by_the_host_and_injected():
    url = "https://config.example.com/ks.cfg?token=Tok3n-S3cret"
    plan = plan_guest(request(install=dict(LOCATION, kickstart=url)), new_state(tree=TREE, kickstart_bytes=42))
    assert "inst.ks=file:/ks.cfg" in payload(plan, "install").domain.os.kernel.cmdline
    assert "Tok3n-S3cret" not in repr(plan.summaries())


# == hostile and careless inputs (each a way found to break a promise) =========================
# web01 stored with a raw volume disk: what the collection defines for a raw volume.
STORED_RAW = STORED.replace(
    "<driver name='qemu' type='qcow2'/>\n      <source pool='p' volume='web01-disk0.qcow2'/>",
    "<driver name='qemu' type='raw'/>\n      <source pool='p' volume='web01-disk0.qcow2'/>",
)
# The same volume as a directory pool reports it after its guest wrote a qcow2 header into it:
# libvirt probes the format of every file in the pool on refresh.
GUEST_WRITTEN = Volume(
    name="web01-disk0.qcow2",
    capacity=10 << 30,
    format="qcow2",
    path="/srv/p/web01-disk0.qcow2",
    backing_path="/etc/shadow",
    backing_format="raw",
)


def test_stored_raw_volume_disk_is_what_the_fixture_says():
    disks = [disk for disk in Domain.from_xml(STORED_RAW).disks if disk.device == "disk"]
    assert [disk.format for disk in disks] == ["raw"]


def test_rerun_keeps_the_stored_format_of_a_volume_disk_the_guest_rewrote():
    plan = plan_guest(request(**MATCHING), stored_state(volume_disk(GUEST_WRITTEN), xml=STORED_RAW))
    assert plan.actions == [], [action.command_line for action in plan.actions]
    assert 'type="qcow2"' not in (plan.after or "")


# BREAK (fixed): a re-run with another disk format redefined the guest to read its qcow2 volume as
# raw (check mode and the real run said changed; the next run converged on it): the guest's first
# write would destroy the image.
def test_a_disk_the_guest_has_keeps_its_format():
    other = {**MATCHING, "disks": [{**MATCHING["disks"][0], "format": "raw"}]}
    with pytest.raises(
        PlanError, match="guest web01 has this disk as qcow2, not raw; the guest would read its data in another format"
    ):
        plan_guest(request(**other), stored_state(volume_disk(DISK0)))
    with pytest.raises(PlanError, match="has this disk as raw, not qcow2"):
        plan_guest(
            request(**{"disks": [{**PATH_DISK[0], "format": "qcow2"}]}), stored_state(DiskState(format="raw"), xml=RAW_PATH_XML)
        )
    with pytest.raises(PlanError, match="has this disk as qcow2, not raw"):
        plan_guest(request(**{**other, "reinstall": True, "install": {"method": "import"}}), stored_state(volume_disk(DISK0)))


def test_a_disk_given_its_stored_format_or_none_is_unchanged():
    plan = plan_guest(request(**MATCHING), stored_state(volume_disk(DISK0)))
    assert plan.actions == []
    told = {**MATCHING, "disks": [{**MATCHING["disks"][0], "format": "qcow2"}]}
    assert plan_guest(request(**told), stored_state(volume_disk(DISK0))).actions == []


# -- cloud_init, boot and wait_for ---------------------------------------------------------------
USER_SECRET = "Cl0ud-User-Secret"
CLOUD = dict(
    install=dict(method="import"),
    disks=[dict(pool="p", volume="web01-disk0.qcow2")],
    networks=[dict(network="default")],
    cloud_init=dict(user_data=dict(password=USER_SECRET)),
)
SEED = "/var/lib/libvirt/boot/remotevirt-web01-cidata.iso"


def test_cloud_init_first_boot_plan():
    """Seed, define, first boot (the stored definition without the seed), then the wait for an address."""
    plan = plan_guest(request(state="running", wait_for=dict(source="lease"), **CLOUD), new_state(volume_disk(DISK0)))
    assert verbs(plan) == ["seed", "define", "install", "wait"]
    assert commands(plan)[0].startswith("cloud-localds %s user-data meta-data  # seed ISO %s, " % (SEED, SEED))
    seed = payload(plan, "seed")
    assert seed.path == SEED and len(seed.image) % 2048 == 0
    first_boot = payload(plan, "install").domain
    assert first_boot.on_reboot is None  # cloud-init may reboot: the seed stays for that reboot
    assert [(disk.device, disk.path, disk.bus) for disk in first_boot.disks if disk.device == "cdrom"] == [("cdrom", SEED, "ide")]
    stored = payload(plan, "define").domain
    assert all(disk.device == "disk" for disk in stored.disks)
    assert stored.metadata.cloud_init == request(**CLOUD).cloud_init.fingerprint
    assert payload(plan, "wait").reachable.source == "lease"
    assert "virsh domifaddr --source lease web01" in commands(plan)[-1]


def test_cloud_init_secret_is_in_no_plan_text():
    plan = plan_guest(request(state="running", **CLOUD), new_state(volume_disk(DISK0)))
    shown = repr(plan) + repr(plan.summaries()) + (plan.after or "") + repr([a.payload for a in plan.actions])
    assert USER_SECRET not in shown


def test_cloud_init_seed_makes_boot_dir_when_missing():
    plan = plan_guest(request(**CLOUD), new_state(volume_disk(DISK0), boot_dir_exists=False))
    assert commands(plan)[0].startswith("install -d -m 0711 /var/lib/libvirt/boot && cloud-localds ")


def test_state_present_with_cloud_init_starts_the_first_boot():
    assert verbs(plan_guest(request(**CLOUD), new_state(volume_disk(DISK0)))) == ["seed", "define", "install"]


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(CLOUD, install=dict(method="pxe")), "needs install.method: import"),
        (dict(CLOUD, state="installed"), "use state: running"),
        (dict(CLOUD, wait_for=dict()), "needs state: running"),
        (dict(CLOUD, state="running", wait_for=dict(port=70000)), "at most 65535"),
        (dict(CLOUD, state="running", wait_for=dict(ip=False, port=22)), "needs wait_for.ip"),
        (dict(CLOUD, state="running", wait_for=dict(marker="(")), "not a regular expression"),
        (dict(CLOUD, boot=dict(initrd="/boot/initrd")), "need boot.kernel"),
        (dict(CLOUD, boot=dict(kernel="vmlinuz")), "absolute path"),
    ],
)
def test_cloud_init_and_wait_for_refusals(params, message):
    with pytest.raises(PlanError, match=message):
        request(**params)


def test_changed_cloud_init_on_an_existing_guest_is_not_applied():
    """cloud-init reads its seed at the first boot only: a changed cloud_init plans nothing."""
    params = dict(MATCHING, cloud_init=dict(user_data=dict(hostname="other")))
    assert plan_guest(request(**params), stored_state()).actions == []


def test_leftover_seed_is_removed_once_the_first_boot_is_over():
    plan = plan_guest(request(**MATCHING), stored_state(seed_file=SEED))
    assert [(action.verb, action.kind, action.command_line) for action in plan.actions] == [
        ("remove", "seed ISO", "rm -f " + SEED)
    ]
    absent = plan_guest(request(state="absent"), stored_state(seed_file=SEED))
    assert ("remove", "seed ISO") in [(action.verb, action.kind) for action in absent.actions]


def test_starting_a_stopped_guest_waits_for_it_and_a_running_one_plans_no_wait():
    params = dict(MATCHING, state="running", wait_for=dict(marker="login:"))
    stopped = plan_guest(request(**params), stored_state(serial_log_offset=1234))
    assert verbs(stopped) == ["start", "wait"]
    wait = payload(stopped, "wait")
    assert wait.reachable.log_offset == 1234 and wait.reachable.serial_log == "/var/log/libvirt/qemu/web01-serial.log"
    assert "tail -c +1235 /var/log/libvirt/qemu/web01-serial.log | grep -qE login:" in commands(stopped)[-1]
    assert plan_guest(request(**params), stored_state(active=True)).actions == []


def test_boot_sets_direct_kernel_boot_of_the_stored_definition():
    boot = dict(kernel="/srv/k/vmlinuz", initrd="/srv/k/initrd.img", cmdline="root=/dev/vda console=ttyS0")
    plan = plan_guest(
        request(boot=boot, install=dict(method="import"), disks=[dict(pool="p", volume="web01-disk0.qcow2")]),
        new_state(volume_disk(DISK0)),
    )
    kernel = payload(plan, "define").domain.os.kernel
    assert (kernel.kernel, kernel.initrd, kernel.cmdline) == (boot["kernel"], boot["initrd"], boot["cmdline"])
    assert_valid("domain", payload(plan, "define").domain.to_xml())
    changed = plan_guest(request(boot=boot, **MATCHING), stored_state())
    assert verbs(changed) == ["define"] and payload(changed, "define").domain.os.kernel.kernel == "/srv/k/vmlinuz"


REMOTE = "qemu+ssh://root@hv1:2222/system?keyfile=/k/id"
VIRSH_REMOTE = "virsh -c 'qemu+ssh://root@hv1:2222/system?keyfile=/k/id'"


def test_remote_uri_commands_name_the_connection():
    """Over another URI every virsh of the plan, the disk's volume and the wait loop included,
    connects to it: the preview runs as it is from where the module ran."""
    plan = plan_guest(request(uri=REMOTE, install=CDROM, disks=NEW_DISK, wait=True, state="running"), new_state())
    assert commands(plan) == [
        CREATE.replace("virsh", VIRSH_REMOTE, 1),
        VIRSH_REMOTE + " define web01.xml",
        VIRSH_REMOTE + " create web01-install.xml",
        "timeout 3600 sh -c %s" % shlex.quote('until %s domstate web01 | grep -q "shut off"; do sleep 5; done' % VIRSH_REMOTE),
        VIRSH_REMOTE + " start web01",
    ]
    removal = plan_guest(request(uri=REMOTE, state="absent", remove_storage=True), stored_state(active=True))
    assert all(command.startswith(VIRSH_REMOTE + " ") for command in commands(removal))


def test_the_wait_of_a_guest_whose_console_is_logged_by_libvirt_reads_that_log():
    """A pty console with <log file> (a guest made by hand): the wait reads the log a start's boot
    mark and a re-run's wait read, not the default file that guest never writes."""
    log = "/var/log/remotevirt-test/web01-console.log"
    xml = re.sub(
        r"<serial type=.file.>.*?</console>",
        "<serial type='pty'><log file='%s' append='on'/><target port='0'/></serial>" % log,
        STORED,
        flags=re.S,
    )
    assert "<serial type='file'>" not in xml and log in xml
    params = {key: value for key, value in MATCHING.items() if key != "serial_log"}
    stopped = plan_guest(request(**dict(params, state="running", wait_for=dict(marker="login:"))), stored_state(xml=xml))
    assert payload(stopped, "wait").reachable.serial_log == log
    assert "tail -c +1 %s | grep -qE login:" % log in commands(stopped)[-1]

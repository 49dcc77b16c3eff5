"""Guest XML builders: schema-valid output, round trips, reading libvirt's decorated XML, patching."""

from __future__ import annotations

import difflib
import os

import pytest
from lxml import etree

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import (
    final_definition,
    install_definition,
    wanted_definition,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse, serialize
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import (
    DirectKernel,
    Disk,
    Domain,
    Graphics,
    GuestMetadata,
    Interface,
    OsBoot,
    SerialLog,
    next_target,
    patch_definition,
)
from conftest import assert_valid

GiB = 1 << 30

# What libvirt 9.0 (QEMU 7.2, Debian 12) stores for WEB below: `virsh dumpxml --inactive --security-info`
# after `virsh define` of WEB.to_xml() with machine "pc". libvirt added the UUID, the versioned machine,
# MACs, PCI/drive addresses, controllers, the emulator, inputs, audio, video, the balloon, a default
# <cpu>, <clock> and the on_* lifecycle defaults.
LIBVIRT_XML = fixtures.read(__file__, "web-stored.xml")

WEB = Domain(
    name="web",
    type="qemu",
    memory=GiB,
    vcpus=2,
    os=OsBoot(arch="x86_64", machine="pc", firmware="bios"),
    disks=(
        Disk(target="vda", pool="default", volume="web.qcow2", format="qcow2"),
        Disk(target="vdb", path="/var/lib/libvirt/images/data.img"),
        Disk(target="hda", bus="ide", device="cdrom", path="/var/lib/libvirt/images/boot.iso"),
    ),
    interfaces=(Interface(type="network", source="default"), Interface(type="user")),
    graphics=(Graphics(type="vnc", password="secret"),),
    serial_log=SerialLog("/var/log/libvirt/qemu/web-serial.log"),
)

# WEB as libvirt reports it: the values libvirt filled into managed fields (identity, versioned machine, MACs).
WEB_STORED = WEB.with_changes(
    uuid="57f0fa53-fbd6-4832-9967-4004eb50bda9",
    os=WEB.os.with_changes(machine="pc-i440fx-7.2"),
    interfaces=(
        Interface(type="network", source="default", mac="52:54:00:44:4e:60"),
        Interface(type="user", mac="52:54:00:7d:9e:48"),
    ),
)

# A running guest (`virsh dumpxml --security-info`): aliases, a domain id, the tap device, the network
# port, source indexes, an empty <backingStore/>, seclabels and the port libvirt picked for VNC.
LIBVIRT_LIVE_XML = fixtures.read(__file__, "pxe1-live.xml")

# A q35 UEFI guest with secure boot, as libvirt 9.0 stores it once started (loader and NVRAM filled in).
LIBVIRT_UEFI_XML = fixtures.read(__file__, "secure-uefi-stored.xml")


def normalised(xml):
    """``xml`` in the form patch_definition writes: re-parsed and pretty printed, nothing else changed."""
    return serialize(parse(xml))


def device(xml, tag, **attrs):
    """The one ``devices/<tag>`` element of ``xml`` whose children carry the given attributes, serialized;
    ``target__dev="vda"`` means a child <target dev='vda'>."""
    wanted = [key.split("__") + [value] for key, value in attrs.items()]
    matches = [
        etree.tostring(element, encoding="unicode")
        for element in parse(xml).iterfind("devices/" + tag)
        if all(element.find(child) is not None and element.find(child).get(name) == value for child, name, value in wanted)
    ]
    assert len(matches) == 1, "expected one <%s> with %s, found %d" % (tag, attrs, len(matches))
    return matches[0]


def guest(**fields):
    fields.setdefault("name", "g")
    return Domain(**fields)


# -- every builder writes schema-valid XML -----------------------------------------------------------------
SHAPES = {
    "minimal": guest(),
    "bios with serial bios output": guest(
        type="qemu", memory=GiB, vcpus=1, os=OsBoot(arch="x86_64", machine="pc", firmware="bios")
    ),
    "uefi": guest(os=OsBoot(arch="x86_64", machine="q35", firmware="uefi")),
    "uefi secure boot": guest(os=OsBoot(arch="x86_64", machine="q35", firmware="uefi", secure_boot=True)),
    "boot order": guest(os=OsBoot(boot=("network", "cdrom", "hd"))),
    "direct kernel": guest(
        os=OsBoot(kernel=DirectKernel("/var/lib/libvirt/boot/k", "/var/lib/libvirt/boot/i", "inst.ks=file:/ks.cfg console=ttyS0"))
    ),
    "direct kernel without initrd and cmdline": guest(os=OsBoot(kernel=DirectKernel("/boot/vmlinuz"))),
    "cpu mode": guest(cpu_mode="host-passthrough"),
    "volume disk": guest(disks=(Disk(target="vda", pool="default", volume="g.qcow2", format="qcow2"),)),
    "file disk": guest(disks=(Disk(target="vda", path="/var/lib/libvirt/images/g.img"),)),
    "block disk": guest(disks=(Disk(target="sda", bus="sata", path="/dev/vg0/g", block=True),)),
    "scsi disk": guest(disks=(Disk(target="sda", bus="scsi", path="/srv/g.img"),)),
    "ide cdrom file": guest(disks=(Disk(target="hda", bus="ide", device="cdrom", path="/srv/iso/d.iso"),)),
    "sata cdrom volume": guest(disks=(Disk(target="sdb", bus="sata", device="cdrom", pool="isos", volume="d.iso"),)),
    "network interface": guest(interfaces=(Interface(type="network", source="default"),)),
    "network interface with mac": guest(interfaces=(Interface(type="network", source="default", mac="52:54:00:12:34:56"),)),
    "bridge interface": guest(interfaces=(Interface(type="bridge", source="br0", model="e1000"),)),
    "bridge interface with mac": guest(interfaces=(Interface(type="bridge", source="br0", mac="52:54:00:ab:cd:ef"),)),
    "user interface": guest(interfaces=(Interface(type="user"),)),
    "user interface with mac": guest(interfaces=(Interface(type="user", mac="52:54:00:00:00:01"),)),
    "vnc autoport": guest(graphics=(Graphics(type="vnc"),)),
    "vnc port and password": guest(graphics=(Graphics(type="vnc", port=5901, password="pw"),)),
    "spice autoport": guest(graphics=(Graphics(type="spice", listen="0.0.0.0"),)),
    "spice port and password": guest(graphics=(Graphics(type="spice", port=5930, password="long spice pw"),)),
    "no graphics": guest(graphics=()),
    "serial log": guest(serial_log=SerialLog("/var/log/libvirt/qemu/g-serial.log")),
    "on_reboot destroy": guest(on_reboot="destroy"),
    "everything": WEB.with_changes(uuid="57f0fa53-fbd6-4832-9967-4004eb50bda9", cpu_mode="host-model", on_reboot="destroy"),
}


@pytest.mark.parametrize("domain", SHAPES.values(), ids=SHAPES.keys())
def test_built_xml_is_valid(domain):
    """Every builder's output, alone and combined, is accepted by libvirt's domain schema."""
    assert_valid("domain", domain.to_xml())
    assert_valid("domain", domain.to_shown_xml())


def test_uefi_asks_libvirt_for_firmware_and_secure_boot_needs_smm():
    """UEFI uses firmware auto-selection; secure boot turns on the keys, the feature and SMM."""
    plain = etree.fromstring(guest(os=OsBoot(firmware="uefi")).to_xml())
    assert plain.find("os").get("firmware") == "efi"
    assert [(f.get("name"), f.get("enabled")) for f in plain.iterfind("os/firmware/feature")] == [
        ("enrolled-keys", "no"),
        ("secure-boot", "no"),
    ]
    assert plain.find("features/smm") is None
    assert plain.find("os/bios") is None  # no SeaBIOS under UEFI
    secure = etree.fromstring(guest(os=OsBoot(firmware="uefi", secure_boot=True)).to_xml())
    assert [(f.get("name"), f.get("enabled")) for f in secure.iterfind("os/firmware/feature")] == [
        ("enrolled-keys", "yes"),
        ("secure-boot", "yes"),
    ]
    assert secure.find("features/smm").get("state") == "on"


def test_bios_guests_print_their_boot_to_the_serial_port():
    """SeaBIOS output goes to the serial port (and so to the serial log)."""
    root = etree.fromstring(guest(os=OsBoot(firmware="bios")).to_xml())
    assert root.find("os/bios").get("useserial") == "yes"
    assert root.find("os").get("firmware") is None


def test_direct_kernel_replaces_the_boot_order():
    """With a kernel, <kernel>/<initrd>/<cmdline> are written and no <boot dev>."""
    root = etree.fromstring(guest(os=OsBoot(boot=("hd",), kernel=DirectKernel("/k", "/i", "ks"))).to_xml())
    assert [(child.tag, child.text) for child in root.find("os")][1:4] == [("kernel", "/k"), ("initrd", "/i"), ("cmdline", "ks")]
    assert root.find("os/boot") is None


def test_cdrom_is_readonly_and_disk_is_not():
    cdrom = etree.fromstring(Disk(target="hda", bus="ide", device="cdrom", path="/d.iso").to_xml())
    disk = etree.fromstring(Disk(target="vda", path="/d.img").to_xml())
    assert cdrom.find("readonly") is not None
    assert disk.find("readonly") is None


def test_graphics_port_and_autoport():
    """No port: libvirt picks one (autoport); a port: fixed, autoport off. The listen address is written twice."""
    auto = etree.fromstring(Graphics(type="vnc").to_xml())
    fixed = etree.fromstring(Graphics(type="spice", port=5905, listen="0.0.0.0").to_xml())
    assert (auto.get("autoport"), auto.get("port"), auto.get("listen")) == ("yes", None, "127.0.0.1")
    assert (fixed.get("autoport"), fixed.get("port")) == ("no", "5905")
    assert fixed.find("listen").attrib == {"type": "address", "address": "0.0.0.0"}


# -- round trips -------------------------------------------------------------------------------------------
ROUND_TRIPS = {
    "bios": Domain(
        name="a", type="kvm", memory=2 * GiB, vcpus=2, os=OsBoot(arch="x86_64", machine="pc", firmware="bios"), graphics=()
    ),
    "uefi": Domain(name="b", type="qemu", os=OsBoot(arch="x86_64", machine="q35", firmware="uefi"), graphics=()),
    "uefi secure boot": Domain(
        name="c", type="kvm", os=OsBoot(machine="pc-q35-7.2", firmware="uefi", secure_boot=True), graphics=()
    ),
    "direct kernel": Domain(
        name="d",
        type="qemu",
        on_reboot="destroy",
        graphics=(),
        os=OsBoot(firmware="bios", boot=(), kernel=DirectKernel("/b/k", "/b/i", "auto=true priority=critical")),
    ),
    "network boot": Domain(name="e", type="kvm", os=OsBoot(firmware="bios", boot=("network", "hd")), graphics=()),
    "everything": Domain(
        name="web",
        type="kvm",
        uuid="57f0fa53-fbd6-4832-9967-4004eb50bda9",
        memory=3 * GiB,
        vcpus=4,
        cpu_mode="host-model",
        os=OsBoot(arch="x86_64", machine="pc-i440fx-7.2", firmware="bios", boot=("cdrom", "hd")),
        disks=(
            Disk(target="vda", pool="default", volume="web.qcow2", format="qcow2"),
            Disk(target="vdb", path="/srv/data.img"),
            Disk(target="sda", bus="sata", path="/dev/vg0/web", block=True),
            Disk(target="sdb", bus="scsi", path="/srv/scsi.img"),
            Disk(target="hda", bus="ide", device="cdrom", path="/srv/d.iso"),
            Disk(target="sdc", bus="sata", device="cdrom", pool="isos", volume="d.iso"),
        ),
        interfaces=(
            Interface(type="network", source="default", mac="52:54:00:12:34:56"),
            Interface(type="bridge", source="br0", model="e1000"),
            Interface(type="user"),
        ),
        graphics=(Graphics(type="vnc", port=5901, password="pw"), Graphics(type="spice", listen="0.0.0.0")),
        serial_log=SerialLog("/var/log/web.log"),
        on_reboot="destroy",
    ),
}


@pytest.mark.parametrize("domain", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip(domain):
    """What the builders write reads back as the same object, and writing it again gives the same text."""
    xml = domain.to_xml()
    assert Domain.from_xml(xml) == domain
    assert Domain.from_xml(xml).to_xml() == xml


@pytest.mark.parametrize(
    "item",
    [
        Disk(target="vdc", pool="p", volume="v.qcow2", format="qcow2"),
        Disk(target="sda", bus="sata", path="/dev/sdz", block=True),
        Disk(target="hdc", bus="ide", device="cdrom", path="/iso"),
        Interface(type="network", source="n", mac="52:54:00:00:00:aa"),
        Interface(type="bridge", source="br1", model="rtl8139"),
        Interface(type="user"),
        Graphics(type="vnc"),
        Graphics(type="spice", listen="::1", port=6000, password="x"),
    ],
    ids=repr,
)
def test_device_round_trip(item):
    """Each device builder reads back its own element."""
    assert type(item).from_element(item.to_element()) == item


def test_unset_fields_read_back_as_libvirt_defaults():
    """Fields left to libvirt come back with what the XML implies: kvm, bios, no graphics."""
    assert Domain.from_xml(Domain(name="x").to_xml()) == Domain(name="x", type="kvm", os=OsBoot(firmware="bios"), graphics=())


def test_not_a_domain_is_refused():
    with pytest.raises(XmlError, match="expected <domain>"):
        Domain.from_xml("<network><name>x</name></network>")


# -- reading libvirt's XML ---------------------------------------------------------------------------------
def test_libvirt_schema_accepts_the_sample_xml():
    """The samples are real libvirt output (guards against typos in the fixtures)."""
    for xml in (LIBVIRT_XML, LIBVIRT_LIVE_XML, LIBVIRT_UEFI_XML):
        assert_valid("domain", xml)


def test_stored_xml_reads_as_the_managed_fields():
    """Addresses, controllers, the emulator, inputs, video, audio and the balloon are not read; the
    managed fields read back as defined, with the values libvirt filled in (UUID, machine, MACs)."""
    assert Domain.from_xml(LIBVIRT_XML) == WEB_STORED


def test_libvirt_default_cpu_and_on_reboot_are_not_drift():
    """A guest defined without cpu mode and on_reboot reads back without them: libvirt's defaults
    for unset fields are not drift (domain.py's docstring: comparing finds real drift only)."""
    assert Domain.from_xml(LIBVIRT_XML) == WEB_STORED


def test_live_xml_reads_as_the_managed_fields():
    """Aliases, the tap device, network port ids, seclabels and the picked VNC port are not read;
    MACs are lower-cased."""
    assert Domain.from_xml(LIBVIRT_LIVE_XML) == Domain(
        name="pxe1",
        type="qemu",
        uuid="2f804401-458d-41dd-923a-1330c6528269",
        memory=256 << 20,
        vcpus=1,
        cpu_mode="host-passthrough",
        os=OsBoot(arch="x86_64", machine="pc-i440fx-7.2", firmware="bios", boot=("network", "hd")),
        disks=(Disk(target="hda", bus="ide", device="cdrom", path="/var/lib/libvirt/images/mini.iso"),),
        interfaces=(Interface(type="network", source="pxe", mac="52:54:00:fd:94:8e"),),
        graphics=(Graphics(type="vnc", password="s3cret"),),
        serial_log=SerialLog("/var/log/libvirt/qemu/pxe1-serial.log"),
        on_reboot="destroy",
    )


def test_uefi_xml_reads_as_the_managed_fields():
    """Loader and NVRAM are libvirt's; firmware and secure boot are read; a pty serial is no serial log."""
    assert Domain.from_xml(LIBVIRT_UEFI_XML) == Domain(
        name="secure",
        type="kvm",
        uuid="b174c307-b581-4250-a989-2a2e955bd90f",
        memory=2 * GiB,
        vcpus=4,
        cpu_mode="host-model",
        os=OsBoot(arch="x86_64", machine="pc-q35-7.2", firmware="uefi", secure_boot=True),
        disks=(
            Disk(target="sda", bus="sata", path="/dev/vg0/secure", block=True),
            Disk(target="sdb", bus="sata", device="cdrom", pool="isos", volume="alma-9.iso"),
        ),
        interfaces=(Interface(type="bridge", source="br0", model="e1000", mac="52:54:00:12:34:56"),),
        graphics=(Graphics(type="spice", listen="0.0.0.0", port=5905),),
        serial_log=None,
        on_reboot=None,
    )


def test_legacy_uefi_loader_without_firmware_attribute_is_uefi():
    """Guests defined with an explicit pflash loader (no firmware='efi') read as UEFI; secure='yes' as secure boot."""
    xml = (
        "<domain type='kvm'><name>old</name><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type>"
        "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>"
        "<boot dev='hd'/></os></domain>"
    )
    assert Domain.from_xml(xml).os == OsBoot(arch="x86_64", machine="pc-q35-7.2", firmware="uefi", secure_boot=True)


def test_graphics_listen_from_child_when_attribute_missing():
    """A <graphics> whose address is only in its <listen> child still reads the address."""
    element = etree.fromstring("<graphics type='vnc' port='-1'><listen type='address' address='10.0.0.1'/></graphics>")
    assert Graphics.from_element(element) == Graphics(type="vnc", listen="10.0.0.1")


def test_macs_lists_each_interface_in_order():
    assert WEB_STORED.macs == ("52:54:00:44:4e:60", "52:54:00:7d:9e:48")
    assert WEB.macs == (None, None)


# -- passwords ---------------------------------------------------------------------------------------------
def test_shown_xml_masks_the_graphics_password():
    """Diffs and logs never carry the VNC/SPICE password; the XML sent to libvirt does."""
    domain = WEB.with_changes(
        graphics=(Graphics(type="vnc", password="hunter2"), Graphics(type="spice", port=5930, password="sp1ce"))
    )
    shown, sent = domain.to_shown_xml(), domain.to_xml()
    assert "hunter2" not in shown and "sp1ce" not in shown
    assert shown.count('passwd="********"') == 2
    assert 'passwd="hunter2"' in sent and 'passwd="sp1ce"' in sent
    assert "hunter2" not in repr(domain)
    # Masking changes nothing else.
    assert shown == sent.replace("hunter2", "********").replace("sp1ce", "********")


def test_shown_xml_without_password_has_no_passwd():
    assert "passwd" not in WEB.with_changes(graphics=(Graphics(type="vnc"),)).to_shown_xml()


# -- next_target -------------------------------------------------------------------------------------------
def test_next_target_counts_like_the_kernel():
    """vda..vdz, then vdaa, vdab, ... (the kernel's disk names)."""
    taken = []
    for _index in range(28):
        taken.append(next_target("virtio", taken))
    assert taken[:3] == ["vda", "vdb", "vdc"]
    assert taken[25:] == ["vdz", "vdaa", "vdab"]


@pytest.mark.parametrize(
    "bus, taken, expected",
    [
        ("virtio", [], "vda"),
        ("virtio", ["vda", "vdc"], "vdb"),
        ("virtio", {"vda", "vdb", "sda"}, "vdc"),
        ("virtio", ["vd" + chr(c) for c in range(ord("a"), ord("z") + 1)], "vdaa"),
        ("sata", [], "sda"),
        ("sata", ["vda", "sda"], "sdb"),
        ("scsi", ["sda", "sdb"], "sdc"),
        ("ide", [], "hda"),
        ("ide", ["hda", "sda", "vda"], "hdb"),
    ],
)
def test_next_target(bus, taken, expected):
    """The first free name with the bus's prefix (vd, sd, hd); names taken on other buses do not matter."""
    assert next_target(bus, taken) == expected


def test_next_target_gives_up_after_two_letters():
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    taken = {"vd" + a for a in letters} | {"vd" + a + b for a in letters for b in letters}
    with pytest.raises(XmlError, match="no free disk target on bus virtio"):
        next_target("virtio", taken)


# -- patch_definition --------------------------------------------------------------------------------------
PREVIOUS = Domain.from_xml(LIBVIRT_XML)


def changed_lines(before, after):
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def test_patch_without_changes_keeps_everything():
    """Nothing wanted differs: the stored XML comes back as it was (only re-serialized)."""
    assert patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS) == normalised(LIBVIRT_XML)


def test_patch_memory_changes_only_memory():
    """A memory change rewrites <memory> and <currentMemory>; UUID, addresses, controllers and every
    other byte stay as libvirt stored them."""
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS.with_changes(memory=2 * GiB))
    expected = (
        normalised(LIBVIRT_XML)
        .replace('<memory unit="KiB">1048576</memory>', '<memory unit="KiB">2097152</memory>')
        .replace('<currentMemory unit="KiB">1048576</currentMemory>', '<currentMemory unit="KiB">2097152</currentMemory>')
    )
    assert patched == expected
    assert len(changed_lines(normalised(LIBVIRT_XML), patched)) == 4  # two lines out, two in
    assert_valid("domain", patched)
    assert Domain.from_xml(patched) == PREVIOUS.with_changes(memory=2 * GiB)


def test_patch_vcpus_keeps_placement():
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS.with_changes(vcpus=4))
    assert changed_lines(normalised(LIBVIRT_XML), patched) == [
        '-  <vcpu placement="static">2</vcpu>',
        '+  <vcpu placement="static">4</vcpu>',
    ]


def test_patch_cpu_mode_replaces_the_cpu_element():
    """libvirt's custom CPU model goes; the wanted mode comes; nothing else changes."""
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS.with_changes(cpu_mode="host-passthrough"))
    root = parse(patched)
    assert [cpu.attrib for cpu in root.findall("cpu")] == [{"mode": "host-passthrough"}]
    assert_valid("domain", patched)
    assert Domain.from_xml(patched) == PREVIOUS.with_changes(cpu_mode="host-passthrough")


def test_patch_one_disk_keeps_the_others_with_their_addresses():
    """Replacing vdb drops its old element only; vda and the cdrom keep their elements byte for byte."""
    new_vdb = Disk(target="vdb", pool="default", volume="data.qcow2", format="qcow2")
    wanted = PREVIOUS.with_changes(disks=(PREVIOUS.disks[0], new_vdb, PREVIOUS.disks[2]))
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    assert device(patched, "disk", target__dev="vda") == device(LIBVIRT_XML, "disk", target__dev="vda")
    assert device(patched, "disk", target__dev="hda") == device(LIBVIRT_XML, "disk", target__dev="hda")
    vdb = parse(device(patched, "disk", target__dev="vdb"))
    assert Disk.from_element(vdb) == new_vdb
    assert vdb.find("address") is None  # libvirt assigns one on define
    assert "/var/lib/libvirt/images/data.img" not in patched
    # Everything outside the disks is untouched.
    assert parse(patched).findtext("uuid") == "57f0fa53-fbd6-4832-9967-4004eb50bda9"
    for tag in ("controller", "interface", "video", "memballoon", "input", "graphics", "serial", "console"):
        assert [etree.tostring(e) for e in parse(patched).iterfind("devices/" + tag)] == [
            etree.tostring(e) for e in parse(LIBVIRT_XML).iterfind("devices/" + tag)
        ]
    assert_valid("domain", patched)
    assert sorted(Domain.from_xml(patched).disks, key=repr) == sorted(wanted.disks, key=repr)


def test_patch_interface_change_carries_the_mac():
    """networks changed from network 'default' to bridge br0 without a MAC: the card keeps the MAC
    libvirt generated, and the unchanged user card keeps its element and PCI address."""
    request = GuestRequest.from_params({"name": "web", "networks": [{"bridge": "br0"}, {"type": "user"}]})
    wanted = wanted_definition(request, PREVIOUS, None)
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    bridge = parse(device(patched, "interface", source__bridge="br0"))
    assert Interface.from_element(bridge) == Interface(type="bridge", source="br0", mac="52:54:00:44:4e:60")
    assert device(patched, "interface", mac__address="52:54:00:7d:9e:48") == device(
        LIBVIRT_XML, "interface", mac__address="52:54:00:7d:9e:48"
    )
    assert 'network="default"' not in patched
    assert_valid("domain", patched)


def test_patch_interface_change_keeps_the_card_order():
    """The patched XML reads back as wanted (same card order), so a second identical run changes nothing."""
    request = GuestRequest.from_params({"name": "web", "networks": [{"bridge": "br0"}, {"type": "user"}]})
    wanted = wanted_definition(request, PREVIOUS, None)
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    again = Domain.from_xml(patched)
    assert again.interfaces == wanted.interfaces
    assert wanted_definition(request, again, None) == again


def test_patch_adding_an_interface_keeps_the_existing_ones():
    wanted = PREVIOUS.with_changes(interfaces=PREVIOUS.interfaces + (Interface(type="bridge", source="br1"),))
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    for mac in PREVIOUS.macs:
        assert device(patched, "interface", mac__address=mac) == device(LIBVIRT_XML, "interface", mac__address=mac)
    assert Domain.from_xml(patched).interfaces == wanted.interfaces  # appended last: order holds here


def test_patch_removing_graphics_keeps_video_and_inputs():
    """graphics: none removes every <graphics>; the video card and inputs libvirt added stay."""
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS.with_changes(graphics=()))
    root = parse(patched)
    assert root.find("devices/graphics") is None
    assert root.find("devices/video") is not None and len(root.findall("devices/input")) == 2
    assert len(changed_lines(normalised(LIBVIRT_XML), patched)) == 3  # the <graphics>, its <listen>, </graphics>
    assert_valid("domain", patched)
    assert Domain.from_xml(patched) == PREVIOUS.with_changes(graphics=())


def test_patch_changing_graphics_writes_the_new_password():
    wanted = PREVIOUS.with_changes(graphics=(Graphics(type="spice", port=5930, password="n3w"),))
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    assert Domain.from_xml(patched).graphics == wanted.graphics
    assert 'passwd="n3w"' in patched and "secret" not in patched


def test_patch_serial_log_moves_both_serial_and_console():
    """A new serial log path replaces the serial port and its console, each exactly once."""
    wanted = PREVIOUS.with_changes(serial_log=SerialLog("/srv/logs/web.log"))
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, wanted)
    root = parse(patched)
    assert [s.find("source").attrib for s in root.findall("devices/serial")] == [{"path": "/srv/logs/web.log", "append": "on"}]
    assert [c.find("source").attrib for c in root.findall("devices/console")] == [{"path": "/srv/logs/web.log", "append": "on"}]
    assert "web-serial.log" not in patched
    assert_valid("domain", patched)
    assert Domain.from_xml(patched) == wanted


def test_patch_removing_serial_log():
    patched = patch_definition(LIBVIRT_XML, PREVIOUS, PREVIOUS.with_changes(serial_log=None))
    assert parse(patched).find("devices/serial") is None and parse(patched).find("devices/console") is None
    assert_valid("domain", patched)


# -- golden files: the definitions of each install method ----------------------------------------------------
# REMOTEVIRT_UPDATE_GOLDEN=1 rewrites them from the code; review the diff before committing it.
GOLDEN_DIR = golden.folder(__file__)
TREE_URL = "http://mirror.example.org/almalinux/9/BaseOS/x86_64/os/"

# method: (module parameters, install tree, the final definition's disks as the planner makes them)
GOLDEN_CASES = {
    "pxe": (
        {
            "name": "pxe1",
            "memory": 2048,
            "vcpus": 2,
            "disks": [{"pool": "default", "size": "20G"}],
            "networks": [{"network": "default"}],
            "install": {"method": "pxe"},
        },
        None,
        (Disk(target="vda", pool="default", volume="pxe1-disk0.qcow2", format="qcow2"),),
    ),
    "cdrom_volume": (
        {
            "name": "cdvol",
            "memory": "4G",
            "vcpus": 2,
            "cpu": "host-passthrough",
            "machine": "q35",
            "firmware": "uefi",
            "secure_boot": True,
            "disks": [{"pool": "default", "volume": "cdvol.qcow2"}, {"pool": "default", "size": "100G", "bus": "sata"}],
            "networks": [{"bridge": "br0", "mac": "52:54:00:AA:BB:01"}],
            "graphics": {"type": "spice", "password": "s3cret"},
            "install": {"method": "cdrom", "cdrom": {"pool": "isos", "volume": "debian-12.5.0-amd64-netinst.iso"}},
        },
        None,
        (
            Disk(target="vda", pool="default", volume="cdvol.qcow2", format="qcow2"),
            Disk(target="sda", bus="sata", pool="default", volume="cdvol-disk1.qcow2", format="qcow2"),
        ),
    ),
    "cdrom_path": (
        {
            "name": "cdpath",
            "domain_type": "kvm",
            "disks": [{"path": "/dev/vg0/cdpath"}],
            "networks": [{"type": "user"}],
            "graphics": {"type": "vnc", "listen": "0.0.0.0", "port": 5901, "password": "vncpw"},
            "serial_log": "/var/log/guests/cdpath.log",
            "install": {"method": "cdrom", "cdrom": {"path": "/srv/iso/AlmaLinux-9-latest-x86_64-minimal.iso"}},
        },
        None,
        (Disk(target="vda", path="/dev/vg0/cdpath", block=True),),
    ),
    "location": (
        {
            "name": "loc1",
            "memory": "3G",
            "arch": "x86_64",
            "disks": [{"pool": "default", "size": "10G", "format": "raw"}],
            "networks": [{"network": "default", "mac": "52:54:00:12:34:56"}],
            "graphics": {"type": "none"},
            "install": {
                "method": "location",
                "location": TREE_URL,
                "kickstart": "http://ks.example.org/alma9.ks",
                "extra_args": "console=ttyS0,115200n8",
            },
        },
        InstallTree(family="redhat", kernel=TREE_URL + "images/pxeboot/vmlinuz", initrd=TREE_URL + "images/pxeboot/initrd.img"),
        (Disk(target="vda", pool="default", volume="loc1-disk0.img", format="raw"),),
    ),
    "import": (
        {
            "name": "imported",
            "memory": "512M",
            "disks": [
                {"path": "/var/lib/libvirt/images/imported.qcow2", "format": "qcow2"},
                {"pool": "default", "volume": "imported-data.img", "bus": "scsi"},
            ],
            "networks": [{"network": "default"}, {"bridge": "br0", "model": "e1000"}],
            "install": {"method": "import"},
        },
        None,
        (
            Disk(target="vda", path="/var/lib/libvirt/images/imported.qcow2", format="qcow2"),
            Disk(target="sda", bus="scsi", pool="default", volume="imported-data.img"),
        ),
    ),
    "import_cloud_init": (
        {
            "name": "cloud1",
            "memory": "512M",
            "machine": "q35",
            "disks": [{"pool": "default", "volume": "cloud1.qcow2"}],
            "networks": [{"network": "default"}],
            "install": {"method": "import"},
            "cloud_init": {"user_data": {"hostname": "cloud1"}, "meta_data": {"instance-id": "cloud1-1"}},
        },
        None,
        (Disk(target="vda", pool="default", volume="cloud1.qcow2", format="qcow2"),),
    ),
}


def golden_definitions(method):
    """{"install": Domain, "final": Domain} (import: only "final") planned for GOLDEN_CASES[method]."""
    params, tree, disks = GOLDEN_CASES[method]
    request = GuestRequest.from_params(params)
    # The disks given are the ones the request describes (same targets, buses and sources).
    assert [(d.target, d.bus, d.pool, d.volume, d.path) for d in request.disks] == [
        (d.target, d.bus, d.pool, d.volume, d.path) for d in disks
    ]
    state = GuestState(detected_type="qemu", media_format="raw", tree=tree)
    final = final_definition(request, state, disks)
    if method == "import":
        return {"final": final}
    return {"install": install_definition(request, state, final), "final": final}


GOLDEN_FILES = [
    (method, phase)
    for method in GOLDEN_CASES
    for phase in ("install", "final")
    if not (method == "import" and phase == "install")
]
INSTALLERS = [method for method in GOLDEN_CASES if not method.startswith("import")]


def golden_path(method, phase):
    return os.path.join(GOLDEN_DIR, "%s-%s.xml" % (method, phase))


@pytest.mark.parametrize("method, phase", GOLDEN_FILES, ids=["%s-%s" % case for case in GOLDEN_FILES])
def test_definition_matches_golden_file(method, phase):
    """The planner's definition is exactly the reviewed golden file, and that file is schema-valid."""
    xml = golden_definitions(method)[phase].to_xml()
    assert_valid("domain", golden.compare(golden_path(method, phase), xml))


def test_golden_files_are_all_known():
    """No stale golden file lingers for a case that is gone."""
    expected = sorted("%s-%s.xml" % case for case in GOLDEN_FILES)
    assert sorted(name for name in os.listdir(GOLDEN_DIR) if name.endswith(".xml")) == expected


@pytest.mark.parametrize("method", INSTALLERS)
def test_install_definition_boots_the_media(method):
    """The install definition boots the media once (on_reboot destroy): network first for pxe,
    cdrom first (and attached) for cdrom, a fetched kernel for location."""
    params = GOLDEN_CASES[method][0]
    install = Domain.from_xml(golden_definitions(method)["install"].to_xml())
    assert install.on_reboot == "destroy"
    cdroms = [disk for disk in install.disks if disk.device == "cdrom"]
    if method == "pxe":
        assert install.os.boot == ("network", "hd") and install.os.kernel is None and not cdroms
    elif method.startswith("cdrom"):
        assert install.os.boot == ("cdrom", "hd") and install.os.kernel is None
        media = params["install"]["cdrom"]
        assert [(d.pool, d.volume, d.path) for d in cdroms] == [(media.get("pool"), media.get("volume"), media.get("path"))]
        assert cdroms[0].bus == ("sata" if params.get("machine") == "q35" else "ide")
    else:
        assert install.os.boot == () and not cdroms
        assert install.os.kernel == DirectKernel(
            "/var/lib/libvirt/boot/remotevirt-loc1-kernel",
            "/var/lib/libvirt/boot/remotevirt-loc1-initrd",
            "inst.ks=http://ks.example.org/alma9.ks console=ttyS0,115200n8",
        )


@pytest.mark.parametrize("method", list(GOLDEN_CASES))
def test_final_definition_boots_the_disk(method):
    """The stored definition boots hd, has no cdrom, no kernel, and reboots normally."""
    definitions = golden_definitions(method)
    final = Domain.from_xml(definitions["final"].to_xml())
    assert final.os.boot == ("hd",) and final.os.kernel is None
    assert all(disk.device == "disk" for disk in final.disks)
    assert final.on_reboot is None
    if "install" in definitions:
        # Install and final differ in boot media and on_reboot only.
        install = definitions["install"]
        assert (
            install.with_changes(on_reboot=None, os=definitions["final"].os, disks=install.disks[: len(final.disks)])
            == definitions["final"]
        )


def test_first_boot_of_a_cloud_image_adds_the_seed_and_restarts_on_reboot():
    """The live definition of the first boot has the seed as a read-only cdrom and libvirt's default
    on_reboot (cloud-init may reboot); the stored one has no seed but the fingerprint in its metadata."""
    definitions = golden_definitions("import_cloud_init")
    first_boot = Domain.from_xml(definitions["install"].to_xml())
    final = Domain.from_xml(definitions["final"].to_xml())
    assert first_boot.on_reboot is None and first_boot.os.boot == ("hd",)
    assert [(disk.device, disk.bus, disk.target, disk.path) for disk in first_boot.disks][1:] == [
        ("cdrom", "sata", "sda", "/var/lib/libvirt/boot/remotevirt-cloud1-cidata.iso")
    ]
    assert "<readonly/>" in definitions["install"].to_xml()
    request = GuestRequest.from_params(GOLDEN_CASES["import_cloud_init"][0])
    assert final.metadata.cloud_init == request.cloud_init.fingerprint
    assert first_boot.with_changes(disks=first_boot.disks[:1]) == final


def test_metadata_is_replaced_in_place_and_others_kept():
    """patch_definition rewrites the collection's own metadata element only."""
    previous_xml = (
        '<domain type="qemu"><name>g</name><metadata><app:x xmlns:app="urn:app">keep</app:x></metadata>'
        '<memory unit="KiB">1024</memory><os><type>hvm</type></os><devices/></domain>'
    )
    previous = Domain.from_xml(previous_xml)
    wanted = previous.with_changes(metadata=GuestMetadata(cloud_init="ab" * 32))
    patched = patch_definition(previous_xml, previous, wanted)
    assert Domain.from_xml(patched).metadata == GuestMetadata(cloud_init="ab" * 32)
    assert "urn:app" in patched and "keep" in patched


def test_direct_kernel_change_is_patched():
    previous_xml = '<domain type="qemu"><name>g</name><os><type>hvm</type><kernel>/old</kernel></os><devices/></domain>'
    previous = Domain.from_xml(previous_xml)
    kernel = DirectKernel("/new/vmlinuz", "/new/initrd", "root=/dev/vda")
    wanted = previous.with_changes(os=previous.os.with_changes(kernel=kernel))
    assert Domain.from_xml(patch_definition(previous_xml, previous, wanted)).os.kernel == kernel


# -- disks this collection does not make -------------------------------------------------------------
FOREIGN_DISKS = """<domain type='kvm'><name>g</name><memory unit='KiB'>524288</memory><os><type>hvm</type></os><devices>
<disk type='network' device='disk'><driver name='qemu' type='raw'/>
  <source protocol='nbd' name='export1'><host name='nbd.example' port='10809'/></source>
  <target dev='vdb' bus='virtio'/><alias name='virtio-disk1'/>
  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></disk>
<disk type='network' device='cdrom'>
  <source protocol='https' name='/isos/x.iso?token=abcdefsecret' query='sig=querysecret'>
    <host name='media.example' port='443'/><cookies><cookie name='session'>cookiesecret</cookie></cookies>
  </source><target dev='sda' bus='sata'/><readonly/></disk>
<disk type='dir' device='disk'><source dir='/srv/share'/><target dev='hdb' bus='ide'/></disk>
<disk type='network' device='disk'><source protocol='nbd' name='exp;tok=tokensecret#fragsecret'>
  <host name='admin:hostpwsecret@nbd2.example' port='10809'/></source><target dev='vdc' bus='virtio'/></disk>
</devices></domain>"""


def test_disks_of_other_kinds_are_kept_whole_and_labelled():
    """A network, nvme or dir disk reads back as it is stored (its source too), not as a file disk
    without a source; libvirt's address and alias are not part of it."""
    disks = Domain.from_xml(FOREIGN_DISKS).disks
    assert [disk.source_label for disk in disks] == [
        "nbd://nbd.example:10809/export1",
        "https://media.example:443/isos/x.iso?***",
        "dir:/srv/share",
        "nbd://***@nbd2.example:10809/exp;***",
    ]
    nbd = disks[0].to_element()
    assert nbd.find("source").get("protocol") == "nbd" and nbd.find("source/host").get("port") == "10809"
    assert nbd.find("address") is None and nbd.find("alias") is None
    assert Domain.from_xml(Domain.from_xml(FOREIGN_DISKS).to_xml()).disks == disks


def test_kept_disks_are_shown_without_their_secrets_and_written_with_them():
    """The diff's form masks an HTTP disk's cookies and query; the written form keeps them (libvirt needs them)."""
    domain = Domain.from_xml(FOREIGN_DISKS)
    shown = domain.to_shown_xml()
    for secret in ("abcdefsecret", "querysecret", "cookiesecret", "tokensecret", "fragsecret", "hostpwsecret"):
        assert secret not in shown
        assert secret in domain.to_xml()
    assert '<cookie name="session">***</cookie>' in shown and 'name="/isos/x.iso?***"' in shown


def test_a_patch_leaves_kept_disks_as_stored():
    previous = Domain.from_xml(FOREIGN_DISKS)
    patched = patch_definition(FOREIGN_DISKS, previous, previous.with_changes(memory=1 << 30))
    assert patched.count("<disk ") == 4 and "cookiesecret" in patched and "bus='0x05'" in patched.replace('"', "'")

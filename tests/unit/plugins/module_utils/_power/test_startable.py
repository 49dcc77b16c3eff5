"""What makes ``virsh start`` fail before QEMU runs, read from a stored definition on this host."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._power.startable import start_problems


@pytest.fixture
def on_host(test_client, monkeypatch):
    """The test driver's connection, judged as if its files were on this host."""
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    return test_client


QCOW2_DISK = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>%s<target dev='vda'/></disk>"


def domain(devices="", os_extra=""):
    return "<domain type='test'><name>g</name><os><type>hvm</type>%s</os><devices>%s</devices></domain>" % (os_extra, devices)


def test_a_missing_boot_kernel_and_a_log_directory_that_is_gone_are_named(on_host, tmp_path):
    gone = tmp_path / "gone"
    xml = domain(
        "<serial type='file'><source path='%s/serial.log'/></serial>"
        "<console type='pty'><log file='%s/console.log'/></console>" % (gone, gone),
        "<kernel>%s/vmlinuz</kernel><initrd>%s</initrd>" % (gone, tmp_path),
    )
    assert start_problems(on_host, xml) == [
        "its boot kernel %s/vmlinuz does not exist" % gone,
        "the directory of its console log %s/serial.log does not exist" % gone,
        "the directory of its console log %s/console.log does not exist" % gone,
    ]


def test_a_direct_card_on_a_device_the_host_lacks_is_named(on_host):
    xml = domain(
        "<interface type='direct'><mac address='52:54:00:00:00:41'/><source dev='rv-no-such-nic' mode='bridge'/></interface>"
    )
    assert start_problems(on_host, xml) == [
        "its network card 52:54:00:00:00:41: network device rv-no-such-nic does not exist on the host"
    ]
    assert start_problems(on_host, domain("<interface type='direct'><source dev='lo' mode='bridge'/></interface>")) == []


def test_an_unmanaged_ethernet_card_on_a_device_the_host_lacks_is_named(on_host):
    card = "<interface type='ethernet'><mac address='52:54:00:00:00:42'/><target dev='%s' managed='%s'/></interface>"
    assert start_problems(on_host, domain(card % ("rv-no-such-tap", "no"))) == [
        "its network card 52:54:00:00:00:42: network device rv-no-such-tap does not exist on the host"
    ]
    # libvirt makes a managed card's device itself; an unmanaged one the host has is fine.
    assert start_problems(on_host, domain(card % ("rv-no-such-tap", "yes"))) == []
    assert start_problems(on_host, domain(card % ("lo", "no"))) == []


def test_a_relative_disk_path_is_read_from_the_root(on_host, tmp_path):
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\0" * 512)
    relative = str(image).lstrip("/")
    xml = domain("<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>" % relative)
    assert start_problems(on_host, xml) == []


def test_a_backing_chain_that_loops_is_refused(on_host, tmp_path):
    first, second = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(second), "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(second), str(first)], check=True)
    subprocess.run(["qemu-img", "rebase", "-q", "-u", "-F", "qcow2", "-b", str(first), str(second)], check=True)
    xml = domain(QCOW2_DISK % (first, ""))
    assert start_problems(on_host, xml) == [
        "its disk vda: its backing chain comes back to %s (a loop): QEMU cannot open it" % first
    ]


def qcow2(path, backing=None):
    command = ["qemu-img", "create", "-q", "-f", "qcow2"] + (["-F", "qcow2", "-b", str(backing)] if backing else [])
    subprocess.run(command + [str(path), "1M"], check=True)


def test_the_header_of_a_raw_disk_is_the_guests_and_never_read(on_host, tmp_path):
    overlay = tmp_path / "looks-like.qcow2"
    qcow2(tmp_path / "base.qcow2")
    qcow2(overlay, tmp_path / "base.qcow2")
    (tmp_path / "base.qcow2").unlink()
    raw = "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda'/></disk>"
    assert start_problems(on_host, domain(raw % overlay)) == []
    assert start_problems(on_host, domain(QCOW2_DISK % (overlay, ""))) == [
        "its disk vda: the backing file %s/base.qcow2 of %s does not exist" % (tmp_path, overlay)
    ]


def test_a_chain_the_definition_gives_is_judged_instead_of_the_header(on_host, tmp_path):
    overlay, other = tmp_path / "overlay.qcow2", tmp_path / "other.qcow2"
    qcow2(tmp_path / "base.qcow2")
    qcow2(overlay, tmp_path / "base.qcow2")
    (tmp_path / "base.qcow2").unlink()
    qcow2(other)
    given = "<backingStore type='file'><format type='qcow2'/><source file='%s'/><backingStore/></backingStore>"
    assert start_problems(on_host, domain(QCOW2_DISK % (overlay, given % other))) == []
    assert start_problems(on_host, domain(QCOW2_DISK % (overlay, "<backingStore/>"))) == []
    assert start_problems(on_host, domain(QCOW2_DISK % (overlay, given % (tmp_path / "gone.qcow2")))) == [
        "its disk vda: the backing file %s/gone.qcow2 its definition names does not exist" % tmp_path
    ]


def test_a_long_chain_whose_base_is_gone_is_refused(on_host, tmp_path):
    images = [tmp_path / ("c%d.qcow2" % index) for index in range(21)]
    qcow2(images[0])
    for below, image in zip(images, images[1:]):
        qcow2(image, below)
    images[0].unlink()
    assert start_problems(on_host, domain(QCOW2_DISK % (images[-1], ""))) == [
        "its disk vda: the backing file %s of %s does not exist" % (images[0], images[1])
    ]


def test_firmware_shares_and_socket_directories_that_are_gone_are_named(on_host, tmp_path):
    gone = tmp_path / "gone"
    xml = domain(
        "<filesystem type='mount'><driver type='virtiofs'/><source dir='%s/share'/><target dir='tag'/></filesystem>"
        "<channel type='unix'><source mode='bind' path='%s/agent.sock'/><target type='virtio'/></channel>" % (gone, gone),
        "<loader readonly='yes' type='pflash'>%s/OVMF_CODE.fd</loader>"
        "<nvram template='%s/OVMF_VARS.fd'>%s/g_VARS.fd</nvram>" % (gone, gone, gone),
    )
    assert start_problems(on_host, xml) == [
        "its firmware loader %s/OVMF_CODE.fd does not exist" % gone,
        "its NVRAM file %s/g_VARS.fd does not exist, and its template %s/OVMF_VARS.fd does not exist" % (gone, gone),
        "the directory of its socket %s/agent.sock does not exist" % gone,
        "its shared directory %s/share does not exist" % gone,
    ]


def test_a_serial_port_libvirt_shows_again_as_the_console_is_named_once(on_host, tmp_path):
    log = "<source path='%s/gone/serial.log'/>" % tmp_path
    xml = domain("<serial type='file'>%s</serial><console type='file'>%s</console>" % (log, log))
    assert start_problems(on_host, xml) == ["the directory of its console log %s/gone/serial.log does not exist" % tmp_path]


def test_an_open_vswitch_bridge_is_judged_as_a_device(on_host):
    card = "<interface type='bridge'><mac address='52:54:00:00:00:43'/><source bridge='%s'/>%s</interface>"
    ovs = "<virtualport type='openvswitch'/>"
    assert start_problems(on_host, domain(card % ("lo", ovs))) == []
    assert start_problems(on_host, domain(card % ("rv-no-such-ovs", ovs))) == [
        "its network card 52:54:00:00:00:43: network device rv-no-such-ovs does not exist on the host"
    ]


def test_firmware_given_in_the_newer_form_or_as_a_fifo_is_refused(on_host, tmp_path):
    fifo = tmp_path / "loader.fd"
    os.mkfifo(str(fifo))
    gone = tmp_path / "gone"
    nvram = "<nvram type='file' template='%s/VARS.fd'><source file='%s/g_VARS.fd'/></nvram>" % (gone, gone)
    assert start_problems(on_host, domain("", "<loader type='pflash'>%s</loader>%s" % (fifo, nvram))) == [
        "its firmware loader %s is not a regular file" % fifo,
        "its NVRAM file %s/g_VARS.fd does not exist, and its template %s/VARS.fd does not exist" % (gone, gone),
    ]


def test_a_chain_the_definition_gives_in_part_is_read_on_from_the_last_images_header(on_host, tmp_path):
    base, middle, top = tmp_path / "base.qcow2", tmp_path / "middle.qcow2", tmp_path / "top.qcow2"
    qcow2(base)
    qcow2(middle, base)
    qcow2(top, middle)
    base.unlink()
    given = "<backingStore type='file'><format type='qcow2'/><source file='%s'/></backingStore>" % middle
    assert start_problems(on_host, domain(QCOW2_DISK % (top, given))) == [
        "its disk vda: the backing file %s of %s does not exist" % (base, middle)
    ]

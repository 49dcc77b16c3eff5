"""The KVM probe: its boot sector, how a probe guest's states are read (with the test driver's
guests, which run until told otherwise), and the verdict remembered per host. The probe itself
runs for real in the preflight integration target (the test driver cannot run KVM)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils import _kvm_probe
from ansible_collections.remotevirt.install.plugins.module_utils._kvm_probe import (
    Verdict,
    boot_sector,
    cached,
    probe_xml,
    remember,
    watch,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LibvirtError
from conftest import assert_valid

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "scripts", "kvm-probe", "boot.S")


def test_the_boot_sector_is_one_bootable_sector():
    sector = boot_sector()
    assert len(sector) == 512 and sector[510:] == b"\x55\xaa"


@pytest.mark.skipif(not (shutil.which("as") and shutil.which("ld")), reason="needs binutils (as, ld)")
def test_the_embedded_boot_sector_is_its_source_assembled(tmp_path):
    subprocess.run(["as", "--32", "-o", str(tmp_path / "boot.o"), SOURCE], check=True)
    subprocess.run(
        [
            "ld",
            "-m",
            "elf_i386",
            "-Ttext",
            "0x7c00",
            "--oformat",
            "binary",
            "-o",
            str(tmp_path / "boot.bin"),
            str(tmp_path / "boot.o"),
        ],
        check=True,
    )
    assert (tmp_path / "boot.bin").read_bytes() == boot_sector()


def test_the_probe_guest_is_valid_and_small():
    xml = probe_xml("remotevirt-probe-00ff", "/var/lib/libvirt/boot/.p/boot.img", "x86_64")
    assert_valid("domain", xml)
    for part in (
        "<on_reboot>destroy</on_reboot>",
        "<on_crash>destroy</on_crash>",
        "<on_poweroff>destroy</on_poweroff>",
        "<memory unit='KiB'>16384</memory>",
        "<vcpu>1</vcpu>",
        "type='kvm'",
    ):
        assert part in xml
    assert "<interface" not in xml


def start_test_guest(client, name):
    xml = (
        "<domain type='test'><name>%s</name><memory unit='KiB'>16384</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os></domain>" % name
    )
    return client.start_transient_domain(xml)


def test_a_probe_that_vanished_means_kvm_works(test_client):
    assert watch(test_client, "remotevirt-probe-never-started", timeout=0.5, poll=0.01) == Verdict(works=True)


def test_a_paused_probe_means_kvm_cannot_run_guests(test_client, unique_name):
    name = unique_name("")
    domain = start_test_guest(test_client, name)
    try:
        domain.suspend()
        assert watch(test_client, name, timeout=0.5, poll=0.01) == Verdict(works=False, detail="paused, user")
    finally:
        domain.destroy()


def test_a_probe_still_running_gives_no_verdict(test_client, unique_name):
    name = unique_name("")
    domain = start_test_guest(test_client, name)
    try:
        assert watch(test_client, name, timeout=0.3, poll=0.05) == Verdict(works=None, detail="still running after its time")
    finally:
        domain.destroy()


def test_definite_verdicts_are_remembered_by_key(tmp_path, monkeypatch):
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "locks" / ("%d.json" % len(key))))
    assert cached("libvirt 9000000 qemu:///system /usr/bin/qemu 1 2") is None
    remember("libvirt 9000000 qemu:///system /usr/bin/qemu 1 2", Verdict(works=False, detail="paused, unknown"))
    assert cached("libvirt 9000000 qemu:///system /usr/bin/qemu 1 2") == Verdict(works=False, detail="paused, unknown")
    assert oct(os.stat(tmp_path / "locks").st_mode & 0o777) == "0o700"
    remember("libvirt 9000000 qemu:///system /usr/bin/qemu 1 3", Verdict(works=None, detail="running"))
    assert cached("libvirt 9000000 qemu:///system /usr/bin/qemu 1 3") is None


def test_a_key_that_changed_is_probed_again(tmp_path, monkeypatch, test_client):
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "probe.json"))
    monkeypatch.setattr(_kvm_probe, "cache_key", lambda client, arch: "key two")
    remember("key one", Verdict(works=True))
    probes = []
    monkeypatch.setattr(
        _kvm_probe,
        "run_probe",
        lambda client, boot_dir, arch: probes.append(boot_dir) or Verdict(works=False, detail="paused, unknown"),
    )
    assert _kvm_probe.kvm_verdict(test_client, "/boot-dir", "x86_64").works is False
    assert _kvm_probe.kvm_verdict(test_client, "/boot-dir", "x86_64").works is False
    assert probes == ["/boot-dir"]


def test_a_probe_libvirt_could_not_start_is_not_remembered(tmp_path, monkeypatch, test_client):
    """A start refused for a passing cause (a moment short of memory, a daemon restarting) says
    nothing lasting about KVM: the next preflight probes again instead of refusing for good."""
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "probe.json"))
    monkeypatch.setattr(_kvm_probe, "cache_key", lambda client, arch: "key")
    starts = []

    def start(xml):
        starts.append(xml)
        if len(starts) == 1:
            raise LibvirtError("start transient guest", "probe", "cannot allocate memory")

    monkeypatch.setattr(test_client, "start_transient_domain", start)
    monkeypatch.setattr(_kvm_probe, "watch", lambda client, name, timeout: Verdict(works=True))
    first = _kvm_probe.kvm_verdict(test_client, str(tmp_path), "x86_64")
    assert first.works is False and first.detail.startswith("it could not start: ")
    assert _kvm_probe.kvm_verdict(test_client, str(tmp_path), "x86_64") == Verdict(works=True)
    assert len(starts) == 2


def test_a_probe_whose_state_could_not_be_read_gives_no_verdict_and_nothing_is_remembered(tmp_path, monkeypatch, test_client):
    """A daemon restarting, or a connection cut, while the probe is watched is no sign that the
    probe vanished (KVM works): no verdict, kept nowhere."""
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "probe.json"))
    monkeypatch.setattr(_kvm_probe, "cache_key", lambda client, arch: "key")
    monkeypatch.setattr(test_client, "start_transient_domain", lambda xml: None)
    monkeypatch.setattr(test_client, "find_domain", lambda name: object())  # the probe is still there

    def cut(domain):
        raise LibvirtError("read state of guest", "probe", "End of file while reading data: Input/output error", code=38)

    monkeypatch.setattr(test_client, "domain_state", cut)
    monkeypatch.setattr(test_client, "destroy_domain", lambda domain: None)
    verdict = _kvm_probe.kvm_verdict(test_client, str(tmp_path), "x86_64")
    assert verdict.works is None and verdict.detail.startswith("its state could not be read: End of file")
    assert cached("key") is None


def test_the_probe_guest_and_its_image_are_always_removed(test_client, tmp_path):
    """The test driver keeps any guest running: no verdict, and nothing left behind."""
    verdict = _kvm_probe.run_probe(test_client, str(tmp_path), "x86_64", timeout=0.2)
    assert verdict == Verdict(works=None, detail="still running after its time")
    assert os.listdir(tmp_path) == []
    assert not [
        name
        for name in test_client.conn.listDomainsID()
        and [test_client.conn.lookupByID(i).name() for i in test_client.conn.listDomainsID()]
        if name.startswith("remotevirt-probe-")
    ]


def test_a_verdict_file_another_user_put_in_place_is_not_believed(tmp_path, monkeypatch):
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "probe.json"))
    remember("key", Verdict(works=False, detail="paused, unknown"))
    assert cached("key") == Verdict(works=False, detail="paused, unknown")
    os.chown(str(tmp_path / "probe.json"), 65534, 65534)
    assert cached("key") is None

"""A new guest's platform against the host: architecture, virtualization type, machine type and
firmware refused at plan time, naming the option and what the host offers; nothing refused on what
libvirt does not say."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._guest.platform_host import (
    PlatformHost,
    platform_problems,
    read_platform_host,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import (
    FirmwareOffer,
    firmware_offer,
    host_platforms,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import RunError
from runner_params import POOL, guest

# The documents of a Debian 12 host (libvirt 9.0, QEMU 7.2 for x86_64 and i386, OVMF), kept beside the parser's tests.
_XML_TESTS = os.path.join(os.path.dirname(__file__), "..", "_libvirt", "xml", "test_capabilities.py")
CAPABILITIES = fixtures.read(_XML_TESTS, "capabilities-x86_64.xml")
Q35 = fixtures.read(_XML_TESTS, "domcapabilities-qemu-q35.xml")
PC = fixtures.read(_XML_TESTS, "domcapabilities-qemu-pc.xml")

HOST = PlatformHost(uri="qemu:///system", platforms=host_platforms(CAPABILITIES))
# A host without KVM: libvirt lists only TCG.
TCG_ONLY = PlatformHost(uri="qemu:///system", platforms=host_platforms(CAPABILITIES.replace("<domain type='kvm'/>", "")))
# An aarch64 host that runs no x86_64 guests.
ARM_HOST = PlatformHost(
    platforms=host_platforms(
        "<capabilities><host><cpu><arch>aarch64</arch></cpu></host><guest><os_type>hvm</os_type>"
        "<arch name='aarch64'><machine>virt</machine><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"
    )
)
NO_OVMF = FirmwareOffer(machine="pc-q35-7.2", supported=True, firmware=(), secure=())


def request_of(**options):
    return GuestRequest.from_params(guest("g1", uri="qemu:///system", **{"domain_type": "qemu", **options}))


def problems(host, **options):
    return platform_problems(request_of(**options), GuestState(detected_type="qemu"), host)


@pytest.mark.parametrize(
    "host, options, message",
    [
        (HOST, dict(arch="aarch64"), "arch 'aarch64': this host runs guests of x86_64, i686; install QEMU's emulator of "
         "aarch64 on the host (qemu-system-aarch64), or give another arch"),
        (ARM_HOST, dict(), "arch is not set, so the guest would be x86_64, and this host runs guests of aarch64 only; set arch"),
        (HOST, dict(arch="amd64"), "arch 'amd64': libvirt names this architecture x86_64 (this host runs guests of x86_64, "
         "i686); give arch: x86_64"),
        (HOST, dict(arch="i386"), "arch 'i386': libvirt names this architecture i686 (this host runs guests of x86_64, "
         "i686); give arch: i686"),
        (HOST, dict(machine="pc-q35-99.0"), "machine 'pc-q35-99.0' is not one of the host's machine types for x86_64/qemu: "
         "pc, q35, pc-i440fx-7.2, pc-q35-7.2, pc-q35-7.1, pc-i440fx-7.1, ... (60 in all: virsh capabilities)"),
        (HOST, dict(machine="Q35"), "machine 'Q35' is not one of the host's machine types"),  # names are exact
        (TCG_ONLY, dict(domain_type="kvm"), "domain_type 'kvm': this host runs x86_64 guests as qemu only (no KVM: "
         "/dev/kvm is missing, or the kvm module is not loaded); set domain_type: qemu"),
        (HOST.with_changes(firmware=NO_OVMF), dict(firmware="uefi", machine="q35"),
         "firmware uefi: this host has no UEFI firmware that fits machine type pc-q35-7.2 (x86_64/qemu); install it"),
        (HOST.with_changes(firmware=firmware_offer(PC)), dict(firmware="uefi", secure_boot=True, machine="pc"),
         "secure_boot: this host has no UEFI firmware with secure boot that fits machine type pc-i440fx-7.2 "
         "(x86_64/qemu); give machine: q35, which secure boot needs on x86, or secure_boot: false"),
        # Capabilities that say nothing of the platform, and libvirt's refusal of its domain capabilities.
        (PlatformHost(type_refusal="unsupported configuration: unable to find any emulator to serve 'aarch64' architecture"),
         dict(arch="aarch64"), "arch 'aarch64', domain_type 'qemu': libvirt of this host refuses it: unsupported configuration"),
        (PlatformHost(machine_refusal="invalid argument: the machine 'pc-q35-99.0' is not supported"),
         dict(machine="pc-q35-99.0"), "machine 'pc-q35-99.0' for x86_64/qemu: libvirt of this host refuses it: invalid argument"),
    ],
)  # fmt: skip
def test_refusals_name_the_option_and_what_the_host_offers(host, options, message):
    found = problems(host, **options)
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    "host, options",
    [
        (HOST, dict()),
        (HOST, dict(machine="q35")),
        (HOST, dict(machine="pc-i440fx-2.0", arch="i686", domain_type="kvm")),
        (HOST.with_changes(firmware=firmware_offer(Q35)), dict(firmware="uefi", secure_boot=True, machine="q35")),
        (HOST.with_changes(firmware=firmware_offer(PC)), dict(firmware="uefi", machine="pc")),
        (HOST.with_changes(firmware=NO_OVMF), dict(firmware="bios")),
        (ARM_HOST, dict(arch="aarch64", machine="virt")),
        # Not said: the test driver's capabilities, an older libvirt's firmware.
        (PlatformHost(), dict(arch="aarch64", machine="pc-q35-99.0", firmware="uefi", secure_boot=True, domain_type="kvm")),
        (HOST.with_changes(firmware=FirmwareOffer()), dict(firmware="uefi", secure_boot=True)),
    ],
)
def test_what_the_host_runs_or_does_not_say_is_not_refused(host, options):
    assert problems(host, **options) == []


def test_an_auto_type_names_the_type_it_chose():
    host = PlatformHost(platforms=host_platforms(CAPABILITIES.replace("<domain type='qemu'/>", "")))
    request = request_of(domain_type="auto")
    found = platform_problems(request, GuestState(detected_type="qemu"), host)
    assert found and found[0].startswith("domain_type auto (qemu): this host runs x86_64 guests as kvm only")


@given(st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True), st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True))
def test_any_machine_or_arch_is_refused_exactly_when_the_host_lacks_it(machine, arch):
    """Any name the request lets through is judged, never raises, and is refused only when not offered."""
    platforms = HOST.platforms.of(("kvm", "qemu"))
    found = problems(HOST, machine=machine, arch=arch)
    if arch not in platforms:
        assert len(found) == 1 and found[0].startswith("arch %r" % arch)
    elif machine not in platforms[arch].machines("qemu").names:
        assert len(found) == 1 and found[0].startswith("machine %r" % machine)
    else:
        assert found == []


def test_the_test_driver_says_nothing(test_client):
    """test:///default lists guests of its own type only and keeps no domain capabilities."""
    request = request_of(arch="aarch64", machine="pc-q35-99.0", firmware="uefi", secure_boot=True)
    host = read_platform_host(test_client, request, GuestState(detected_type="qemu"))
    assert host.platforms.of(("kvm", "qemu")) == {}
    assert (host.type_refusal, host.machine_refusal, host.firmware) == (None, None, None)
    assert platform_problems(request, GuestState(detected_type="qemu"), host) == []


class Reads:
    """What the run asks of the host's libvirt, on a QEMU host's documents."""

    def __init__(self, monkeypatch):
        self.capabilities = 0
        self.domain_capabilities = []
        reads = self

        def host_capabilities(client):
            # Counted as libvirt is asked: once per client (per run), as the client keeps the document.
            if not getattr(client, "_capabilities_read", False):
                client._capabilities_read = True
                reads.capabilities += 1
            return CAPABILITIES

        def domain_capabilities(client, arch, virt_type, machine=None):
            reads.domain_capabilities.append((arch, virt_type, machine))
            known = {None: Q35, "q35": Q35, "pc": PC}
            return known.get(machine) if arch == "x86_64" else None

        monkeypatch.setattr(Client, "host_capabilities", host_capabilities)
        monkeypatch.setattr(Client, "domain_capabilities", domain_capabilities)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(arch="aarch64"), "arch 'aarch64': this host runs guests of x86_64, i686"),
        (dict(machine="pc-q35-99.0"), "machine 'pc-q35-99.0' is not one of the host's machine types for x86_64/qemu: pc, q35"),
        (dict(machine="pc", firmware="uefi", secure_boot=True), "secure_boot: this host has no UEFI firmware with secure boot"),
    ],
)
def test_check_mode_and_the_real_run_refuse_alike_and_make_nothing(unique_name, test_client, monkeypatch, options, message):
    Reads(monkeypatch)
    name = unique_name("")
    before = sorted(test_client.find_pool(POOL).listVolumes())
    for check_mode in (True, False):
        with pytest.raises(RunError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            run(guest(name, domain_type="qemu", **options), check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None
    assert sorted(test_client.find_pool(POOL).listVolumes()) == before


def test_the_capabilities_are_read_once_per_run(unique_name, test_client, monkeypatch):
    reads = Reads(monkeypatch)
    run(guest(unique_name(""), domain_type="qemu", machine="q35", tpm=True, rng=True), check_mode=True, diff=False)
    assert reads.capabilities == 1
    run(guest(unique_name(""), domain_type="qemu", machine="pc", firmware="uefi"), check_mode=True, diff=False)
    assert reads.capabilities == 2 and ("x86_64", "qemu", "pc") in reads.domain_capabilities

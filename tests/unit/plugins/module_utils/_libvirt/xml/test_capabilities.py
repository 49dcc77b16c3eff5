"""The host's capabilities as guest platforms (architectures, virtualization types, machine types) and
the firmware of its domain capabilities, read from documents of a Debian 12 host (libvirt 9.0, QEMU 7.2,
OVMF) and from what older or other drivers write."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import (
    FirmwareOffer,
    firmware_offer,
    host_platforms,
    qemu_identity,
)

CAPABILITIES = fixtures.read(__file__, "capabilities-x86_64.xml")
Q35 = fixtures.read(__file__, "domcapabilities-qemu-q35.xml")
PC = fixtures.read(__file__, "domcapabilities-qemu-pc.xml")
VIRT_TYPES = ("kvm", "qemu")


def test_the_platforms_of_a_qemu_host():
    platforms = host_platforms(CAPABILITIES)
    assert platforms.host_arch == "x86_64"
    assert sorted(platforms.of(VIRT_TYPES)) == ["i686", "x86_64"]
    assert platforms.archs_shown(VIRT_TYPES) == ("x86_64", "i686")  # the host's own first
    x86_64 = platforms.of(VIRT_TYPES)["x86_64"]
    assert x86_64.virt_types == ("kvm", "qemu")
    machines = x86_64.machines("qemu")
    assert {"pc", "q35", "pc-q35-7.2", "pc-i440fx-2.0", "microvm"} <= machines.names
    assert "pc-q35-99.0" not in machines.names
    assert len(machines.names) == len(machines.shown) == 60


def test_the_user_qemu_runs_as():
    assert qemu_identity(CAPABILITIES, VIRT_TYPES) == (64055, 64055)


def _secmodels(*models):
    return "<capabilities><host>%s</host></capabilities>" % "".join(models)


@pytest.mark.parametrize(
    "xml, virt_types, identity",
    [
        # libvirt built without the DAC model, or a driver that says nothing: QEMU keeps libvirtd's user
        (_secmodels("<secmodel><model>none</model><doi>0</doi></secmodel>"), VIRT_TYPES, None),
        ("<capabilities><host/></capabilities>", VIRT_TYPES, None),
        (
            _secmodels("<secmodel><model>dac</model><baselabel type='qemu'>+107:+108</baselabel></secmodel>"),
            VIRT_TYPES,
            (107, 108),  # the first type that has a label
        ),
        (
            _secmodels(
                "<secmodel><model>dac</model><baselabel type='kvm'>+1:+2</baselabel>"
                "<baselabel type='qemu'>+3:+4</baselabel></secmodel>"
            ),
            ("qemu",),
            (3, 4),
        ),
        (_secmodels("<secmodel><model>dac</model><baselabel type='kvm'>+0:+0</baselabel></secmodel>"), VIRT_TYPES, (0, 0)),
        # what cannot be read as numbers is not said
        (_secmodels("<secmodel><model>dac</model><baselabel type='kvm'>qemu:kvm</baselabel></secmodel>"), VIRT_TYPES, None),
        (_secmodels("<secmodel><model>selinux</model><baselabel type='kvm'>+1:+2</baselabel></secmodel>"), VIRT_TYPES, None),
    ],
)
def test_the_user_qemu_runs_as_only_from_the_dac_models_numbers(xml, virt_types, identity):
    assert qemu_identity(xml, virt_types) == identity


def test_machine_types_are_shown_aliases_first_then_newest():
    shown = host_platforms(CAPABILITIES).of(VIRT_TYPES)["x86_64"].machines("kvm").shown
    assert shown[:6] == ("pc", "q35", "pc-i440fx-7.2", "pc-q35-7.2", "pc-q35-7.1", "pc-i440fx-7.1")
    assert shown.index("pc-q35-4.0.1") < shown.index("pc-q35-4.0")
    assert set(shown[-3:]) == {"microvm", "isapc", "x-remote"}  # no version: last


def test_a_type_not_run_has_no_machine_types():
    platform = host_platforms(CAPABILITIES).of(VIRT_TYPES)["x86_64"]
    assert not platform.machines("xen").names


def test_the_test_driver_says_nothing_of_kvm_or_qemu(test_client):
    platforms = host_platforms(test_client.host_capabilities())
    assert platforms.of(VIRT_TYPES) == {}
    assert set(platforms.of(("test",))) == {"i686"}  # hvm only: its xen guest is left out


def test_a_domain_with_machine_types_of_its_own_has_those():
    """Older libvirt lists a KVM emulator's machine types under its <domain>."""
    xml = """<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
    <guest><os_type>hvm</os_type><arch name='x86_64'>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine canonical='pc-i440fx-2.11'>pc</machine><machine>pc-i440fx-2.11</machine>
      <domain type='qemu'/>
      <domain type='kvm'><emulator>/usr/libexec/qemu-kvm</emulator><machine>pc-i440fx-rhel7.6.0</machine></domain>
    </arch></guest>
    <guest><os_type>xen</os_type><arch name='x86_64'><domain type='xen'/></arch></guest>
    </capabilities>"""
    platform = host_platforms(xml).of(VIRT_TYPES)["x86_64"]
    assert platform.machines("qemu").shown == ("pc", "pc-i440fx-2.11")
    assert platform.machines("kvm").shown == ("pc-i440fx-rhel7.6.0",)
    assert platform.virt_types == ("kvm", "qemu")


@pytest.mark.parametrize(
    "xml, efi, secure_boot, machine",
    [
        (Q35, True, True, "pc-q35-7.2"),
        (PC, True, False, "pc-i440fx-7.2"),  # OVMF for i440fx has no secure boot
        # No OVMF installed: libvirt lists no firmware it could select.
        ("<domainCapabilities><machine>pc-q35-7.2</machine><os supported='yes'><enum name='firmware'/>"
         "<loader supported='yes'><enum name='secure'><value>no</value></enum></loader></os></domainCapabilities>",
         False, False, "pc-q35-7.2"),
        ("<domainCapabilities><os supported='no'/></domainCapabilities>", False, False, None),
        # Older libvirt: loaders without the firmware enum, or no <os> at all: not said.
        ("<domainCapabilities><os supported='yes'><loader supported='yes'><value>/usr/share/OVMF/OVMF_CODE.fd</value>"
         "</loader></os></domainCapabilities>", None, None, None),
        ("<domainCapabilities><machine>pc</machine></domainCapabilities>", None, None, "pc"),
        # Firmware selection without any loader: no secure boot.
        ("<domainCapabilities><os supported='yes'><enum name='firmware'><value>efi</value></enum>"
         "<loader supported='no'/></os></domainCapabilities>", True, False, None),
    ],
)  # fmt: skip
def test_firmware_offers(xml, efi, secure_boot, machine):
    offer = firmware_offer(xml)
    assert (offer.efi, offer.secure_boot, offer.machine) == (efi, secure_boot, machine)


def test_firmware_not_said_refuses_nothing():
    assert FirmwareOffer().efi is None and FirmwareOffer().secure_boot is None


# Machine type names as libvirt's schema allows them (the request refuses others before this).
MACHINE_NAMES = st.from_regex(r"[A-Za-z0-9_.-]{1,24}", fullmatch=True)


@given(st.lists(MACHINE_NAMES, max_size=12, unique=True), st.lists(MACHINE_NAMES, max_size=4))
def test_every_machine_type_listed_is_shown_once(names, aliases):
    """Any names QEMU gives its machine types (versions, odd ones): each is shown once and found."""
    listed = "".join("<machine>%s</machine>" % name for name in names)
    listed += "".join("<machine canonical='%s'>%s-alias</machine>" % (names[0] if names else "x", alias) for alias in aliases)
    xml = "<capabilities><guest><os_type>hvm</os_type><arch name='x86_64'>%s<domain type='qemu'/></arch></guest></capabilities>"
    machines = host_platforms(xml % listed).of(VIRT_TYPES)["x86_64"].machines("qemu")
    assert len(machines.shown) == len(set(machines.shown)) == len(machines.names)
    assert set(names) <= machines.names

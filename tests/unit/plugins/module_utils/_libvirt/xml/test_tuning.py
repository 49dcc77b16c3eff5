"""Tuning XML: cpusets in libvirt's form, each device's golden XML, reading libvirt's stored form back, patching."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse, serialize
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain, patch_definition
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import (
    GUEST_AGENT_PORT,
    CpuPinning,
    GuestAgent,
    Hugepages,
    NumaTune,
    Rng,
    Tpm,
    Tuning,
    TuningHost,
    canonical_cpuset,
    format_cpuset,
    parse_cpuset,
)
from conftest import assert_valid

# A guest as libvirt 9.0 stored it (virsh dumpxml --inactive) after defining it with a TPM, an RNG,
# pins written as "0,1" and "0-1,^1", NUMA placement and 2M huge pages.
STORED = fixtures.read(__file__, "tuned-stored.xml")

# The same tuning, as a request gives it.
TUNED = Tuning(
    tpm=Tpm(model="tpm-crb", version="2.0"),
    rng=Rng(source="/dev/urandom", rate_bytes=1024, rate_period=1000),
    pinning=CpuPinning(vcpus=((0, "1"), (1, "0-1")), emulator="0"),
    numa=NumaTune(nodeset="0", mode="strict"),
    hugepages=Hugepages(size_kib=2048),
)


@pytest.mark.parametrize(
    "text, canonical",
    [("0", "0"), ("0,1", "0-1"), ("0-3,^2,6", "0-1,3,6"), ("3,1,2", "1-3"), ("0-1,^1", "0"), ("5,7-8", "5,7-8")],
)
def test_cpusets_in_libvirts_stored_form(text, canonical):
    assert canonical_cpuset(text) == canonical


@pytest.mark.parametrize("text", ["", "a", "0-", "-1", "3-1", "0,,1", "^1", "0-1,^0-1", "٣", "0 1", "1\n", "99999999"])
def test_cpusets_refused(text):
    with pytest.raises(ValueError):
        parse_cpuset(text)


def test_cpuset_of_many_large_ranges_refused_quickly():
    # A cpuset repeating the largest range took ~11 s of the host's CPU and hundreds of MiB for
    # 2000 repeats, growing with the text; it is refused once it lists too many CPUs.
    with pytest.raises(ValueError, match="more than"):
        parse_cpuset(",".join(["0-65535"] * 100000))
    assert parse_cpuset("0-65535,^5") == frozenset(range(65536)) - {5}


@given(st.sets(st.integers(min_value=0, max_value=300), min_size=1))
def test_cpuset_format_reads_back(members):
    text = format_cpuset(members)
    assert parse_cpuset(text) == frozenset(members)
    assert canonical_cpuset(text) == text


@given(st.text(max_size=20))
def test_any_text_is_a_cpuset_or_a_value_error(text):
    try:
        members = parse_cpuset(text)
    except ValueError:
        return
    assert members and canonical_cpuset(format_cpuset(members)) == format_cpuset(members)


def test_stored_form_reads_as_the_request():
    """libvirt's defaults and its own cpuset form compare equal to the requested values."""
    assert Domain.from_xml(STORED).tuning == TUNED


def test_a_guest_without_tuning_reads_as_none():
    assert Domain.from_xml("<domain><name>g</name><devices/></domain>").tuning == Tuning()


# -- golden XML of each device -------------------------------------------------------------------
GOLDEN_DIR = os.path.join(golden.folder(__file__), "tuning")
CASES = {
    "tpm-crb": Tuning(tpm=Tpm()),
    "tpm-tis-1.2": Tuning(tpm=Tpm(model="tpm-tis", version="1.2")),
    "rng": Tuning(rng=Rng()),
    "rng-rate": Tuning(rng=Rng(source="/dev/random", rate_bytes=2048, rate_period=500)),
    "cpu-pinning": Tuning(pinning=CpuPinning(vcpus=((0, "2"), (1, "3")), emulator="0-1")),
    "numa": Tuning(numa=NumaTune(nodeset="0-1", mode="interleave")),
    "hugepages-default": Tuning(hugepages=Hugepages()),
    "hugepages-1G": Tuning(hugepages=Hugepages(size_kib=1 << 20)),
    "guest-agent": Tuning(agent=GuestAgent()),
    "all": TUNED,
}


def tuned_domain(tuning):
    return Domain(name="dvb-golden", type="qemu", memory=1 << 30, vcpus=2, tuning=tuning)


@pytest.mark.parametrize("case", sorted(CASES))
def test_tuning_matches_golden_file(case):
    xml = tuned_domain(CASES[case]).to_xml()
    assert_valid("domain", golden.compare(os.path.join(GOLDEN_DIR, "%s.xml" % case), xml))
    assert Domain.from_xml(xml).tuning == CASES[case]


def test_tuning_golden_files_are_all_known():
    assert golden.stale(GOLDEN_DIR, ".xml", ["%s.xml" % case for case in CASES]) == []


# -- patching a stored definition ----------------------------------------------------------------
def patched(wanted_tuning):
    previous = Domain.from_xml(STORED)
    return patch_definition(STORED, previous, previous.with_changes(tuning=wanted_tuning))


def test_unchanged_tuning_leaves_the_definition_as_stored():
    previous = Domain.from_xml(STORED)
    assert patch_definition(STORED, previous, previous) == serialize(parse(STORED))


def test_removals_drop_only_the_collections_parts():
    """tpm/rng/pins/placement/huge pages removed; <cputune>'s shares stay (not the collection's)."""
    xml = patched(Tuning())
    root = parse(xml)
    assert Domain.from_xml(xml).tuning == Tuning()
    assert root.find("devices/tpm") is None and root.find("devices/rng") is None
    assert root.findtext("cputune/shares") == "2048"
    assert root.find("numatune") is None and root.find("memoryBacking") is None
    assert_valid("domain", xml)


def test_changes_keep_device_addresses():
    wanted = TUNED.with_changes(rng=Rng(source="/dev/random"), pinning=CpuPinning(vcpus=((0, "0"),)), hugepages=Hugepages())
    xml = patched(wanted)
    assert Domain.from_xml(xml).tuning == wanted
    rng = parse(xml).find("devices/rng")
    assert rng.find("address") is not None
    assert_valid("domain", xml)


def test_additions_to_a_guest_without_tuning():
    bare = Domain(name="dvb-bare", type="qemu", memory=1 << 30, vcpus=2).to_xml()
    previous = Domain.from_xml(bare)
    xml = patch_definition(bare, previous, previous.with_changes(tuning=TUNED))
    assert Domain.from_xml(xml).tuning == TUNED
    assert_valid("domain", xml)


def test_other_memory_backing_settings_stay():
    """<memoryBacking>'s other children (memfd source, shared access for virtiofs) are not the tuning's."""
    stored = STORED.replace("<memoryBacking>", "<memoryBacking><source type='memfd'/><access mode='shared'/>")
    previous = Domain.from_xml(stored)
    xml = patch_definition(stored, previous, previous.with_changes(tuning=TUNED.with_changes(hugepages=None)))
    backing = parse(xml).find("memoryBacking")
    assert backing.find("hugepages") is None and backing.find("source").get("type") == "memfd"


# libvirt 9.0's stored form of a guest with the agent's channel and a channel of its own (virsh
# dumpxml --inactive): the agent's socket path is libvirt's, so the channel has no <source>.
CHANNELS = """<domain type='qemu'><name>dvb-agent</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><devices>
  <controller type='virtio-serial' index='0'>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></controller>
  <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>
    <address type='virtio-serial' controller='0' bus='0' port='1'/></channel>
  <channel type='pty'><target type='virtio' name='org.example.other'/>
    <address type='virtio-serial' controller='0' bus='0' port='2'/></channel>
</devices></domain>"""


def channel_names(xml):
    return [channel.get("name") for channel in parse(xml).findall("devices/channel/target")]


def test_stored_agent_channel_reads_as_the_request():
    assert Domain.from_xml(CHANNELS).tuning == Tuning(agent=GuestAgent())


def test_a_channel_of_another_name_is_no_agent():
    other_only = CHANNELS.replace("org.qemu.guest_agent.0", "org.qemu.guest_agent.1")
    assert Domain.from_xml(other_only).tuning == Tuning()


def test_agent_removed_keeps_the_other_channels():
    previous = Domain.from_xml(CHANNELS)
    xml = patch_definition(CHANNELS, previous, previous.with_changes(tuning=Tuning()))
    assert channel_names(xml) == ["org.example.other"]
    assert parse(xml).find("devices/controller[@type='virtio-serial']") is not None
    assert_valid("domain", xml)


def test_agent_added_beside_the_other_channels():
    without = CHANNELS.replace("org.qemu.guest_agent.0", "org.example.third")
    previous = Domain.from_xml(without)
    xml = patch_definition(without, previous, previous.with_changes(tuning=Tuning(agent=GuestAgent())))
    assert channel_names(xml) == ["org.example.third", "org.example.other", GUEST_AGENT_PORT]
    assert Domain.from_xml(xml).tuning == Tuning(agent=GuestAgent())
    assert_valid("domain", xml)


def test_a_channel_libvirt_cannot_drive_is_no_agent_and_gives_way_to_the_agents():
    """libvirt reaches an agent only through a socket QEMU listens on: a pty channel (or a socket QEMU
    connects out to) on the agent's port is none, and guest_agent: true puts the agent's in its place."""
    for form in ("<channel type='pty'>", "<channel type='unix'><source mode='connect' path='/run/x.sock'/>"):
        stored = CHANNELS.replace("<channel type='unix'>", form, 1)
        previous = Domain.from_xml(stored)
        assert previous.tuning == Tuning()
        xml = patch_definition(stored, previous, previous.with_changes(tuning=Tuning(agent=GuestAgent())))
        channels = parse(xml).findall("devices/channel")
        assert [channel.get("type") for channel in channels] == ["unix", "pty"]
        assert channels[0].find("address").get("port") == "1"
        assert Domain.from_xml(xml).tuning == Tuning(agent=GuestAgent())
        assert_valid("domain", xml)


def test_agent_channel_names_no_path():
    """libvirt makes and names the socket: a request never points it at a path on the host."""
    channel = GuestAgent().to_element()
    assert channel.find("source").attrib == {"mode": "bind"}


# -- host facts ----------------------------------------------------------------------------------
DOMCAPS = """<domainCapabilities><machine>pc-i440fx-7.2</machine><vcpu max='255'/><devices>
  <tpm supported='yes'><enum name='model'><value>tpm-tis</value><value>tpm-crb</value></enum>
    <enum name='backendModel'><value>passthrough</value><value>emulator</value></enum>
    <enum name='backendVersion'><value>1.2</value><value>2.0</value></enum></tpm>
  <rng supported='yes'><enum name='model'><value>virtio</value></enum>
    <enum name='backendModel'><value>random</value></enum></rng>
</devices></domainCapabilities>"""


def test_host_facts_from_domain_capabilities():
    host = TuningHost().with_domain_capabilities(DOMCAPS)
    assert host.tpm_models == ("tpm-tis", "tpm-crb") and host.tpm_backends == ("passthrough", "emulator")
    assert host.tpm_versions == ("1.2", "2.0") and host.rng_models == ("virtio",)
    assert host.max_vcpus == 255 and host.default_machine == "pc-i440fx-7.2"


def test_host_without_domain_capabilities_is_unknown():
    assert TuningHost().with_domain_capabilities(None) == TuningHost()


def test_host_facts_from_capabilities(test_client):
    host = TuningHost().with_host_capabilities(test_client.host_capabilities())
    assert host.cpus == tuple(range(16)) and host.numa_nodes == (0, 1)
    assert host.huge_page_sizes == (8, 2048, 1048576)  # the test driver's pages; 4 KiB is the base page


def test_summary_has_a_line_per_set_field():
    assert Tuning().summary() == {}
    assert Tuning(agent=GuestAgent()).summary() == {"guest_agent": "virtio-serial channel org.qemu.guest_agent.0"}
    assert TUNED.summary() == {
        "tpm": "tpm-crb 2.0 (emulated)",
        "rng": "virtio /dev/urandom, 1024 bytes per 1000 ms",
        "cpu_pinning": "vCPU 0 on 1, vCPU 1 on 0-1, emulator on 0",
        "numa": "memory on node 0 (strict)",
        "hugepages": "2M",
    }

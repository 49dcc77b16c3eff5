"""Tuning against the host: refusals naming the option and what the host offers; what is read, and when."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import read_host
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_host import (
    default_tpm,
    host_problems,
    read_free_pages,
    read_tuning_host,
    starts,
    tuning_problems,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import (
    CpuPinning,
    Hugepages,
    NumaTune,
    Rng,
    Tpm,
    Tuning,
    TuningHost,
)

GiB = 1 << 30
# This machine without swtpm: libvirt offers only TPM passthrough.
NO_SWTPM = TuningHost(domain_capabilities_read=True, tpm_models=("tpm-tis", "tpm-crb"), tpm_backends=("passthrough",))
SWTPM = NO_SWTPM.with_changes(tpm_backends=("passthrough", "emulator", "external"), tpm_versions=("1.2", "2.0"))
TOPOLOGY = TuningHost(cpus=(0, 1), numa_nodes=(0,), huge_page_sizes=(2048, 1 << 20), free_pages=((2048, 600), (1 << 20, 0)))


@pytest.mark.parametrize(
    "tuning, host, message",
    [
        (Tuning(tpm=Tpm()), NO_SWTPM, "offers no emulated TPM (backends: passthrough); install swtpm"),
        (
            Tuning(tpm=Tpm(model="tpm-crb")),
            SWTPM.with_changes(tpm_models=("tpm-tis",)),
            "tpm.model tpm-crb is not offered by this host (it offers: tpm-tis)",
        ),
        (Tuning(tpm=Tpm()), SWTPM.with_changes(tpm_models=(), tpm_backends=()), "offers no TPM devices"),
        (
            Tuning(tpm=Tpm(model="tpm-tis", version="1.2")),
            SWTPM.with_changes(tpm_versions=("2.0",)),
            "tpm.version 1.2 is not offered",
        ),
        (Tuning(rng=Rng()), SWTPM, "rng: this host's libvirt offers no virtio RNG (it offers: none)"),
        (
            Tuning(rng=Rng()),
            SWTPM.with_changes(rng_models=("virtio",), rng_backends=("egd", "builtin")),
            "rng: this host's libvirt offers no RNG backend fed from a host device (backends: egd, builtin); set rng: false",
        ),
        (
            Tuning(rng=Rng(source="/dev/hwrng")),
            TuningHost(missing_rng_source="/dev/hwrng"),
            "rng.backend /dev/hwrng: the host has no such device (a hardware RNG needs the device and its kernel driver); "
            "use /dev/urandom",
        ),
        (Tuning(pinning=CpuPinning(((0, "0"), (2, "1")))), TOPOLOGY, "pins vCPU 2, but the guest has 2 vCPUs (numbered 0-1)"),
        (
            Tuning(pinning=CpuPinning(((0, "1-3"),))),
            TOPOLOGY,
            "cpu_pinning.vcpus[0] 1-3 names host CPU 2,3, which the host does not have (it has: 0-1)",
        ),
        (Tuning(pinning=CpuPinning(emulator="4")), TOPOLOGY, "cpu_pinning.emulator 4 names host CPU 4"),
        (Tuning(numa=NumaTune("0-1")), TOPOLOGY, "numa.nodeset 0-1 names NUMA node 1, which the host does not have (it has: 0)"),
        (Tuning(hugepages=Hugepages(64)), TOPOLOGY, "hugepages.size 64K is not a huge page size of this host (it has: 2M, 1G)"),
        (Tuning(hugepages=Hugepages(1 << 20)), TOPOLOGY, "needs 1 free huge pages of 1G, and the host has 0 free"),
        (Tuning(hugepages=Hugepages()), TOPOLOGY.with_changes(free_pages=((2048, 10),)), "needs 512 free huge pages of 2M"),
    ],
)
def test_host_refusals(tuning, host, message):
    problems = host_problems(tuning, host, vcpus=2, memory=GiB, starts=True)
    assert len(problems) == 1 and message in problems[0], problems


@pytest.mark.parametrize(
    "tuning, host, starts",
    [
        (Tuning(tpm=Tpm()), SWTPM, True),
        (Tuning(tpm=Tpm()), TuningHost(), True),  # capabilities unknown (test driver): nothing refused
        (Tuning(pinning=CpuPinning(((1, "0-1"),), "0")), TOPOLOGY, True),
        (Tuning(numa=NumaTune("0")), TOPOLOGY, True),
        (Tuning(hugepages=Hugepages()), TOPOLOGY, True),
        (Tuning(hugepages=Hugepages(1 << 20)), TOPOLOGY, False),  # defined only: free pages matter when it starts
        (Tuning(hugepages=Hugepages(1 << 20)), TOPOLOGY.with_changes(free_pages=()), True),  # a remote host's
    ],
)
def test_host_accepts(tuning, host, starts):
    assert host_problems(tuning, host, vcpus=2, memory=GiB, starts=starts) == []


def test_default_tpm_follows_the_host():
    assert default_tpm(SWTPM) == Tpm(model="tpm-crb")
    assert default_tpm(SWTPM.with_changes(tpm_models=("tpm-tis",))) == Tpm(model="tpm-tis")
    assert default_tpm(NO_SWTPM) is None and default_tpm(TuningHost()) is None


def test_free_pages_read_from_sysfs(tmp_path):
    (tmp_path / "hugepages-2048kB").mkdir()
    (tmp_path / "hugepages-2048kB" / "free_hugepages").write_text("12\n")
    assert read_free_pages((2048, 1 << 20), str(tmp_path)) == ((2048, 12),)


def request(**params):
    params.setdefault("install", dict(method="import"))
    params.setdefault("disks", [dict(path="/var/lib/libvirt/images/dvb.img", format="raw")])
    return GuestRequest.from_params(dict(name="dvb-read", **params))


def test_an_rng_source_the_host_lacks_is_found_where_the_module_runs_on_it(test_client, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import tuning_host

    monkeypatch.setattr(tuning_host, "_is_char_device", lambda path: path != "/dev/hwrng")
    hwrng = request(rng={"backend": "/dev/hwrng"})
    assert read_tuning_host(test_client, hwrng, GuestState(), local=True).missing_rng_source == "/dev/hwrng"
    assert read_tuning_host(test_client, hwrng, GuestState(), local=False).missing_rng_source is None  # not this host's
    assert read_tuning_host(test_client, request(rng=True), GuestState(), local=True).missing_rng_source is None


def test_a_character_device_is_told_from_a_file(tmp_path):
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_host import _is_char_device

    (tmp_path / "hwrng").write_text("")
    assert _is_char_device("/dev/null") and not _is_char_device(str(tmp_path / "hwrng"))
    assert not _is_char_device(str(tmp_path / "missing"))


def test_topology_is_read_only_for_its_options(test_client):
    assert read_tuning_host(test_client, request(rng=True), GuestState(), local=False).cpus == ()
    host = read_tuning_host(test_client, request(numa={"nodeset": "0"}), GuestState(), local=False)
    assert host.cpus == tuple(range(16)) and host.numa_nodes == (0, 1)


def test_read_host_lists_the_tuning_refusals(test_client):
    """virt_preflight and the module see the same refusals (the test driver has CPUs 0-15, nodes 0-1)."""
    params = dict(vcpus=1, cpu_pinning={"vcpus": {1: "16"}}, numa={"nodeset": "2"})
    problems = read_host(test_client, request(**params))[1]
    assert [problem.split(" ")[0] for problem in problems if "cpu_pinning" in problem or "numa" in problem] == [
        "cpu_pinning.vcpus",
        "cpu_pinning.vcpus[1]",
        "numa.nodeset",
    ]


@pytest.mark.parametrize(
    "params, new, active, expected",
    [
        (dict(), True, False, False),  # an import defined with state present
        (dict(state="running"), True, False, True),
        (dict(install=dict(method="pxe"), networks=[dict(network="default")]), True, False, True),
        (dict(state="running"), False, True, False),
        (dict(state="running"), False, False, True),
    ],
)
def test_which_runs_start_the_guest(params, new, active, expected):
    assert starts(request(**params), new, active) is expected


I440FX = TuningHost(domain_capabilities_read=True, max_vcpus=255, default_machine="pc-i440fx-7.2")


@pytest.mark.parametrize(
    "params, existing_vcpus, refused",
    [
        (dict(vcpus=256), None, True),  # a new guest over the default machine type's limit
        (dict(vcpus=255), None, False),
        (dict(vcpus=256, machine="q35"), None, False),  # another machine type: not what the capabilities describe
        (dict(vcpus=300), 2, True),  # a change over the limit
        (dict(), 300, False),  # what an existing guest has was accepted
        (dict(vcpus=300), 300, False),
    ],
)
def test_vcpus_over_the_machine_types_limit_are_refused(params, existing_vcpus, refused):
    """libvirt refuses them only when it defines the guest: check mode and virt_preflight say so first."""
    existing = None
    if existing_vcpus is not None:
        existing = Domain.from_xml(
            "<domain type='qemu'><name>dvb-read</name><memory>1048576</memory><vcpu>%d</vcpu>"
            "<os><type machine='pc-i440fx-7.2'>hvm</type></os></domain>" % existing_vcpus
        )
    problems = tuning_problems(request(**params), GuestState(existing=existing, tuning_host=I440FX))
    assert bool(problems) is refused
    if refused:
        assert problems[0].startswith(
            "vcpus %d is more than machine type pc-i440fx-7.2 takes on this host (255)" % params["vcpus"]
        )


def test_a_new_guest_reads_the_vcpu_limit_and_a_converged_one_does_not(test_client):
    assert read_tuning_host(test_client, request(vcpus=2), GuestState(), local=False) is not None
    state = GuestState(existing=Domain(name="dvb-read", vcpus=2))
    assert not state.sets_vcpus(2, False) and state.sets_vcpus(3, False) and state.sets_vcpus(2, True)


@pytest.mark.parametrize("machine, limit", [("pc", 255), ("q35", 288)])
def test_a_named_machine_type_is_checked_against_its_own_limit(machine, limit):
    """machine: pc or q35 with too many vCPUs was planned, then refused by libvirt at define."""
    host = I440FX.with_vcpu_limit(
        "<domainCapabilities><machine>pc-%s-7.2</machine><vcpu max='%d'/></domainCapabilities>"
        % ("i440fx" if machine == "pc" else "q35", limit),
        machine,
    )
    problems = tuning_problems(request(vcpus=limit + 1, machine=machine), GuestState(tuning_host=host))
    assert problems and problems[0].startswith("vcpus %d is more than machine type pc-" % (limit + 1))
    assert not tuning_problems(request(vcpus=limit, machine=machine), GuestState(tuning_host=host))
    unread = I440FX.with_vcpu_limit(None, machine)
    assert not tuning_problems(request(vcpus=4096, machine=machine), GuestState(tuning_host=unread))

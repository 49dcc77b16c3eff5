"""virt_guest_install's flow through libvirt's embedded test driver (no daemon, real libvirt calls).

The test driver cannot run installers, so guests here are imported (``install.method: import``)
with ``domain_type: test``; defining, starting, destroying and undefining are all real.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time

import libvirt
import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import changing, file_key
from ansible_collections.remotevirt.install.plugins.module_utils._guest import host as guest_host
from ansible_collections.remotevirt.install.plugins.module_utils._guest import runner as guest_runner
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
    forget_install_mark,
    install_pending_since,
    install_started_at,
    with_install_pending,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume import runner as volume_runner
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import run as run_volume
from host_logs import a_host_log
from qcow2_headers import qcow2_header
from runner_params import (
    POOL,
    disk,
    file_volume,
    guest,
    half_made_download,
    install,
    network,
    params,
    volume_params,
    volume_path,
    volumes,
)


def verbs(result):
    return [step["action"] for step in result["plan"]]


def stored(client, name):
    return Domain.from_xml(client.domain_definition(client.find_domain(name)))


def test_check_then_apply_then_converged(unique_name, test_client):
    """Check mode plans exactly what the real run does; a second run, real or checked, changes nothing."""
    name = unique_name("")
    wanted = guest(name)
    check = run(wanted, check_mode=True, diff=True)
    assert check["changed"] and verbs(check) == ["create", "define"]
    assert check["plan"][0]["command"] == (
        "virsh -c test:///default vol-create-as --pool default-pool --name %s-disk0.qcow2 --capacity 1048576 "
        "--allocation 0 --format qcow2" % name
    )
    assert check["plan"][1]["command"] == "virsh -c test:///default define %s.xml" % name
    assert check["diff"]["before"] == "" and '<memory unit="KiB">262144</memory>' in check["diff"]["after"]
    assert check["domain"]["uuid"] is None and check["domain"]["state"] == "shut off"
    assert check["created"] is True
    assert test_client.find_domain(name) is None and name + "-disk0.qcow2" not in volumes(test_client)

    real = run(wanted, check_mode=False, diff=True)
    assert real["plan"] == check["plan"] and real["diff"] == check["diff"]
    assert not real["reboot_required"] and real["created"] is True
    facts = real["domain"]
    assert facts["state"] == "shut off" and facts["uuid"] == stored(test_client, name).uuid
    assert len(facts["macs"]) == 1 and facts["disks"] == [
        {"target": "vda", "source": "%s/%s-disk0.qcow2" % (POOL, name), "device": "disk", "size": 1048576}
    ]
    assert facts["serial_log"] == "/var/log/libvirt/qemu/%s-serial.log" % name

    again = run(wanted, check_mode=False, diff=True)
    assert not again["changed"] and again["plan"] == [] and not again["reboot_required"]
    assert again["created"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    checked = run(wanted, check_mode=True, diff=True)
    assert checked["plan"] == again["plan"] == []
    assert checked["diff"] == again["diff"]
    assert checked["domain"] == again["domain"] == facts


def test_facts_carry_what_a_preview_shows(unique_name, test_client):
    """memory in MiB, vCPUs, each disk's size and each network: read from the definition and the
    volumes, the same in check mode and after the run."""
    name = unique_name("")
    wanted = guest(name, vcpus=2, disks=[disk(size="1M"), disk(size="2M", format="raw")])
    check = run(wanted, check_mode=True, diff=False)
    facts = check["domain"]
    assert facts["memory"] == 256 and facts["vcpus"] == 2 and facts["networks"] == ["network default"]
    assert [(entry["source"], entry["size"]) for entry in facts["disks"]] == [
        ("%s/%s-disk0.qcow2" % (POOL, name), 1048576),
        ("%s/%s-disk1.img" % (POOL, name), 2097152),
    ]
    assert "media" not in check  # an import installs nothing
    real = run(wanted, check_mode=False, diff=False)
    assert {key: real["domain"][key] for key in ("memory", "vcpus", "networks", "disks")} == {
        key: facts[key] for key in ("memory", "vcpus", "networks", "disks")
    }


def test_media_of_an_install_is_named_without_credentials(unique_name, test_client, tmp_path):
    """A planned install says how the installer boots; URL credentials are masked and an inline
    kickstart is only named."""
    iso = tmp_path / "mini.iso"
    iso.write_bytes(b"\0" * 4096)
    cdrom = run(guest(unique_name(""), install=install(method="cdrom", cdrom={"path": str(iso)})), check_mode=True, diff=False)
    assert cdrom["media"] == {"method": "cdrom", "source": str(iso), "kickstart": None}
    pxe = run(guest(unique_name(""), install=install(method="pxe")), check_mode=True, diff=False)
    assert pxe["media"] == {"method": "pxe", "source": None, "kickstart": None}


def test_results_stay_small_without_diff(unique_name, test_client):
    """Without diff mode no XML is returned."""
    result = run(guest(unique_name("")), check_mode=True, diff=False)
    assert "diff" not in result
    assert "<" not in repr(result)
    done = run(guest(unique_name("")), check_mode=False, diff=False)
    assert "diff" not in done and "<" not in repr(done)


def test_running_guest_is_started_and_autostarted(unique_name, test_client):
    """state running starts an imported guest at once; autostart is set in libvirt."""
    name = unique_name("")
    result = run(guest(name, state="running", autostart=True), check_mode=False, diff=False)
    assert verbs(result) == ["create", "define", "autostart", "start"]
    assert result["domain"]["state"] == "running"
    domain = test_client.find_domain(name)
    assert test_client.domain_is_active(domain) and test_client.domain_autostart(domain)
    off = run(guest(name, autostart=False), check_mode=False, diff=False)
    assert [step["command"] for step in off["plan"]] == ["virsh -c test:///default autostart --disable %s" % name]
    assert not test_client.domain_autostart(domain)


def test_the_diff_shows_power_state_and_autostart(unique_name, test_client):
    """Neither is in a definition, so each side ends with a comment that says them: a run that only
    starts a guest or changes its autostart shows a difference, check mode the same as the real run."""
    name = unique_name("")
    first = run(guest(name), check_mode=False, diff=True)
    assert first["diff"]["before"] == ""
    assert first["diff"]["after"].endswith("</domain>\n<!-- state: shut off; autostart: off -->\n")
    wanted = guest(name, state="running", autostart=True)
    checked = run(wanted, check_mode=True, diff=True)
    real = run(wanted, check_mode=False, diff=True)
    assert verbs(real) == ["autostart", "start"] and checked["diff"] == real["diff"]
    assert real["diff"]["before"].endswith("<!-- state: shut off; autostart: off -->\n")
    assert real["diff"]["after"].endswith("<!-- state: running; autostart: on -->\n")
    again = run(wanted, check_mode=False, diff=True)
    assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"] == real["diff"]["after"]
    gone = run(params(name=name, install=None, state="absent"), check_mode=False, diff=True)
    assert gone["diff"]["before"] == real["diff"]["after"] and gone["diff"]["after"] == ""


@pytest.mark.parametrize("state, active", [("running", True), ("present", False)])
def test_memory_drift_updates_in_place(unique_name, test_client, state, active):
    """Drift is one define of the stored definition: uuid and MACs stay; a running guest needs a reboot."""
    name = unique_name("")
    first = run(guest(name, state=state), check_mode=False, diff=False)
    assert first["domain"]["state"] == ("running" if active else "shut off")
    before = stored(test_client, name)

    drift = run(guest(name, state=state, memory="512M"), check_mode=False, diff=True)
    assert verbs(drift) == ["define"] and drift["plan"][0]["command"] == "virsh -c test:///default define %s.xml" % name
    assert drift["reboot_required"] is active and drift["created"] is False
    assert "262144" in drift["diff"]["before"] and "524288" in drift["diff"]["after"]
    after = stored(test_client, name)
    assert after.memory == 512 << 20
    assert after == before.with_changes(memory=512 << 20)
    assert (after.uuid, after.macs) == (before.uuid, before.macs)
    assert drift["domain"]["uuid"] == before.uuid and drift["domain"]["macs"] == list(before.macs)
    live = Domain.from_xml(test_client.find_domain(name).XMLDesc(0))
    assert live.memory == (256 << 20 if active else 512 << 20)

    # Until the guest starts again, later runs say so too, check mode included.
    again = run(guest(name, state=state, memory="512M"), check_mode=False, diff=False)
    assert not again["changed"] and again["reboot_required"] is active
    assert run(guest(name, state=state, memory="512M"), check_mode=True, diff=False)["reboot_required"] is active
    if active:
        test_client.find_domain(name).destroy()
        restarted = run(guest(name, state=state, memory="512M"), check_mode=False, diff=False)
        assert verbs(restarted) == ["start"] and not restarted["reboot_required"]
        assert Domain.from_xml(test_client.find_domain(name).XMLDesc(0)).memory == 512 << 20


def test_a_change_undone_is_pending_no_more(unique_name, test_client):
    """Changed and changed back while running: the guest runs its stored definition again."""
    name = unique_name("")
    run(guest(name, state="running"), check_mode=False, diff=False)
    assert run(guest(name, state="running", memory="512M"), check_mode=False, diff=False)["reboot_required"]
    back = run(guest(name, state="running", memory="256M"), check_mode=False, diff=False)
    assert back["changed"] and not back["reboot_required"]
    assert not run(guest(name, state="running", memory="256M"), check_mode=False, diff=False)["reboot_required"]


def test_a_change_rolled_back_is_not_pending(unique_name, test_client, monkeypatch):
    """The mark goes in before the define; a later step failing puts the old definition back, which is
    the one the guest started from."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError

    name = unique_name("")
    run(guest(name, state="running"), check_mode=False, diff=False)

    def refused(self, domain, enable):
        raise LibvirtError("set autostart of guest", name, "refused")

    with monkeypatch.context() as patched:
        patched.setattr(Client, "set_domain_autostart", refused)
        with pytest.raises(RunError, match="rolled back"):
            run(guest(name, state="running", memory="512M", autostart=True), check_mode=False, diff=False)
    assert stored(test_client, name).memory == 256 << 20
    again = run(guest(name, state="running"), check_mode=False, diff=False)
    assert not again["changed"] and not again["reboot_required"]


def test_a_mark_copied_into_the_stored_definition_is_dropped(unique_name, test_client):
    """virsh dumpxml of the running guest (its live metadata too), defined again and started: the guest
    runs what is stored; the next change stores no copy."""
    name = unique_name("")
    run(guest(name, state="running"), check_mode=False, diff=False)
    run(guest(name, state="running", memory="512M"), check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    test_client.conn.defineXML(domain.XMLDesc(0))
    domain.destroy()
    domain.create()  # runs its stored definition: the live one it was copied from, of 256 MiB
    assert not run(guest(name, state="running", memory="256M"), check_mode=False, diff=False)["reboot_required"]
    changed = run(guest(name, state="running", memory="384M"), check_mode=False, diff=False)
    assert changed["reboot_required"]
    assert "pending/1" not in test_client.find_domain(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)


def test_a_changed_console_password_stays_pending(unique_name, test_client):
    """No digest covers a password (the live mark is readable on a read-only connection): the change
    that gives the running guest another one says so in its mark, until the guest starts again."""
    graphics = {"type": "vnc", "listen": "127.0.0.1", "port": None}
    name = unique_name("")
    run(guest(name, state="running", graphics=dict(graphics, password="old-pw1")), check_mode=False, diff=False)
    run(guest(name, state="running", memory="512M", graphics=dict(graphics, password="old-pw1")), check_mode=False, diff=False)
    changed = run(
        guest(name, state="running", memory="512M", graphics=dict(graphics, password="new-pw1")), check_mode=False, diff=False
    )
    assert changed["reboot_required"]
    again = run(
        guest(name, state="running", memory="256M", graphics=dict(graphics, password="new-pw1")), check_mode=False, diff=False
    )
    assert again["changed"] and again["reboot_required"]
    assert "pw1" not in test_client.find_domain(name).XMLDesc(0).split("<metadata>")[-1].split("</metadata>")[0]


def test_a_diff_of_a_password_change_says_that_a_masked_value_changed(unique_name, test_client):
    """Both sides of the diff mask the password: a change of it alone shows as a change, never the password."""
    graphics = {"type": "vnc", "listen": "127.0.0.1", "port": None}
    name = unique_name("")
    run(guest(name, state="running", graphics=dict(graphics, password="old-pw1")), check_mode=False, diff=False)
    for check_mode in (True, False):
        changed = run(guest(name, state="running", graphics=dict(graphics, password="new-pw1")), check_mode=check_mode, diff=True)
        diff = changed["diff"]
        assert changed["changed"] and diff["before"] != diff["after"]
        assert "<!-- changed: a value shown masked (a password, a URL's credentials) -->" in diff["after"]
        assert "pw1" not in diff["before"] + diff["after"]
    unchanged = run(guest(name, state="running", graphics=dict(graphics, password="new-pw1")), check_mode=False, diff=True)
    assert not unchanged["changed"] and "a value shown masked" not in unchanged["diff"]["after"]


def test_a_cpu_mode_changed_back_is_pending_no_more(unique_name, test_client):
    """libvirt stores the cpu element in its own place and form; the run that changes it back and the
    runs after it agree."""
    name = unique_name("")
    run(guest(name, state="running", cpu="host-model"), check_mode=False, diff=False)
    assert run(guest(name, state="running", cpu="maximum"), check_mode=False, diff=False)["reboot_required"]
    checked = run(guest(name, state="running", cpu="host-model"), check_mode=True, diff=False)
    back = run(guest(name, state="running", cpu="host-model"), check_mode=False, diff=False)
    after = run(guest(name, state="running", cpu="host-model"), check_mode=False, diff=False)
    assert checked["reboot_required"] is back["reboot_required"] is after["reboot_required"] is False


def test_network_change_keeps_the_mac(unique_name, test_client):
    """A card moved to another kind of network keeps the MAC libvirt generated for it."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    mac = stored(test_client, name).macs[0]
    result = run(guest(name, networks=[network(network=None, type="user")]), check_mode=False, diff=False)
    assert verbs(result) == ["define"] and result["domain"]["macs"] == [mac]
    assert stored(test_client, name).interfaces[0].type == "user"


def test_disk_growth_is_planned_and_shrinking_refused(unique_name, test_client):
    """A larger size for an existing guest disk plans a resize only (the test driver cannot resize, so
    check mode); a smaller one is refused."""
    name = unique_name("")
    run(guest(name, disks=[disk(size="2M")]), check_mode=False, diff=False)
    result = run(guest(name, disks=[disk(size="3M")]), check_mode=True, diff=False)
    assert [step["command"] for step in result["plan"]] == [
        "virsh -c test:///default vol-resize --pool default-pool %s-disk0.qcow2 3145728" % name
    ]
    with pytest.raises(RunError, match="is 2M, larger than size 1M; guest disks are never shrunk"):
        run(guest(name, disks=[disk(size="1M")]), check_mode=True, diff=False)


def test_import_of_an_existing_volume(unique_name, test_client):
    """import boots a volume that is there already: the plan only defines the guest."""
    name = unique_name("")
    xml = "<volume><name>%s.img</name><capacity>1048576</capacity></volume>" % name
    test_client.create_volume(test_client.find_pool(POOL), xml)
    result = run(guest(name, disks=[disk(volume=name + ".img")]), check_mode=False, diff=False)
    assert verbs(result) == ["define"]
    assert result["domain"]["disks"][0]["source"] == "%s/%s.img" % (POOL, name)


def test_absent_with_remove_storage_deletes_the_volume(unique_name, test_client):
    """absent destroys and undefines; remove_storage also deletes the guest's volumes; then nothing is left."""
    name = unique_name("")
    run(guest(name, state="running"), check_mode=False, diff=False)
    volume = name + "-disk0.qcow2"
    absent = params(name=name, install=None, state="absent", remove_storage=True)
    check = run(absent, check_mode=True, diff=False)
    assert [step["command"] for step in check["plan"]] == [
        "virsh -c test:///default destroy %s" % name,
        "virsh -c test:///default vol-delete --pool default-pool %s" % volume,
        "virsh -c test:///default undefine --nvram %s" % name,
    ]
    assert all(step["destructive"] for step in check["plan"])
    assert test_client.find_domain(name) is not None and volume in volumes(test_client)

    gone = run(absent, check_mode=False, diff=False)
    assert gone["plan"] == check["plan"] and gone["domain"] == {"name": name, "state": "absent"}
    assert test_client.find_domain(name) is None and volume not in volumes(test_client)
    assert not run(absent, check_mode=False, diff=False)["changed"]


def test_absent_keeps_storage_by_default(unique_name, test_client):
    """Without remove_storage the guest's volume outlives it."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    result = run(params(name=name, install=None, state="absent"), check_mode=False, diff=False)
    assert verbs(result) == ["undefine"]
    assert test_client.find_domain(name) is None and name + "-disk0.qcow2" in volumes(test_client)


def test_reinstall_defines_the_guest_again_on_the_kept_disk(unique_name, test_client):
    """reinstall destroys the guest and replaces its definition (both destructive): same uuid, same volume."""
    name = unique_name("")
    first = run(guest(name, state="running"), check_mode=False, diff=False)
    again = run(guest(name, state="running", reinstall=True), check_mode=False, diff=False)
    assert [(step["action"], step["destructive"]) for step in again["plan"]] == [
        ("destroy", True),
        ("define", True),
        ("start", False),
    ]
    assert again["domain"]["uuid"] == first["domain"]["uuid"]
    assert again["domain"]["disks"] == first["domain"]["disks"] and again["domain"]["state"] == "running"


def test_reinstall_check_mode_predicts_the_kept_identity(unique_name, test_client):
    """Check mode of a reinstall reports the UUID and MAC addresses the real run keeps, and its diff
    does not show them going."""
    name = unique_name("")
    first = run(guest(name, networks=[network()]), check_mode=False, diff=False)
    preview = run(guest(name, networks=[network()], reinstall=True), check_mode=True, diff=True)
    assert preview["domain"]["uuid"] == first["domain"]["uuid"]
    assert preview["domain"]["macs"] == first["domain"]["macs"] != []
    assert "<uuid>%s</uuid>" % first["domain"]["uuid"] in preview["diff"]["after"]
    real = run(guest(name, networks=[network()], reinstall=True), check_mode=False, diff=True)
    assert real["domain"]["uuid"] == preview["domain"]["uuid"] and real["domain"]["macs"] == preview["domain"]["macs"]
    assert real["diff"] == preview["diff"]


REFUSALS = [
    (
        "unknown network",
        dict(networks=[network(network="no-such-net")]),
        "networks[0]: libvirt network 'no-such-net' does not exist on test:///default (virsh -c test:///default net-list --all)",
    ),
    ("unknown pool", dict(disks=[disk(pool="no-such-pool", size="1M")]), "storage pool 'no-such-pool' does not exist"),
    (
        "missing volume",
        dict(disks=[disk(volume="no-such.qcow2")]),
        "disks[0]: volume default-pool/no-such.qcow2 does not exist; give size to create it",
    ),
    (
        "missing host path",
        dict(disks=[disk(pool=None, path="/nonexistent/x.img")]),
        "disks[0]: path /nonexistent/x.img does not exist on the host",
    ),
    ("disk larger than the pool", dict(disks=[disk(size="1P")]), "free in pool default-pool"),
    ("no install method", dict(install=install(method=None)), "set install.method"),
    (
        "conflicting install",
        dict(install=install(method="pxe", location="http://127.0.0.1/os")),
        "conflicts with install.location",
    ),
    ("unreachable uri", dict(uri="qemu+unix:///system?socket=/nonexistent"), "connect to"),
]


@pytest.mark.parametrize(
    "overrides, message", [case[1:] for case in REFUSALS], ids=[case[0].replace(" ", "-") for case in REFUSALS]
)
def test_refusals_leave_nothing(unique_name, test_client, overrides, message):
    """A refusal happens before any change: no guest is defined and no volume created."""
    name = unique_name("")
    before = volumes(test_client)
    with pytest.raises(RunError) as error:
        run(guest(name, **overrides), check_mode=False, diff=False)
    assert message in str(error.value)
    assert error.value.plan is None and not error.value.changed
    assert test_client.find_domain(name) is None and volumes(test_client) == before


def test_more_vcpus_than_any_machine_has_are_refused_before_anything_is_made(unique_name, test_client):
    """Refused at plan time (libvirt's schema would refuse the definition only after the volume was made);
    the rollback of a definition libvirt refuses is proved on the real daemon by the integration tests."""
    name = unique_name("")
    before = volumes(test_client)
    with pytest.raises(RunError) as error:
        run(guest(name, vcpus=100000), check_mode=False, diff=False)
    assert str(error.value) == "vcpus must be at most 4096"
    assert error.value.plan is None and not error.value.changed
    assert test_client.find_domain(name) is None and volumes(test_client) == before


def start_transient(test_client, name):
    xml = "<domain type='test'><name>%s</name><memory>262144</memory><os><type>hvm</type></os></domain>" % name
    return test_client.conn.createXML(xml, 0)


def test_transient_guest_is_refused(unique_name, test_client):
    """A guest running without a stored definition is not taken over."""
    name = unique_name("")
    domain = start_transient(test_client, name)
    try:
        with pytest.raises(RunError, match="guest %s is running without a stored definition" % name):
            run(guest(name), check_mode=True, diff=False)
    finally:
        domain.destroy()


def test_transient_guest_is_removed_by_absent(unique_name, test_client):
    """state absent destroys a transient guest of that name; the second run has nothing to do."""
    name = unique_name("")
    start_transient(test_client, name)
    absent = params(name=name, install=None, state="absent")
    assert verbs(run(absent, check_mode=False, diff=False)) == ["destroy"]
    assert test_client.find_domain(name) is None
    assert verbs(run(absent, check_mode=False, diff=False)) == []


def test_transient_guest_is_replaced_by_reinstall(unique_name, test_client):
    """reinstall destroys a transient guest of that name and installs the guest."""
    name = unique_name("")
    start_transient(test_client, name)
    result = run(guest(name, reinstall=True), check_mode=False, diff=False)
    assert verbs(result)[0] == "destroy" and "define" in verbs(result)
    assert result["created"] is False  # it ran before this run, without a definition
    assert test_client.domain_is_persistent(test_client.find_domain(name))


def test_fixed_field_refusal_on_an_existing_guest(unique_name, test_client):
    """A platform field that differs from the stored guest is refused with a pointer to reinstall."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    with pytest.raises(RunError) as error:
        run(guest(name, arch="i686"), check_mode=True, diff=False)
    assert "arch (x86_64, wanted i686)" in str(error.value) and "reinstall: true" in str(error.value)


def test_explicit_second_target_converges(unique_name, test_client):
    """disks [target vdb, next free (vda)]: the second run changes nothing."""
    name = unique_name("")
    wanted = guest(name, disks=[disk(size="1M", target="vdb"), disk(size="1M")])
    run(wanted, check_mode=False, diff=False)
    assert [d.target for d in stored(test_client, name).disks] == ["vda", "vdb"]
    assert run(wanted, check_mode=False, diff=False)["plan"] == []


def test_a_disk_another_guest_uses_is_refused_unless_allowed(unique_name, test_client):
    """A new guest never silently gets the disk of another guest; allow_in_use says it is meant."""
    owner, intruder = unique_name(""), unique_name("")
    run(guest(owner), check_mode=False, diff=False)
    shared = [disk(volume=owner + "-disk0.qcow2")]
    with pytest.raises(RunError, match=r"disks\[0\]: default-pool/%s-disk0.qcow2 is used by guest\(s\) %s; " % (owner, owner)):
        run(guest(intruder, disks=shared), check_mode=True, diff=False)
    assert test_client.find_domain(intruder) is None
    run(guest(intruder, disks=[disk(volume=owner + "-disk0.qcow2", allow_in_use=True)]), check_mode=False, diff=False)
    # Its own disk is not asked about again on later runs.
    assert run(guest(owner), check_mode=False, diff=False)["plan"] == []


def test_remove_storage_keeps_a_volume_another_guest_uses(unique_name, test_client):
    owner, other = unique_name(""), unique_name("")
    run(guest(owner), check_mode=False, diff=False)
    run(guest(other, disks=[disk(volume=owner + "-disk0.qcow2", allow_in_use=True)]), check_mode=False, diff=False)
    with pytest.raises(RunError, match="is also needed by guest\\(s\\) %s" % other):
        run(params(name=owner, install=None, state="absent", remove_storage=True), check_mode=True, diff=False)


# == hostile and careless inputs (each a way found to break a promise) =========================
# -- a disk another guest or volume needs -----------------------------------------------------
def test_a_volume_that_backs_another_volume_is_not_installed_onto(unique_name, test_client):
    base, overlay = unique_name(".qcow2"), unique_name(".qcow2")
    run_volume(volume_params(name=base, capacity="1M"), check_mode=False, diff=False)
    run_volume(volume_params(name=overlay, backing_volume=base), check_mode=False, diff=False)
    with pytest.raises(RunError, match="allow_in_use"):
        run(guest(unique_name(""), disks=[disk(volume=base)]), check_mode=True, diff=False)


def test_the_path_of_another_guests_volume_is_not_attached_without_allow_in_use(unique_name, test_client, file_pool):
    first = unique_name("")
    run(guest(first, disks=[disk(pool=file_pool, size="1M")]), check_mode=False, diff=False)
    path = volume_path(test_client, file_pool, "%s-disk0.qcow2" % first)
    with open(path, "wb") as image:
        image.write(b"\0" * 4096)
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=path, format="qcow2")]), check_mode=True, diff=False)


@pytest.mark.parametrize("spelling", ["%s//%s", "%s/./%s"])
def test_another_spelling_of_a_used_path_is_not_attached_without_allow_in_use(unique_name, test_client, tmp_path, spelling):
    image = tmp_path / "shared.img"
    image.write_bytes(b"\0" * 4096)
    run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=False, diff=False)
    alias = spelling % (tmp_path, "shared.img")
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=alias)]), check_mode=True, diff=False)


@pytest.mark.parametrize("spelling", ["%s//%s", "%s/./%s", "link"])
def test_two_disks_on_one_file_however_spelled_are_refused(unique_name, test_client, tmp_path, spelling):
    """QEMU locks the file for the first disk and refuses the second at the start, after the define:
    refused at plan time, in check mode too, nothing defined."""
    image = tmp_path / "one.img"
    image.write_bytes(b"\0" * 4096)
    if spelling == "link":
        (tmp_path / "alias.img").symlink_to(image)
        alias = str(tmp_path / "alias.img")
    else:
        alias = spelling % (tmp_path, "one.img")
    name = unique_name("")
    twice = guest(name, disks=[disk(pool=None, path=str(image), format="raw"), disk(pool=None, path=alias, format="raw")])
    for check_mode in (True, False):
        with pytest.raises(RunError, match="disks\\[0\\] and disks\\[1\\] are both .* on the host; each disk needs its own"):
            run(twice, check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None


def test_a_disk_and_the_install_iso_on_one_file_are_refused(unique_name, test_client, tmp_path):
    """The guest would write over its own installer, and QEMU refuses the second lock at the start."""
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    (tmp_path / "boot.iso").symlink_to(image)
    name = unique_name("")
    wanted = guest(
        name,
        disks=[disk(pool=None, path=str(image), format="raw")],
        install=install(method="cdrom", cdrom={"path": str(tmp_path / "boot.iso")}),
    )
    for check_mode in (True, False):
        with pytest.raises(RunError, match="disks\\[0\\] and install.cdrom are both .*boot.iso on the host"):
            run(wanted, check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None


def test_a_volume_and_its_path_are_not_two_disks(unique_name, test_client, file_pool):
    name, volume = unique_name(""), unique_name(".img")
    path = file_volume(test_client, file_pool, volume)
    twice = guest(name, disks=[disk(pool=file_pool, volume=volume), disk(pool=None, path=str(path), format="raw")])
    for check_mode in (True, False):
        with pytest.raises(RunError, match="disks\\[0\\] and disks\\[1\\] are both %s on the host" % path):
            run(twice, check_mode=check_mode, diff=False)


def test_the_same_spelling_of_a_used_path_is_refused(unique_name, test_client, tmp_path):
    """What holds: the path exactly as the other guest has it."""
    image = tmp_path / "shared.img"
    image.write_bytes(b"\0" * 4096)
    run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=False, diff=False)
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=True, diff=False)


# -- half-made downloads ----------------------------------------------------------------------
def test_a_half_made_download_is_refused_as_a_volume_disk(unique_name, test_client, file_pool):
    """What holds: a pool disk on an unfinished download."""
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(guest(unique_name(""), disks=[disk(pool=file_pool, volume="half.img")]), check_mode=True, diff=False)


def test_a_half_made_download_is_not_booted_as_install_cdrom(unique_name, test_client, file_pool):
    half_made_download(test_client, file_pool, "half.iso")
    wanted = guest(
        unique_name(""),
        disks=[disk(pool=file_pool, size="1M")],
        install=install(method="cdrom", cdrom=dict(pool=file_pool, volume="half.iso", path=None)),
    )
    with pytest.raises(RunError, match="never finished"):
        run(wanted, check_mode=True, diff=False)


def _foreign_image(test_client, pool: str, name: str, directory) -> str:
    """A qcow2 volume another tool made: libvirt describes it as qcow2, its file carries no format record."""
    test_client.conn.storagePoolLookupByName(pool).createXML(
        "<volume><name>%s</name><capacity>1048576</capacity><target><format type='qcow2'/></target></volume>" % name, 0
    )
    path = directory / name
    path.write_bytes(b"QFI\xfb" + bytes(4092))
    return str(path)


def test_a_volume_that_reads_as_an_image_by_its_content_alone_is_no_install_iso(unique_name, test_client, file_pool, tmp_path):
    """libvirt reads a pool's files by their content, which a guest chose: an install ISO is read
    raw, never as qcow2 (whose header names files to open)."""
    _foreign_image(test_client, file_pool, "foreign.qcow2", tmp_path)
    cdrom = install(method="cdrom", cdrom=dict(pool=file_pool, volume="foreign.qcow2", path=None))
    for check_mode in (True, False):
        with pytest.raises(
            RunError, match="install.cdrom: volume %s/foreign.qcow2 reads as qcow2, .* an install ISO is read raw" % file_pool
        ):
            run(guest(unique_name(""), disks=[disk(pool=file_pool, size="1M")], install=cdrom), check_mode=check_mode, diff=False)


# BREAK (fixed): a raw volume made by another tool, into which its guest wrote a qcow2 header naming a
# host file, was attached as qcow2 when the guest was imported again (its definition gone), as
# libvirt reads it: QEMU opened the host file. Now the format a definition first attaches it as is
# recorded on its file, and later guests read it so.
def test_the_format_a_volume_of_another_tool_is_first_attached_as_is_kept(unique_name, test_client, file_pool, tmp_path):
    pool = test_client.conn.storagePoolLookupByName(file_pool)
    pool.createXML("<volume><name>other.img</name><capacity>1048576</capacity><target><format type='raw'/></target></volume>", 0)
    path = tmp_path / "other.img"
    path.write_bytes(bytes(1 << 20))
    try:
        os.setxattr(str(path), "user.remotevirt.probe", b"1")
    except OSError:
        pytest.skip("no user extended attributes here")
    name = unique_name("")
    wanted = guest(name, disks=[disk(pool=file_pool, volume="other.img")])
    assert run(wanted, check_mode=True, diff=False)["changed"]
    assert "user.remotevirt.format" not in os.listxattr(str(path))  # check mode records nothing
    run(wanted, check_mode=False, diff=False)
    assert os.getxattr(str(path), "user.remotevirt.format") == b"raw"
    run(params(name=name, install=None, state="absent"), check_mode=False, diff=False)
    # Its guest wrote a qcow2 header naming a host file; libvirt now reads the volume as qcow2 (the
    # test driver describes a volume as it was made: made again as qcow2, over the same file).
    path.write_bytes(qcow2_header(100 << 20, backing=b"/etc/shadow").ljust(1 << 20, b"\0"))
    pool.storageVolLookupByName("other.img").delete(0)
    pool.createXML(
        "<volume><name>other.img</name><capacity>104857600</capacity><target><format type='qcow2'/></target></volume>", 0
    )
    with pytest.raises(RunError, match="other.img was made as raw, but its content now reads as qcow2.*Give format raw"):
        run(wanted, check_mode=True, diff=False)
    run(guest(name, disks=[disk(pool=file_pool, volume="other.img", format="raw")]), check_mode=False, diff=False)
    assert "type='raw'" in test_client.conn.lookupByName(name).XMLDesc(0)
    assert "shadow" not in test_client.conn.lookupByName(name).XMLDesc(0)


# BREAK (fixed): a volume of another tool attached raw, into which its guest wrote a qcow2 header naming
# /etc/shadow (100M), was judged by that header: every later run was refused for a backing file QEMU
# never opens, and its size was taken from the header.
def test_a_volume_read_raw_is_judged_as_the_raw_file_it_is(unique_name, test_client, file_pool, tmp_path):
    path = tmp_path / "written.img"
    test_client.conn.storagePoolLookupByName(file_pool).createXML(
        "<volume><name>written.img</name><capacity>104857600</capacity><target><format type='qcow2'/></target></volume>", 0
    )
    path.write_bytes(qcow2_header(100 << 20, backing=b"/etc/shadow").ljust(10 << 20, b"\0"))
    name = unique_name("")
    raw = [disk(pool=file_pool, volume="written.img", format="raw")]
    assert run(guest(name, disks=raw), check_mode=False, diff=False)["changed"]
    for disks in (raw, [disk(pool=file_pool, volume="written.img")], [disk(pool=file_pool, volume="written.img", size="10M")]):
        again = run(guest(name, disks=disks), check_mode=False, diff=False)
        assert not again["changed"] and again["domain"]["disks"][0]["size"] == 10 << 20
    # the first run recorded raw on the file: the volume is used only as it is
    with pytest.raises(RunError, match="volume %s/written.img was made as raw, but its content now reads as qcow2" % file_pool):
        run(guest(name, disks=[disk(pool=file_pool, volume="written.img", size="20M")]), check_mode=True, diff=False)


def test_a_half_made_download_is_not_attached_by_its_path(unique_name, test_client, file_pool):
    path = half_made_download(test_client, file_pool, "half-path.img")
    with pytest.raises(RunError, match="never finished"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=path, format="raw")]), check_mode=True, diff=False)


def test_a_half_made_download_is_not_booted_as_install_cdrom_by_its_path(unique_name, test_client, file_pool):
    """install.cdrom.path on the file of a download that was stopped mid-way: refused like its volume."""
    path = half_made_download(test_client, file_pool, "half-cdrom.iso")
    wanted = guest(unique_name(""), install=install(method="cdrom", cdrom=dict(pool=None, volume=None, path=path)))
    with pytest.raises(RunError, match="install.cdrom: .*half-cdrom.iso is a download that never finished"):
        run(wanted, check_mode=True, diff=False)


def test_another_guests_written_disk_is_not_an_install_iso(unique_name, test_client):
    """The installer would read another guest's data, changing under it, as its media: refused by
    volume, and read-only disks (another guest's cdrom) stay allowed."""
    owner = unique_name("")
    run(guest(owner), check_mode=False, diff=False)
    volume = owner + "-disk0.qcow2"
    try:
        wanted = guest(unique_name(""), install=install(method="cdrom", cdrom=dict(pool=POOL, volume=volume, path=None)))
        for check_mode in (True, False):
            with pytest.raises(
                RunError, match="install.cdrom: %s/%s is a disk that guest\\(s\\) %s write" % (POOL, volume, owner)
            ):
                run(wanted, check_mode=check_mode, diff=False)
    finally:
        run(params(name=owner, install=None, state="absent", remove_storage=True), check_mode=False, diff=False)


def _install_tree(tmp_path):
    pxeboot = tmp_path / "tree" / "images" / "pxeboot"
    pxeboot.mkdir(parents=True)
    (pxeboot / "vmlinuz").write_bytes(b"kernel")
    (pxeboot / "initrd.img").write_bytes(b"initrd")
    return str(tmp_path / "tree")


def test_a_kickstart_larger_than_a_kickstart_is_refused_at_plan_time(unique_name, test_client, tmp_path, scripted_http):
    """A kickstart file named by mistake (an ISO, a disk image) would be read whole into memory and
    appended to the initrd; one behind a login would stop at the limit only after the kernel is fetched.
    Both are refused at plan time, so check mode predicts it."""
    from scripted_http import Route

    big = tmp_path / "install.iso"
    with open(big, "wb") as image:
        image.truncate((16 << 20) + 1)
    scripted_http.routes["/ks.cfg"] = Route(b"x", length=64 << 20, send=1)
    login_url = scripted_http.url("/ks.cfg").replace("http://", "http://u:s3cret@")
    location, boot_dir = _install_tree(tmp_path), str(tmp_path / "boot")
    for kickstart, size in ((str(big), (16 << 20) + 1), (login_url, 64 << 20)):
        tree = install(method="location", location=location, boot_dir=boot_dir, kickstart=kickstart)
        wanted = guest(unique_name(""), install=tree)
        for check_mode in (True, False):
            with pytest.raises(RunError, match="install.kickstart: %d bytes, more than the 16777216" % size):
                run(wanted, check_mode=check_mode, diff=False)
    assert not os.path.exists(boot_dir)
    fits = tmp_path / "ks.cfg"
    fits.write_bytes(b"rootpw --lock\n")
    wanted = guest(unique_name(""), install=install(method="location", location=location, boot_dir=boot_dir, kickstart=str(fits)))
    assert "(14 bytes) appended" in run(wanted, check_mode=True, diff=False)["plan"][2]["command"]


# -- waiting for an install ------------------------------------------------------------------------------
def test_a_wait_that_times_out_keeps_everything(unique_name, test_client, tmp_path, monkeypatch):
    """The test driver "runs" a cdrom install forever: the wait gives up after wait_timeout, the task fails
    saying the install goes on, reports changed, and neither the guest nor its new volume is rolled back;
    the next run does not install again."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import handlers

    monkeypatch.setattr(handlers, "WAIT_POLL_SECONDS", 0.02)
    iso = tmp_path / "install.iso"
    iso.write_bytes(b"\0" * 4096)
    name = unique_name("")
    wanted = guest(
        name, install=install(method="cdrom", cdrom=dict(pool=None, volume=None, path=str(iso))), wait=True, wait_timeout=1
    )
    with pytest.raises(RunError) as error:
        run(wanted, check_mode=False, diff=False)
    assert "install of %s still running after 1 s; it goes on" % name in str(error.value)
    assert "rolled back" not in str(error.value)
    assert error.value.changed
    assert [action.verb for action in error.value.plan.actions] == ["create", "define", "install", "wait"]
    domain = test_client.find_domain(name)
    assert domain is not None and test_client.domain_is_persistent(domain) and test_client.domain_is_active(domain)
    assert name + "-disk0.qcow2" in volumes(test_client)

    again = run(wanted, check_mode=True, diff=False)
    assert "install" not in verbs(again) and not any(step["destructive"] for step in again["plan"])
    run(params(name=name, install=None, state="absent", remove_storage=True), check_mode=False, diff=False)


def test_media_facts_of_a_location_mask_url_credentials():
    """An install tree behind a login and an inline kickstart: neither secret reaches the result."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.result import _media_facts

    tree = install(
        method="location",
        location="http://admin:s3cret-pw@mirror.example/tree/",
        kickstart_content="rootpw --plaintext s3cret-ks",
    )
    facts = _media_facts(GuestRequest.from_params(guest("web01", install=tree)))
    assert facts == {"method": "location", "source": "http://***@mirror.example/tree/", "kickstart": "inline"}
    url_kickstart = install(
        method="location", location="http://mirror.example/tree/", kickstart="http://u:s3cret-ks@ks.example/ks.cfg"
    )
    facts = _media_facts(GuestRequest.from_params(guest("web01", install=url_kickstart)))
    assert facts["kickstart"] == "http://***@ks.example/ks.cfg"


# -- the serial log ----------------------------------------------------------------------------
def installed_with_log(name, log):
    run(guest(name, serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("boot messages\n")


def test_absent_removes_the_serial_log_file(unique_name, test_client, tmp_path):
    """The removal plans `rm -f` of the file its stored definition names, shown in check mode, kept by rollback."""
    name, log = unique_name(""), tmp_path / "guest-serial.log"
    installed_with_log(name, log)
    absent = params(name=name, install=None, state="absent")
    check = run(absent, check_mode=True, diff=False)
    assert [(step["action"], step["command"]) for step in check["plan"]] == [
        ("remove", "rm -f %s" % log),
        ("undefine", "virsh -c test:///default undefine --nvram %s" % name),
    ]
    assert log.exists()
    done = run(absent, check_mode=False, diff=False)
    assert done["plan"] == check["plan"] and not log.exists()
    assert not run(absent, check_mode=False, diff=False)["changed"]


def test_keep_serial_log_keeps_the_file(unique_name, test_client, tmp_path):
    name, log = unique_name(""), tmp_path / "kept-serial.log"
    installed_with_log(name, log)
    result = run(params(name=name, install=None, state="absent", keep_serial_log=True), check_mode=False, diff=False)
    assert verbs(result) == ["undefine"] and log.read_text() == "boot messages\n"


def test_a_serial_log_that_is_a_link_is_never_followed(unique_name, test_client, tmp_path):
    name, log, target = unique_name(""), tmp_path / "link-serial.log", tmp_path / "precious"
    run(guest(name, serial_log=str(log)), check_mode=False, diff=False)
    target.write_text("not the guest's\n")
    log.symlink_to(target)
    result = run(params(name=name, install=None, state="absent"), check_mode=False, diff=False)
    assert verbs(result) == ["undefine"] and target.read_text() == "not the guest's\n" and log.is_symlink()


def test_a_serial_log_that_is_another_guests_disk_is_refused_and_never_deleted(unique_name, test_client, tmp_path):
    """A log that is another guest's file is refused for a new guest, in check mode too; a guest
    defined with one earlier keeps that file when it is removed."""
    owner, name, disk = unique_name(""), unique_name(""), tmp_path / "owner.img"
    disk.write_text("installed system\n")
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk></devices></domain>" % (owner, disk)
    )
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="serial_log: %s is a file guest %s uses" % (disk, owner)):
                run(guest(name, serial_log=str(disk)), check_mode=check_mode, diff=False)
        first = tmp_path / "first.log"
        run(guest(name, serial_log=str(first)), check_mode=False, diff=False)
        test_client.conn.defineXML(test_client.conn.lookupByName(name).XMLDesc(0).replace(str(first), str(disk)))
        assert "<source path='%s'" % disk in test_client.conn.lookupByName(name).XMLDesc(0)
        result = run(params(name=name, install=None, state="absent"), check_mode=False, diff=False)
        assert verbs(result) == ["undefine"] and disk.read_text() == "installed system\n"
    finally:
        domain.undefine()


@pytest.mark.parametrize("taken", ["app.log", "app.log.0", "app.log.2"])
def test_a_new_serial_log_that_holds_a_file_already_is_refused(unique_name, test_client, tmp_path, taken):
    """Another program's log (or one of its rotated names) as a new guest's serial log: libvirt's log
    daemon would rotate it away and the removal delete it. Refused in check mode too, nothing defined."""
    name, log = unique_name(""), tmp_path / "app.log"
    (tmp_path / taken).write_text("another program's lines\n")
    refusal = "serial_log: %s holds 24 bytes already and is no log of this guest" % (tmp_path / taken)
    for check_mode in (True, False):
        with pytest.raises(RunError, match=refusal):
            run(guest(name, serial_log=str(log)), check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None and (tmp_path / taken).read_text() == "another program's lines\n"


def test_an_empty_file_or_the_guests_own_log_is_taken(unique_name, test_client, tmp_path):
    """An empty file made ready for the log is taken, and so is a log the guest writes already."""
    name, log = unique_name(""), tmp_path / "ready.log"
    log.write_text("")
    run(guest(name, serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("boot messages\n")
    assert not run(guest(name, serial_log=str(log)), check_mode=False, diff=False)["changed"]


def test_a_disk_made_raw_is_never_switched_to_qcow2(unique_name, test_client, tmp_path):
    """The guest wrote its raw disk's content (a qcow2 header naming a host file, perhaps): a re-run
    asking for the disk as qcow2 is refused, in check mode too, and the definition keeps raw."""
    name, image = unique_name(""), tmp_path / "made-raw.img"
    image.write_bytes(b"\0" * 4096)
    os.setxattr(str(image), "user.remotevirt.format", b"raw")
    run(guest(name, disks=[disk(pool=None, path=str(image), format="raw")]), check_mode=False, diff=False)
    for check_mode in (True, False):
        with pytest.raises(RunError, match="was made as raw and the guest wrote its content, so it is never switched to qcow2"):
            run(guest(name, disks=[disk(pool=None, path=str(image), format="qcow2")]), check_mode=check_mode, diff=False)
    assert [stored_disk.format for stored_disk in stored(test_client, name).disks] == ["raw"]


def _reprobe(monkeypatch, name, capacity):
    """libvirt reads volume ``name`` as qcow2 of ``capacity`` bytes backed by a host file, as after a
    pool refresh once its guest wrote such a header."""
    described = Client.describe_volume

    def probed(self, volume):
        found = described(self, volume)
        return (
            found.with_changes(format="qcow2", capacity=capacity, backing_path="/etc/shadow", backing_format="raw")
            if found.name == name
            else found
        )

    monkeypatch.setattr(Client, "describe_volume", probed)


def _made_as(path, fmt):
    try:
        os.setxattr(str(path), "user.remotevirt.format", fmt)
    except OSError:
        pytest.skip("no user extended attributes here")


@pytest.fixture
def reprobed_volume(test_client, file_pool, unique_name, monkeypatch):
    """A 4 KiB volume made raw whose content libvirt now reads as qcow2 (its guest wrote the header),
    naming a host file as its backing file; its files taken as this host's."""
    name = unique_name(".img")
    _made_as(file_volume(test_client, file_pool, name), b"raw")
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    _reprobe(monkeypatch, name, 1 << 50)
    return name


def test_a_disk_on_a_volume_made_iso_whose_content_reads_as_qcow2_is_never_grown_as_qcow2(
    unique_name, test_client, file_pool, monkeypatch
):
    """libvirt would resize it as the qcow2 its header says (an external data file any host file):
    the disk the guest has is read as made, at its file's size, and its re-run converges."""
    name, volume = unique_name(""), unique_name(".iso")
    _made_as(file_volume(test_client, file_pool, volume), b"iso")
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    run(guest(name, disks=[disk(pool=file_pool, volume=volume)]), check_mode=False, diff=False)
    _reprobe(monkeypatch, volume, 2048)
    for fmt in ("raw", None):
        rerun = guest(name, disks=[disk(pool=file_pool, volume=volume, size="4K", format=fmt)])
        for check_mode in (True, False):
            assert not run(rerun, check_mode=check_mode, diff=False)["changed"]
    grown = guest(name, disks=[disk(pool=file_pool, volume=volume, size="8K", format="raw")])
    for check_mode in (True, False):
        with pytest.raises(RunError, match="was made as iso, but its content now reads as qcow2: .* used only as it is"):
            run(grown, check_mode=check_mode, diff=False)


def test_a_volume_made_raw_that_reads_as_qcow2_is_attached_as_made_when_asked_as_raw(
    unique_name, test_client, file_pool, reprobed_volume
):
    """format raw gets it raw, at its file's size, whatever header the guest wrote; without a format a
    new disk is refused (its user may take it for a qcow2 image), saying how to attach it. Re-runs
    converge, without format too (a header claiming 1 PiB is no shrink to refuse)."""
    name = unique_name("")
    unformatted = guest(name, disks=[disk(pool=file_pool, volume=reprobed_volume, size="4K")])
    for check_mode in (True, False):
        with pytest.raises(RunError, match="was made as raw, but its content now reads as qcow2: .* Give format raw to attach"):
            run(unformatted, check_mode=check_mode, diff=False)
    wanted = guest(name, disks=[disk(pool=file_pool, volume=reprobed_volume, size="4K", format="raw")])
    check = run(wanted, check_mode=True, diff=True)
    real = run(wanted, check_mode=False, diff=True)
    assert verbs(check) == verbs(real) == ["define"] and "/etc/shadow" not in str(real)
    assert [attached.format for attached in stored(test_client, name).disks] == ["raw"]
    for again in (wanted, unformatted, guest(name, disks=[disk(pool=file_pool, volume=reprobed_volume)])):
        for check_mode in (True, False):
            assert not run(again, check_mode=check_mode, diff=False)["changed"]


def test_a_volume_made_raw_that_reads_as_qcow2_is_never_attached_as_qcow2_nor_grown(
    unique_name, test_client, file_pool, reprobed_volume
):
    """As qcow2 it would be its header's image (its backing file any host file); grown, libvirt would
    resize it as qcow2: both refused in check mode as in the real run, nothing defined."""
    name = unique_name("")
    as_qcow2 = guest(name, disks=[disk(pool=file_pool, volume=reprobed_volume, format="qcow2")])
    grown = guest(name, disks=[disk(pool=file_pool, volume=reprobed_volume, size="8K", format="raw")])
    for check_mode in (True, False):
        with pytest.raises(RunError, match="was made as raw, but its content now reads as qcow2: .* not used as qcow2"):
            run(as_qcow2, check_mode=check_mode, diff=False)
        with pytest.raises(RunError, match="reads as qcow2: .* used only as it is. Ask for it as it is .size 4096 bytes, or no"):
            run(grown, check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None


def installed_from_cdrom(name, tmp_path, **overrides):
    iso = tmp_path / "boot.iso"
    iso.write_bytes(b"\0" * 4096)
    return guest(
        name, install=install(method="cdrom", cdrom={"path": str(iso)}), serial_log=str(tmp_path / "serial.log"), **overrides
    )


def test_an_install_clears_the_mark_of_an_install_not_started(unique_name, test_client, tmp_path):
    name = unique_name("")
    run(installed_from_cdrom(name, tmp_path), check_mode=False, diff=False)
    assert install_pending_since(test_client.domain_definition(test_client.find_domain(name))) is None


def test_a_guest_whose_install_never_started_is_refused_until_reinstalled(unique_name, test_client, tmp_path):
    """A run stopped between the define and the install's start left the guest defined and never
    installed: a re-run never takes it for installed (check mode says so too); reinstall installs it."""
    name = unique_name("")
    wanted = installed_from_cdrom(name, tmp_path)
    run(wanted, check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    test_client.destroy_domain(domain)
    test_client.define_domain(with_install_pending(test_client.domain_definition(domain), int(time.time()) + 60))
    for check_mode in (True, False):
        with pytest.raises(RunError, match="was defined by a run that stopped before its install .* with reinstall: true"):
            run(wanted, check_mode=check_mode, diff=False)
    assert "install" in verbs(run(dict(wanted, reinstall=True), check_mode=False, diff=False))
    assert install_pending_since(test_client.domain_definition(test_client.find_domain(name))) is None


def test_a_marked_guest_whose_serial_log_was_written_since_ran(unique_name, test_client, tmp_path):
    """Stopped right after the install started (before the mark was cleared): its serial log shows it ran."""
    name = unique_name("")
    wanted = installed_from_cdrom(name, tmp_path)
    run(wanted, check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    test_client.destroy_domain(domain)
    test_client.define_domain(with_install_pending(test_client.domain_definition(domain), int(time.time()) - 60))
    (tmp_path / "serial.log").write_text("installer output\n")
    assert not run(dict(wanted, state="present"), check_mode=False, diff=False)["changed"]


def qemu_log(directory, name, *events):
    """A QEMU log as libvirt writes it: ``events`` are (epoch seconds, "starting up" or a stop reason)."""
    lines = []
    for seconds, event in events:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + ".500+0000"
        said = "starting up libvirt version: 9.0.0" if event == "start" else "shutting down, reason=" + event
        lines.append("%s: %s\n" % (stamp, said))
    (directory / (name + ".log")).write_text("".join(lines))


def stopped_install(unique_name, test_client, tmp_path, monkeypatch):
    """A guest installed from a cdrom and stopped, its QEMU logs read from tmp_path: (name, the task's
    parameters, the guest, when its install started)."""
    monkeypatch.setattr(guest_host, "qemu_log_directory", lambda uri: str(tmp_path))
    name = unique_name("")
    wanted = installed_from_cdrom(name, tmp_path)
    run(wanted, check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    started = install_started_at(test_client.domain_definition(domain))
    assert started is not None
    test_client.destroy_domain(domain)
    return name, wanted, domain, started


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_install_whose_installer_was_destroyed_is_refused_until_reinstalled(
    unique_name, test_client, tmp_path, monkeypatch, check_mode
):
    """The installer destroyed mid-way (or the host gone down): its QEMU log says so, even after
    libvirtd restarted and forgot why the guest stopped; a re-run never boots the unfinished disk."""
    name, wanted, domain, started = stopped_install(unique_name, test_client, tmp_path, monkeypatch)
    assert install_pending_since(test_client.domain_definition(domain)) is None
    qemu_log(tmp_path, name, (started, "start"), (started + 5, "destroyed"))
    refusal = "guest %s: its install, started at .*, did not finish: QEMU stopped at .* \\(libvirt's reason: destroyed\\)" % name
    with pytest.raises(RunError, match=refusal):
        run(wanted, check_mode=check_mode, diff=False)
    assert not test_client.domain_is_active(domain)
    qemu_log(tmp_path, name, (started, "start"))  # the host went down: no end written
    with pytest.raises(RunError, match="libvirt recorded no end"):
        run(dict(wanted, state="present"), check_mode=check_mode, diff=False)
    assert "install" in verbs(run(dict(wanted, reinstall=True), check_mode=check_mode, diff=False))


def test_an_install_its_installer_ended_is_started_from_its_disk(unique_name, test_client, tmp_path, monkeypatch):
    name, wanted, domain, started = stopped_install(unique_name, test_client, tmp_path, monkeypatch)
    # The test driver's stop; the log says the installer ended it.
    earlier_life = ((started - 600, "start"), (started - 500, "destroyed"))
    qemu_log(tmp_path, name, *earlier_life, (started, "start"), (started + 9, "shutdown"))
    assert verbs(run(dict(wanted, state="running"), check_mode=False, diff=False)) == ["start"]
    assert install_started_at(test_client.domain_definition(domain)) is None  # started from its disk: mark dropped


TCG_CPU_MODES = """<domainCapabilities><cpu>
<mode name='host-passthrough' supported='no'/><mode name='maximum' supported='yes'/>
<mode name='host-model' supported='yes'/><mode name='custom' supported='yes'/></cpu></domainCapabilities>"""


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_cpu_mode_the_host_does_not_offer_is_refused_at_plan_time(unique_name, test_client, monkeypatch, check_mode):
    monkeypatch.setattr(Client, "domain_capabilities", lambda self, arch, virt_type, machine=None: TCG_CPU_MODES)
    name = unique_name("")
    with pytest.raises(
        RunError,
        match="cpu: mode host-passthrough is not offered by this host for test guests .x86_64.; choose host-model or maximum",
    ):
        run(guest(name, cpu="host-passthrough"), check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None
    assert "define" in verbs(run(guest(name, cpu="maximum"), check_mode=check_mode, diff=False))


def test_a_disk_or_install_iso_that_is_another_guests_log_is_refused(unique_name, test_client, tmp_path):
    owner, name, log = unique_name(""), unique_name(""), tmp_path / "owner-serial.log"
    run(guest(owner, serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("console of another guest\n")
    for check_mode in (True, False):
        with pytest.raises(RunError, match="is the serial or console log of guest %s" % owner):
            run(guest(name, disks=[disk(pool=None, path=str(log), format="raw")]), check_mode=check_mode, diff=False)
        with pytest.raises(RunError, match="is the serial or console log of guest %s" % owner):
            run(guest(name, install=install(method="cdrom", cdrom={"path": str(log)})), check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None


def test_absent_needs_no_install_options(unique_name, test_client):
    """What a removed guest was installed from is not read: even install options that a new install
    would refuse do not stop a removal."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    removal = params(name=name, state="absent", install=install(method="cdrom"), url_username="someone")
    assert verbs(run(removal, check_mode=False, diff=False)) == ["undefine"]


def test_a_missing_serial_log_directory_is_refused_in_check_mode_too(unique_name, test_client, tmp_path):
    """QEMU would fail to start the guest: refused at plan time with the same message either way."""
    name = unique_name("")
    wanted = guest(name, serial_log=str(tmp_path / "no-such-dir" / "x.log"))
    expected = (
        "serial_log: directory %s does not exist on the host, and the guest cannot start without it; create "
        "it (install -d -m 0700 %s) or set serial_log to a file in a directory that exists"
        % (tmp_path / "no-such-dir", tmp_path / "no-such-dir")
    )
    for check_mode in (True, False):
        with pytest.raises(RunError) as error:
            run(wanted, check_mode=check_mode, diff=False)
        assert str(error.value) == expected
    assert test_client.find_domain(name) is None


# -- every refusal of the host checks ----------------------------------------------------------
def test_host_problems_lists_every_refusal_and_a_run_reports_the_first(unique_name, test_client, tmp_path):
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import read_host, read_state
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest, Refusals

    name = unique_name("")
    request = GuestRequest.from_params(
        guest(
            name,
            disks=[disk(pool="no-such-pool", size="1M"), disk(pool=None, path="/nonexistent/x.img")],
            networks=[network(network="no-such-net")],
            serial_log=str(tmp_path / "gone" / "x.log"),
        )
    )
    problems = read_host(test_client, request)[1]
    assert problems == [
        "storage pool 'no-such-pool' does not exist on test:///default; define it first "
        "(virsh -c test:///default pool-define-as)",
        "disks[1]: path /nonexistent/x.img does not exist on the host",
        "networks[0]: libvirt network 'no-such-net' does not exist on test:///default (virsh -c test:///default net-list --all)",
        "serial_log: directory %s does not exist on the host, and the guest cannot start without it; create it "
        "(install -d -m 0700 %s) or set serial_log to a file in a directory that exists" % (tmp_path / "gone", tmp_path / "gone"),
    ]
    with pytest.raises(Refusals) as error:
        read_state(test_client, request)
    assert str(error.value) == problems[0] and error.value.messages == problems


def test_a_full_pool_hint_names_what_a_guest_disk_can_do(unique_name, test_client):
    """A guest disk has no overcommit option: the hint offers a smaller size, another pool or free space."""
    with pytest.raises(RunError) as error:
        run(guest(unique_name(""), disks=[disk(size="1P")]), check_mode=True, diff=False)
    assert "overcommit" not in str(error.value)
    assert str(error.value).startswith("disks[0]: volume default-pool/")
    assert str(error.value).endswith("; give the disk a smaller size, put it in another pool, or free space in pool default-pool")


def test_a_serial_log_that_is_a_directory_is_refused_in_check_mode_too(unique_name, test_client, tmp_path):
    """QEMU cannot open a directory as the console's file: refused at plan time, as check mode predicts."""
    name = unique_name("")
    for check_mode in (True, False):
        with pytest.raises(RunError, match="serial_log: %s is a directory" % tmp_path):
            run(guest(name, serial_log=str(tmp_path)), check_mode=check_mode, diff=False)
    assert test_client.find_domain(name) is None


# -- remote URIs -------------------------------------------------------------------------------
REMOTE_URI = "qemu+ssh://root@hv1/system"


@pytest.mark.parametrize(
    "overrides, refusal",
    [
        (
            dict(install=install(method="location", location="http://mirror.example/tree/")),
            "install method location fetches kernel and initrd onto the host: run the module on the hypervisor",
        ),
        (dict(cloud_init=dict(user_data=dict(password="x"))), "cloud_init writes its seed ISO on the host"),
        (dict(state="running", wait_for=dict(marker="login:")), "wait_for.marker reads the guest's serial log on the host"),
        # What only the host's file system could tell is left to libvirt there: no refusal from here.
        (dict(serial_log="/nonexistent/dir/x.log"), None),
        (dict(install=install(method="cdrom", cdrom=dict(path="/nonexistent/d.iso"))), None),
    ],
)
def test_remote_uri_refuses_what_needs_the_hosts_files(unique_name, test_client, monkeypatch, overrides, refusal):
    """Over a remote URI the module's files are the controller's: what would write or read files on the
    hypervisor is refused at plan time (so check mode predicts it); paths it would only check are not."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import read_host
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest

    request = GuestRequest.from_params(guest(unique_name(""), uri=REMOTE_URI, **overrides))
    monkeypatch.setattr(test_client, "uri", REMOTE_URI)  # the test driver, seen as a remote host's
    problems = read_host(test_client, request)[1]
    if refusal is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(refusal) and "local uri such as qemu:///system" in problems[0]


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_directory_at_the_seed_path_is_refused_before_anything_is_made(unique_name, test_client, tmp_path, check_mode):
    """The seed ISO is renamed into place: a directory there would fail the rename after the disks were
    made; check mode and the run refuse it first."""
    name = unique_name("")
    boot_dir = tmp_path / "boot"
    boot_dir.mkdir(mode=0o711)
    (boot_dir / ("remotevirt-%s-cidata.iso" % name)).mkdir()
    before = volumes(test_client)
    with pytest.raises(RunError) as error:
        run(
            guest(name, install=install(method="import", boot_dir=str(boot_dir)), cloud_init=dict(user_data=dict(hostname="a"))),
            check_mode=check_mode,
            diff=False,
        )
    assert "the seed ISO's path %s/remotevirt-%s-cidata.iso is taken by something that is not a file" % (boot_dir, name) in str(
        error.value
    )
    assert error.value.plan is None and not error.value.changed
    assert test_client.find_domain(name) is None and volumes(test_client) == before


def test_the_instance_id_of_a_changed_cloud_init_is_not_told(unique_name, test_client, tmp_path):
    """The guest keeps the instance-id of its first boot; a changed cloud_init would give another one,
    which the result must not report as the guest's."""
    name = unique_name("")
    boot_dir = tmp_path / "boot"
    boot_dir.mkdir(mode=0o711)

    def wanted(hostname):
        return guest(
            name, install=install(method="import", boot_dir=str(boot_dir)), cloud_init=dict(user_data=dict(hostname=hostname))
        )

    first = run(wanted("a"), check_mode=False, diff=False)["cloud_init"]
    try:
        assert first["instance_id"].startswith(name + "-") and not first["changed"]
        assert run(wanted("b"), check_mode=True, diff=False)["cloud_init"] == {"instance_id": None, "changed": True}
        assert run(wanted("a"), check_mode=True, diff=False)["cloud_init"] == first
    finally:
        run(params(name=name, install=None, state="absent", remove_storage=True), check_mode=False, diff=False)


def test_the_seed_of_a_first_boot_that_ended_is_removed_by_the_next_run(unique_name, test_client, tmp_path):
    """Its disks read, the run still reads the seed left from the first boot: removed, then the guest started."""
    name = unique_name("")
    boot_dir = tmp_path / "boot"
    boot_dir.mkdir(mode=0o711)
    wanted = dict(
        guest(name, install=install(method="import", boot_dir=str(boot_dir)), cloud_init=dict(user_data=dict(hostname="a"))),
        state="running",
    )
    run(wanted, check_mode=False, diff=False)
    try:
        test_client.destroy_domain(test_client.find_domain(name))  # the first boot powers the guest off
        after = run(wanted, check_mode=True, diff=False)
        assert [(step["action"], step["kind"]) for step in after["plan"]] == [("remove", "seed ISO"), ("start", "guest")]
    finally:
        run(params(name=name, install=None, state="absent", remove_storage=True), check_mode=False, diff=False)


def _define_with_volume_disk(client, name, pool, volume):
    """A guest another tool defined, whose disk is ``<disk type='volume'>`` of ``pool``/``volume``."""
    client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices>"
        "<disk type='volume' device='disk'><source pool='%s' volume='%s'/><target dev='vda' bus='virtio'/></disk>"
        "</devices></domain>" % (name, pool, volume)
    )


def test_remove_storage_skips_a_volume_disk_whose_pool_is_gone(unique_name, test_client):
    """A volume disk of a pool that no longer exists has nothing to delete: check mode plans only the
    undefine, and the real run does just that (it used to plan a vol-delete the run then failed on,
    after the guest was undefined)."""
    name = unique_name("")
    _define_with_volume_disk(test_client, name, name + "-gone-pool", name + ".img")
    absent = params(name=name, install=None, state="absent", remove_storage=True)
    check = run(absent, check_mode=True, diff=False)
    assert verbs(check) == ["undefine"]
    real = run(absent, check_mode=False, diff=False)
    assert real["plan"] == check["plan"] and test_client.find_domain(name) is None


def test_remove_storage_refuses_a_volume_disk_in_an_inactive_pool(unique_name, test_client):
    """A volume in a pool that is not active cannot be deleted: refused at plan time, by name."""
    name = unique_name("")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s-off</name><target><path>/%s-off</path></target></pool>" % (name, name), 0
    )
    try:
        _define_with_volume_disk(test_client, name, name + "-off", name + ".img")
        absent = params(name=name, install=None, state="absent", remove_storage=True)
        with pytest.raises(RunError, match="is in storage pool %s-off, which is not active" % name):
            run(absent, check_mode=True, diff=False)
        assert verbs(run(params(name=name, install=None, state="absent"), check_mode=False, diff=False)) == ["undefine"]
    finally:
        pool.undefine()


# -- boot files and kickstarts on the host ----------------------------------------------------
def test_a_boot_kernel_that_is_a_host_file_is_refused_but_a_host_kernel_is_not(unique_name, tmp_path):
    """QEMU reads boot.kernel into the guest: a link to /etc/hostname would hand it over; the host's
    own kernels under /boot are what such a boot is for."""
    link = tmp_path / "vmlinuz"
    link.symlink_to("/etc/hostname")
    with pytest.raises(RunError, match="boot.kernel: .* is one of the host's own files"):
        run(guest(unique_name(""), boot={"kernel": str(link)}), check_mode=True, diff=False)
    kernels = [name for name in os.listdir("/boot") if name.startswith("vmlinuz")] if os.path.isdir("/boot") else []
    if kernels:
        run(guest(unique_name(""), boot={"kernel": "/boot/" + kernels[0]}), check_mode=True, diff=False)


def test_a_kickstart_on_the_host_that_is_a_host_file_is_refused(unique_name, tmp_path):
    (tmp_path / "images" / "pxeboot").mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img"):
        (tmp_path / "images" / "pxeboot" / name).write_bytes(b"boot file")
    link = tmp_path / "ks.cfg"
    link.symlink_to("/etc/hostname")
    tree = install(method="location", location=str(tmp_path), kickstart=str(link))
    with pytest.raises(RunError, match="install.kickstart: .* is one of the host's own files"):
        run(guest(unique_name(""), install=tree), check_mode=True, diff=False)


def _define_with_disk_and_log(test_client, owner: str, disk, log) -> None:
    test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
        "<serial type='file'><source path='%s'/><target port='0'/></serial></devices></domain>" % (owner, disk, log)
    )


def test_boot_files_and_kickstarts_are_no_other_guests_disks_or_logs(unique_name, test_client, tmp_path):
    """QEMU reads boot.kernel and boot.initrd into the guest, and a kickstart on the host goes into
    its initrd: another guest's disk or console log would hand over that guest's data, in check mode
    as in the real run."""
    owner, name = unique_name(""), unique_name("")
    disk, log = tmp_path / "owner.img", tmp_path / "owner-serial.log"
    disk.write_text("installed system\n")
    log.write_text("owner's console\n")
    _define_with_disk_and_log(test_client, owner, disk, log)
    (tmp_path / "images" / "pxeboot").mkdir(parents=True)
    for file in ("vmlinuz", "initrd.img"):
        (tmp_path / "images" / "pxeboot" / file).write_bytes(b"boot file")
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="boot.initrd: %s is a disk that guest.s. %s write" % (disk, owner)):
                kernel = str(tmp_path / "images" / "pxeboot" / "vmlinuz")
                run(guest(name, boot={"kernel": kernel, "initrd": str(disk)}), check_mode=check_mode, diff=False)
            with pytest.raises(RunError, match="boot.kernel: %s is the serial or console log of guest %s" % (log, owner)):
                run(guest(name, boot={"kernel": str(log)}), check_mode=check_mode, diff=False)
            tree = install(method="location", location=str(tmp_path), kickstart=str(log))
            with pytest.raises(RunError, match="install.kickstart: %s is the serial or console log of guest %s" % (log, owner)):
                run(guest(name, install=tree), check_mode=check_mode, diff=False)
        assert test_client.find_domain(name) is None
    finally:
        test_client.conn.lookupByName(owner).undefine()


def test_boot_files_and_kickstarts_are_no_logs_of_the_host(unique_name, tmp_path):
    """libvirt logs each guest's QEMU command line (kernel arguments with their secrets) under
    /var/log: no file there, by name or through a link, is read into a guest."""
    found = a_host_log()
    link = tmp_path / "vmlinuz"
    link.symlink_to(found)
    with pytest.raises(RunError, match="boot.kernel: %s is a log of the host" % link):
        run(guest(unique_name(""), boot={"kernel": str(link)}), check_mode=True, diff=False)


# -- turns with runs on the guest's volumes ------------------------------------------------------
def test_a_disk_given_by_the_path_of_a_pool_volume_takes_turns_with_runs_on_that_volume(unique_name, test_client, monkeypatch):
    """A guest whose disk names a pool volume's file by path, and a virt_pool_volume run deleting that
    volume at the same time, hold one lock: the guest waits, instead of being defined on a disk
    that is deleted under it."""
    volume = unique_name(".img")
    run_volume(volume_params(name=volume, capacity="1M", format="raw"), check_mode=False, diff=False)
    path = volume_path(test_client, POOL, volume)
    monkeypatch.setattr(guest_runner, "_lock_seconds", lambda request: 0.3)
    name = unique_name("")
    wanted = params(name=name, disks=[disk(pool=None, path=path, format="raw")])
    with changing("test:///default", ["volume %s/%s" % (POOL, volume)], 1, check_mode=False):
        with pytest.raises(RunError, match="another run is still changing volume %s/%s" % (POOL, volume)):
            run(wanted, check_mode=False, diff=False)
    assert test_client.find_domain(name) is None


def test_an_install_iso_takes_turns_like_a_disk(unique_name):
    iso = unique_name(".iso")
    request = GuestRequest.from_params(
        params(name="g", install=install(method="cdrom", cdrom={"pool": "isos", "volume": iso, "path": None}))
    )
    assert "volume isos/%s" % iso in guest_runner._lock_keys(request)


def test_an_install_iso_given_by_the_path_of_a_pool_volume_takes_turns_like_a_disk(unique_name, test_client):
    iso = unique_name(".iso")
    run_volume(volume_params(name=iso, capacity="1M", format="raw"), check_mode=False, diff=False)
    cdrom = {"pool": None, "volume": None, "path": volume_path(test_client, POOL, iso)}
    request = GuestRequest.from_params(params(name="g", install=install(method="cdrom", cdrom=cdrom)))
    assert guest_runner._lock_keys_of_paths(test_client, request) == ["volume %s/%s" % (POOL, iso)]


def test_a_disk_given_by_a_link_to_a_pool_volumes_file_takes_turns_like_the_volume(
    unique_name, test_client, tmp_path, monkeypatch
):
    volume = unique_name(".img")
    run_volume(volume_params(name=volume, capacity="1M", format="raw"), check_mode=False, diff=False)
    link = tmp_path / "disk.img"
    link.symlink_to(volume_path(test_client, POOL, volume))
    monkeypatch.setattr(test_client, "files_here", lambda: True)  # as for a local qemu URI
    request = GuestRequest.from_params(params(name="g", disks=[disk(pool=None, path=str(link), format="raw")]))
    assert guest_runner._lock_keys_of_paths(test_client, request) == ["volume %s/%s" % (POOL, volume)]


@pytest.fixture
def lock_order(monkeypatch):
    """Each key a run waits for, with the keys it held then that sort after it."""
    held, waits = [], []
    real = guest_runner.changing

    @contextlib.contextmanager
    def recording(uri, keys, timeout, check_mode):
        new = sorted(set(keys))
        waits.extend((key, tuple(other for other in held if other > key)) for key in new)
        held.extend(new)
        try:
            with real(uri, keys, timeout, check_mode):
                yield
        finally:
            for key in new:
                held.remove(key)

    monkeypatch.setattr(guest_runner, "changing", recording)
    return waits


@pytest.mark.parametrize("by", ["pool and volume", "path"])
def test_a_removal_never_waits_for_a_volume_while_it_holds_one_that_sorts_after_it(unique_name, test_client, lock_order, by):
    """Two removals (remove_storage) that each still list the other's disk waited for each other in
    a circle until their lock timeout: the volumes a removal deletes are taken all at once."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    other = "zz-" + unique_name(".img")  # sorts after the guest's own disk
    run_volume(volume_params(name=other, capacity="1M", format="raw"), check_mode=False, diff=False)
    named = (
        disk(volume=other)
        if by == "pool and volume"
        else disk(pool=None, path=volume_path(test_client, POOL, other), format="raw")
    )
    run(params(name=name, state="absent", remove_storage=True, install=None, disks=[named]), check_mode=False, diff=False)
    assert test_client.find_domain(name) is None
    assert [(key, after) for key, after in lock_order if after] == []


def test_where_libvirt_cannot_look_up_volumes_by_path_check_mode_and_the_real_run_agree(
    unique_name, test_client, tmp_path, monkeypatch
):
    """A daemon whose storage driver does not answer (virtqemud without virtstoraged): the real
    re-run of a guest with host paths only must not fail where check mode promised success."""
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    wanted = params(name=unique_name(""), disks=[disk(pool=None, path=str(image), format="raw")])
    run(wanted, check_mode=False, diff=False)

    def no_storage(self, path):
        raise LibvirtError("look up volume by path", path, "Failed to connect socket to '/run/libvirt/virtstoraged-sock'")

    monkeypatch.setattr(Client, "find_volume_by_path", no_storage)
    assert run(wanted, check_mode=True, diff=False)["changed"] is False
    assert run(wanted, check_mode=False, diff=False)["changed"] is False


# A disk that reaches a volume's file under a name libvirt does not know for that volume: the
# guest's run takes the lock of the file itself, as a deletion of the volume does.
def _waits_for_the_volume(pool, volume, wanted, client):
    """While a deletion of pool/volume holds its locks (the volume's and its file's), the guest's
    run waits (here: gives up after _lock_seconds) instead of being defined on it."""
    info = os.stat(volume_path(client, pool, volume))
    held = ["volume %s/%s" % (pool, volume), file_key((info.st_dev, info.st_ino))]
    with changing("test:///default", held, 1, check_mode=False):
        with pytest.raises(RunError, match="another run is still changing (volume %s/%s|a file it uses)" % (pool, volume)):
            run(wanted, check_mode=False, diff=False)
    assert client.find_domain(wanted["name"]) is None


@pytest.fixture
def local_files(monkeypatch, test_client):
    monkeypatch.setattr(Client, "files_here", lambda self: True)  # as for a local qemu URI
    monkeypatch.setattr(guest_runner, "_lock_seconds", lambda request: 0.3)
    monkeypatch.setattr(volume_runner, "VOLUME_LOCK_SECONDS", 0.3)


def test_a_hard_link_to_a_pool_volumes_file_takes_turns_like_the_volume(
    unique_name, test_client, file_pool, tmp_path, local_files
):
    volume = unique_name(".img")
    path = file_volume(test_client, file_pool, volume)
    (tmp_path / "elsewhere").mkdir()
    os.link(path, str(tmp_path / "elsewhere" / "disk.img"))
    wanted = params(name=unique_name(""), disks=[disk(pool=None, path=str(tmp_path / "elsewhere" / "disk.img"), format="raw")])
    _waits_for_the_volume(file_pool, volume, wanted, test_client)


def test_the_base_of_an_overlay_disk_outside_the_pools_takes_turns_like_a_disk(
    unique_name, test_client, file_pool, tmp_path, local_files
):
    volume = unique_name(".img")
    base = file_volume(test_client, file_pool, volume)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", str(overlay)], check=True)
    wanted = params(name=unique_name(""), disks=[disk(pool=None, path=str(overlay), format="qcow2")])
    _waits_for_the_volume(file_pool, volume, wanted, test_client)


def test_a_disk_in_a_pool_whose_directory_is_a_link_named_by_the_real_directory_takes_turns(
    unique_name, test_client, tmp_path, local_files
):
    """The pool's directory is a link (/srv/images -> /data/images): libvirt knows its volumes by
    the link's path, the guest names the real one."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    name = unique_name("")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path / "link"), 0
    )
    pool.create(0)
    try:
        volume = unique_name(".img")
        file_volume(test_client, name, volume)
        wanted = params(name=unique_name(""), disks=[disk(pool=None, path=str(real / volume), format="raw")])
        _waits_for_the_volume(name, volume, wanted, test_client)
    finally:
        pool.destroy()
        pool.undefine()


def _keys_of(client, wanted):
    """The keys a real run of ``wanted`` holds while it defines its guest."""
    return guest_runner._real_run_lock_keys(client, GuestRequest.from_params(wanted))


def _identity(path):
    info = os.stat(path)
    return file_key((info.st_dev, info.st_ino))


@pytest.mark.parametrize("how", ["overlay", "hard link"])
def test_a_removal_with_remove_storage_waits_for_a_guest_being_defined_on_the_volumes_file(
    unique_name, test_client, file_pool, tmp_path, tmp_path_factory, local_files, how
):
    """Guest B is being defined with a disk that reaches volume X's file by a name libvirt does not
    know for X (an overlay outside the pools on X, a hard link): a removal of guest A with
    remove_storage, which deletes X, waits for it, as a deletion of X does."""
    volume = unique_name(".img")
    path = file_volume(test_client, file_pool, volume)
    owner = unique_name("")
    run(params(name=owner, disks=[disk(pool=file_pool, volume=volume, format="raw")]), check_mode=False, diff=False)
    if how == "overlay":
        user_disk = str(tmp_path_factory.mktemp("outside-pools") / "b-overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", path, "-F", "raw", user_disk], check=True)
    else:
        (tmp_path / "elsewhere").mkdir()
        user_disk = str(tmp_path / "elsewhere" / "b.img")
        os.link(path, user_disk)
    b_keys = _keys_of(test_client, params(name=unique_name(""), disks=[disk(pool=None, path=user_disk, format="raw")]))
    assert _identity(path) in b_keys
    with changing("test:///default", b_keys, 1, check_mode=False):
        with pytest.raises(RunError, match="another run is still changing a file it uses"):
            run_volume(volume_params(pool=file_pool, name=volume, state="absent"), check_mode=False, diff=False)
        with pytest.raises(RunError, match="another run is still changing a file it uses"):
            run(params(name=owner, state="absent", remove_storage=True, install=None, disks=[]), check_mode=False, diff=False)
    assert volume in test_client.find_pool(file_pool).listVolumes()


def test_the_external_data_file_of_a_disk_is_locked_like_its_backing_file(
    unique_name, test_client, file_pool, tmp_path, local_files
):
    """QEMU writes the guest's data into a qcow2 image's data file (qemu-img create -o data_file=)."""
    volume = unique_name(".img")
    path = file_volume(test_client, file_pool, volume)
    front = str(tmp_path / "front.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % path, front, "4K"], check=True)
    assert _identity(path) in _keys_of(
        test_client, params(name=unique_name(""), disks=[disk(pool=None, path=front, format="qcow2")])
    )


def test_a_first_boot_with_cloud_init_is_no_installer_to_watch(unique_name, test_client, tmp_path, monkeypatch):
    """The first boot with the seed is the guest's life from then on: any later stop of it (a destroy,
    a crash) says nothing of an install, and the guest is started again."""
    monkeypatch.setattr(guest_host, "qemu_log_directory", lambda uri: str(tmp_path))
    name = unique_name("")
    boot_dir = tmp_path / "boot"
    boot_dir.mkdir(mode=0o711)
    wanted = guest(
        name,
        install=install(method="import", boot_dir=str(boot_dir)),
        cloud_init=dict(user_data=dict(hostname="a")),
        state="running",
    )
    run(wanted, check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    assert install_started_at(test_client.domain_definition(domain)) is None
    test_client.destroy_domain(domain)
    qemu_log(tmp_path, name, (int(time.time()), "start"), (int(time.time()), "destroyed"))
    assert "start" in verbs(run(wanted, check_mode=False, diff=False))


def test_a_start_that_resumes_a_saved_installer_keeps_the_mark(unique_name, test_client, tmp_path, monkeypatch):
    """A start of a guest whose installer was saved (virsh managedsave) restores the installer: the
    guest is no more installed than before, and its mark stays for the install's real end."""
    name, _wanted, domain, started = stopped_install(unique_name, test_client, tmp_path, monkeypatch)
    monkeypatch.setattr(Client, "domain_live_definition_if_present", stored_as_installer)
    forget_install_mark(test_client, domain)
    assert install_started_at(test_client.domain_definition(domain)) == started
    monkeypatch.undo()
    forget_install_mark(test_client, domain)
    assert install_started_at(test_client.domain_definition(domain)) is None


def stored_as_installer(client, domain):
    """The guest's stored definition as an installer's live one (it ends on reboot)."""
    return client.domain_definition(domain).replace("<on_reboot>restart</on_reboot>", "<on_reboot>destroy</on_reboot>")


def test_a_rerun_that_waits_for_an_address_fails_as_the_first_run_when_none_comes(unique_name, test_client, monkeypatch):
    """A run that finds the guest running waits read-only for its address and, when wait_for_timeout
    passes without one, fails as the run that started it does; check mode only reads, and an address
    that is there answers at once."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable

    name = unique_name("")
    run(guest(name, state="running"), check_mode=False, diff=False)
    waiting = guest(name, state="running", wait_for={"ip": True, "source": "lease"}, wait_for_timeout=1)
    found = run(waiting, check_mode=False, diff=False)  # the test driver gives every guest an address
    assert not found["changed"] and found["addresses"]
    # A guest that has no address (yet): libvirt's test driver cannot show one.
    monkeypatch.setattr(reachable, "read_addresses", lambda client, domain, source, waiting=True, unanswered=None: [])
    checked = run(waiting, check_mode=True, diff=False)
    assert not checked["changed"] and checked["addresses"] == []
    started = time.monotonic()
    with pytest.raises(RunError, match="not reachable after 1 s: no address from lease; it goes on running") as failed:
        run(waiting, check_mode=False, diff=False)
    assert time.monotonic() - started >= 1 and not failed.value.changed


def test_a_rerun_that_waits_for_a_marker_fails_until_the_serial_log_shows_it(unique_name, test_client, tmp_path):
    """A run that finds the guest running waits read-only for its marker too; a retry of a run whose
    wait failed is not taken for ready. Check mode only reads."""
    name, log = unique_name(""), tmp_path / "serial.log"
    run(guest(name, state="running", serial_log=str(log)), check_mode=False, diff=False)
    waiting = guest(name, state="running", serial_log=str(log), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    assert not run(waiting, check_mode=True, diff=False)["changed"]
    with pytest.raises(RunError, match="not reachable after 1 s: marker not in serial log %s yet" % log) as failed:
        run(waiting, check_mode=False, diff=False)
    assert not failed.value.changed and test_client.domain_is_active(test_client.find_domain(name))
    log.write_text("Debian GNU/Linux 12 web01 ttyS0\n\nweb01 login: ")
    found = run(waiting, check_mode=False, diff=False)
    assert not found["changed"] and "addresses" not in found


def test_a_rerun_waits_for_the_marker_without_holding_the_guests_lock(unique_name, test_client, tmp_path, monkeypatch):
    """The wait of a run that found the guest running changes nothing: a run that stops or removes
    the guest meanwhile does not wait for it. A paused guest, which shows nothing more, fails at once."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common import locks
    from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import lock_uri
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable

    name, log = unique_name(""), tmp_path / "serial.log"
    run(guest(name, state="running", serial_log=str(log)), check_mode=False, diff=False)
    waiting = guest(name, state="running", serial_log=str(log), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    free = []
    missing_signs = reachable.missing_signs

    def while_waiting(client, domain, signs, deadline=None):
        locks.wait_turn(["%s guest %s" % (lock_uri("test:///default"), name)], 0.5)  # a LockError if held
        free.append(True)
        return missing_signs(client, domain, signs, deadline)

    monkeypatch.setattr(reachable, "missing_signs", while_waiting)
    with pytest.raises(RunError, match="not reachable after 1 s"):
        run(waiting, check_mode=False, diff=False)
    assert free
    test_client.find_domain(name).suspend()
    started = time.monotonic()
    with pytest.raises(RunError, match="the guest is paused .reason: [a-z-]+., not running: marker not in serial log"):
        run(waiting, check_mode=False, diff=False)
    assert time.monotonic() - started < 1


def test_a_rerun_counts_the_marker_only_in_what_the_current_boot_wrote(unique_name, test_client, tmp_path):
    """The run that starts a guest leaves where its boot began in the serial log in the live
    definition: a retry does not take an earlier boot's marker for this boot's, and counts the whole
    log once the file it marked was replaced (rotated)."""
    name, log = unique_name(""), tmp_path / "serial.log"
    run(guest(name, serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("an earlier boot\nweb01 login: \n")
    run(guest(name, state="running", serial_log=str(log)), check_mode=False, diff=False)
    waiting = guest(name, state="running", serial_log=str(log), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    with pytest.raises(RunError, match="marker not in serial log %s yet" % log):
        run(waiting, check_mode=False, diff=False)
    with log.open("a") as written:
        written.write("this boot\nweb01 login: ")
    assert not run(waiting, check_mode=False, diff=False)["changed"]
    rotated = tmp_path / "rotated.log"
    rotated.write_text("web01 login: ")
    rotated.replace(log)
    assert not run(waiting, check_mode=False, diff=False)["changed"]


def test_a_rerun_that_moves_the_serial_log_of_a_running_guest_waits_in_the_log_it_writes(unique_name, test_client, tmp_path):
    """A new serial_log is the stored definition's, written from the next start on: the running
    guest still writes the old one, where its marker is."""
    name, old, new = unique_name(""), tmp_path / "old.log", tmp_path / "new.log"
    run(guest(name, state="running", serial_log=str(old)), check_mode=False, diff=False)
    old.write_text("web01 login: ")
    moved = guest(name, state="running", serial_log=str(new), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    result = run(moved, check_mode=False, diff=False)
    assert result["changed"] and result["reboot_required"]
    assert not run(moved, check_mode=False, diff=False)["changed"]


def test_a_start_that_restores_a_saved_guest_counts_the_marker_its_boot_wrote_before_the_save(
    unique_name, test_client, tmp_path, monkeypatch
):
    """virsh managedsave, then a start: the guest resumes the boot that wrote the marker, and the start
    leaves that boot's mark as it was, so a retry does not wait for the marker to come again. The
    start's own wait counts from the saved definition's mark; libvirt's test driver cannot show that
    definition (nor can libvirt read an incomplete image, which it boots afresh), so it counts from now."""
    name, log = unique_name(""), tmp_path / "serial.log"
    waiting = guest(name, state="running", serial_log=str(log), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    run(guest(name, state="running", serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("this boot\nweb01 login: ")
    domain = test_client.find_domain(name)
    domain.managedSave(0)
    # QEMU's guests say why they run: a restore (the test driver says 'booted' whatever the start).
    read_state = Client.domain_state
    monkeypatch.setattr(Client, "domain_state", lambda self, found: (read_state(self, found)[0], "restored"))
    with pytest.raises(RunError, match="marker not in serial log") as failed:
        run(waiting, check_mode=False, diff=False)
    assert failed.value.changed and test_client.domain_is_active(domain)
    assert not run(waiting, check_mode=False, diff=False)["changed"]


def test_a_rerun_does_not_read_a_log_the_running_guest_does_not_write(unique_name, test_client, tmp_path):
    """A guest whose running definition has no serial log file (its console moved to a pty by hand)
    shows no marker: the stored serial_log is written from its next start on."""
    name, log = unique_name(""), tmp_path / "serial.log"
    run(guest(name, serial_log=str(log)), check_mode=False, diff=False)
    log.write_text("an earlier boot: login: ")
    domain = test_client.find_domain(name)
    stored = test_client.domain_definition(domain)
    console = stored[stored.index("<serial") : stored.index("</console>") + len("</console>")]
    test_client.conn.createXML(stored.replace(console, "<serial type='pty'/>"), 0)  # runs as the stored guest
    waiting = guest(name, state="running", serial_log=str(log), wait_for={"ip": False, "marker": "login:"}, wait_for_timeout=1)
    with pytest.raises(RunError, match="the running guest writes no serial log file"):
        run(waiting, check_mode=False, diff=False)


def test_a_start_with_the_stored_cards_and_disks_is_refused_when_the_host_lacks_what_they_name(unique_name, test_client):
    """An existing guest started (state running, no install) keeps the cards and disks of its stored
    definition when the request gives none: a network or volume gone since (edited behind the module's
    back) is refused at plan time, check mode too; cards or disks the request gives are checked as such."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    card = "<interface type='network'><mac address='52:54:00:00:00:31'/><source network='rv-gone'/></interface>"
    edited = test_client.domain_definition(domain).replace("</devices>", card + "</devices>")
    test_client.conn.defineXML(edited)
    started = dict(guest(name, state="running"), networks=None)
    try:
        for check_mode in (True, False):
            refusal = "guest %s cannot start: its network card 52:54:00:00:00:31: libvirt network 'rv-gone'" % name
            with pytest.raises(RunError, match=refusal):
                run(started, check_mode=check_mode, diff=False)
        assert not test_client.domain_is_active(domain)
        # The request's own cards replace the stored ones: the network that is gone is not asked about.
        assert verbs(run(dict(started, networks=[network()]), check_mode=True, diff=False)) == ["define", "start"]
    finally:
        with contextlib.suppress(LibvirtError):
            test_client.undefine_domain(domain)


def test_a_start_with_the_requests_cards_and_disks_still_checks_the_stored_firmware(
    unique_name, test_client, monkeypatch, tmp_path
):
    """Cards and disks given by the request leave the stored firmware to the start check all the same."""
    name = unique_name("")
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    # A disk by path and no card: nothing of the test driver's pools is asked on "this host".
    bare = dict(guest(name), disks=[{"path": str(image), "format": "raw"}], networks=[])
    run(bare, check_mode=False, diff=False)
    domain = test_client.find_domain(name)
    loader = "<loader readonly='yes' type='pflash'>%s/gone/OVMF_CODE.fd</loader>" % tmp_path
    test_client.conn.defineXML(test_client.domain_definition(domain).replace("</os>", loader + "</os>"))
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    try:
        for check_mode in (True, False):
            refusal = "guest %s cannot start: its firmware loader %s/gone/OVMF_CODE.fd does not exist" % (name, tmp_path)
            with pytest.raises(RunError, match=re.escape(refusal)):
                run(dict(bare, state="running"), check_mode=check_mode, diff=False)
    finally:
        with contextlib.suppress(LibvirtError):
            test_client.undefine_domain(domain)


def test_update_existing_false_refuses_changing_a_guest_another_run_made(unique_name, test_client):
    """A guest made after the caller's preflight found none: with updates not allowed, neither its
    definition nor its disks change, in check mode as in the real run; what matches still converges."""
    name = unique_name("")
    first = guest(name, disks=[disk(size="1M")])
    run(first, check_mode=False, diff=False)
    before = test_client.domain_definition(test_client.find_domain(name))
    hint = "iso_install_update_existing: true"
    for wanted, changes in (
        (guest(name, memory=512, update_existing=False, update_hint=hint), "memory: 256 MiB -> 512 MiB"),
        (
            guest(name, disks=[disk(size="2M")], update_existing=False, update_hint=hint),
            "volume %s/%s-disk0.qcow2 grows to 2 MiB" % (POOL, name),
        ),
    ):
        for check_mode in (True, False):
            with pytest.raises(RunError) as error:
                run(wanted, check_mode=check_mode, diff=False)
            assert str(error.value) == (
                "guest %s exists with a different definition (%s); set %s to update it in place, reinstall: true to "
                "install it again, or rename the new guest" % (name, changes, hint)
            )
    assert test_client.domain_definition(test_client.find_domain(name)) == before
    assert run(dict(first, update_existing=False, update_hint=hint), check_mode=False, diff=False)["changed"] is False
    assert run(guest(name, memory=512), check_mode=False, diff=False)["changed"] is True  # updates allowed by default


def test_a_disk_of_another_kind_is_shown_with_its_source(unique_name, test_client):
    """A network disk added by hand is shown with its source in the diff and the facts (not as a
    file disk without one): kept through an update that leaves disks out, and shown going away
    when disks is given (the list is the guest's full set)."""
    name = unique_name("")
    run(guest(name), check_mode=False, diff=False)
    nbd = (
        "<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='export1'>"
        "<host name='nbd.example' port='10809'/></source><target dev='vdz' bus='virtio'/></disk>"
    )
    test_client.conn.defineXML(test_client.conn.lookupByName(name).XMLDesc(0).replace("</devices>", nbd + "</devices>"))
    shown = '<source protocol="nbd" name="export1">'
    kept = guest(name, memory=512, disks=None, install=None)
    for check_mode in (True, False):
        result = run(kept, check_mode=check_mode, diff=True)
        assert shown in result["diff"]["before"] and shown in result["diff"]["after"]
        facts = {"target": "vdz", "source": "nbd://nbd.example:10809/export1", "device": "disk", "size": None}
        assert facts in result["domain"]["disks"]
    assert "name='export1'" in test_client.conn.lookupByName(name).XMLDesc(0)
    assert run(kept, check_mode=False, diff=False)["plan"] == []
    result = run(guest(name, memory=512), check_mode=True, diff=True)
    assert shown in result["diff"]["before"] and "nbd" not in result["diff"]["after"]


@pytest.mark.parametrize("spelling", ["{dir}//{name}.log", "{dir}/./{name}.log"])
def test_another_spelling_of_the_serial_log_changes_nothing(unique_name, test_client, tmp_path, spelling):
    """serial_log is stored in one spelling: switching between spellings of one file is no change."""
    name = unique_name("")
    run(guest(name, serial_log=str(tmp_path / (name + ".log"))), check_mode=False, diff=False)
    again = guest(name, serial_log=spelling.format(dir=tmp_path, name=name))
    for check_mode in (True, False):
        assert run(again, check_mode=check_mode, diff=False)["plan"] == []
    assert run(guest(name, serial_log=str(tmp_path / (name + ".log"))), check_mode=False, diff=False)["plan"] == []

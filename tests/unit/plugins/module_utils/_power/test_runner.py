"""virt_guest_state's runner on libvirt's test driver, whose guests shut down at once: the cycle
check -> real -> re-run -> check, the host log, and a guest that ignores the shutdown request."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._power import handlers as power_handlers
from ansible_collections.remotevirt.install.plugins.module_utils._power import runner
from ansible_collections.remotevirt.install.plugins.modules.virt_guest_state import argument_spec


def params(**overrides):
    base = {name: option.get("default") for name, option in argument_spec().items()}
    base.update(uri="test:///default", **overrides)
    return base


@pytest.fixture
def guest(test_client, unique_name):
    """A running test guest with a stored definition, undefined afterwards."""
    name = unique_name("")
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    domain.create()
    yield name
    if domain.isActive():
        domain.destroy()
    domain.undefine()


def cycle(args):
    """check, real, re-run, check: the plans and the real run's result."""
    check = runner.run(args, True, True)
    real = runner.run(args, False, True)
    assert check["plan"] == real["plan"] and check["changed"] == real["changed"]
    assert check["diff"] == real["diff"] and check["state"] == real["state"]
    return real


@pytest.mark.parametrize(
    "state, verbs, after",
    [
        ("shutdown", ["shutdown"], "shut off"),
        ("stopped", ["destroy"], "shut off"),
        ("paused", ["suspend"], "paused"),
        ("running", [], "running"),
    ],
)
def test_cycle_converges(guest, state, verbs, after):
    real = cycle(params(name=guest, state=state))
    assert [a["action"] for a in real["plan"]] == verbs and real["state"] == after
    assert real["previous_state"] == "running" and real["forced"] is False
    again = runner.run(params(name=guest, state=state), False, False)
    check = runner.run(params(name=guest, state=state), True, False)
    assert not again["changed"] and not check["changed"] and again["state"] == after


def test_paused_guest_is_resumed_and_shut_down(guest):
    runner.run(params(name=guest, state="paused"), False, False)
    real = cycle(params(name=guest, state="shutdown"))
    assert [a["action"] for a in real["plan"]] == ["resume", "shutdown"] and real["state"] == "shut off"
    started = cycle(params(name=guest, state="running"))
    assert [a["action"] for a in started["plan"]] == ["start"] and started["state"] == "running"


def test_restarted_always_changes(guest):
    for run in (1, 2):
        real = cycle(params(name=guest, state="restarted"))
        assert [a["action"] for a in real["plan"]] == ["shutdown", "start"] and real["state"] == "running"
        assert real["diff"]["after"] == "state: running\nrestarted: true\n", "restart %d" % run


def test_the_fallback_destroy_is_skipped_when_the_guest_shut_down(guest):
    real = cycle(params(name=guest, state="shutdown", destroy_on_timeout=True))
    assert [a["action"] for a in real["plan"]] == ["shutdown", "destroy"] and real["forced"] is False


def test_a_missing_guest_is_refused_in_check_mode_too(test_client):
    for check_mode in (True, False):
        with pytest.raises(RunError, match="guest rvpow-missing does not exist") as refused:
            runner.run(params(name="rvpow-missing", state="running"), check_mode, False)
        assert refused.value.plan is None and not refused.value.changed


class _IgnoresShutdown(Client):
    """A guest whose OS ignores the ACPI power button (one sitting in its firmware)."""

    def shutdown_domain(self, domain):
        pass


@pytest.fixture
def deaf_guest(guest, monkeypatch):
    monkeypatch.setattr(runner, "connected", _connected_ignoring_shutdown)
    monkeypatch.setattr(power_handlers, "POLL_SECONDS", 0.01)
    return guest


def _connected_ignoring_shutdown(uri):
    import contextlib

    @contextlib.contextmanager
    def connect():
        client = _IgnoresShutdown(uri)
        try:
            yield client
        finally:
            client.close()

    return connect()


def test_a_guest_that_ignores_shutdown_fails_clearly_without_destroy_on_timeout(deaf_guest, test_client):
    with pytest.raises(RunError) as failed:
        runner.run(params(name=deaf_guest, state="shutdown", shutdown_timeout=1), False, False)
    assert "did not shut down within 1 s" in str(failed.value) and "destroy_on_timeout: true" in str(failed.value)
    assert failed.value.changed  # the request stays with the guest, which may still power off
    assert test_client.domain_is_active(test_client.find_domain(deaf_guest))


def test_a_guest_that_ignores_shutdown_is_destroyed_when_allowed(deaf_guest, test_client):
    args = params(name=deaf_guest, state="restarted", shutdown_timeout=1, destroy_on_timeout=True)
    check = runner.run(args, True, False)
    real = runner.run(args, False, False)
    assert check["plan"] == real["plan"] and [a["action"] for a in real["plan"]] == ["shutdown", "destroy", "start"]
    assert real["forced"] is True and check["forced"] is False and real["state"] == "running"


def test_every_action_is_logged_with_its_result(guest, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._common import audit

    lines = []
    monkeypatch.setattr(audit.AuditLog, "_send", lambda self, priority, message, action, rc: lines.append(message))
    runner.run(params(name=guest, state="stopped"), False, False)
    assert any(line.endswith("destroy guest %s rc=0: virsh -c test:///default destroy %s" % (guest, guest)) for line in lines)


@pytest.mark.parametrize("state", ["running", "paused", "restarted"])
def test_a_guest_whose_install_never_started_is_not_started(test_client, unique_name, state):
    """Left by a virt_guest_install run stopped between its define and its install: starting it
    would boot its empty disk, and its serial log would then say it ran."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import with_install_pending

    name = unique_name("")
    xml = "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    domain = test_client.conn.defineXML(with_install_pending(xml, 1))
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="was defined by a run that stopped before its install"):
                runner.run(params(name=name, state=state), check_mode, False)
        assert not domain.isActive()
    finally:
        domain.undefine()


def test_a_guest_whose_installer_was_destroyed_is_not_started(test_client, unique_name, tmp_path, monkeypatch):
    """Its QEMU log says its installer was destroyed mid-way: its disk holds an unfinished install."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml import install_mark

    monkeypatch.setattr(install_mark, "qemu_log_directory", lambda uri: str(tmp_path))
    name = unique_name("")
    xml = "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    domain = test_client.conn.defineXML(xml)
    mark = install_mark.install_mark_element(None, 1000)
    test_client.set_stored_metadata(domain, install_mark.INSTALL_NAMESPACE, install_mark.INSTALL_PREFIX, mark)
    (tmp_path / (name + ".log")).write_text(
        "1970-01-01 00:16:40.100+0000: starting up libvirt\n1970-01-01 00:17:00.100+0000: shutting down, reason=crashed\n"
    )
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="started at 1970-01-01 00:16:40 UTC, did not finish: QEMU stopped at 1970"):
                runner.run(params(name=name, state="running"), check_mode, False)
        assert not domain.isActive()
    finally:
        domain.undefine()


@pytest.mark.parametrize("state", ["shutdown", "restarted"])
def test_a_guest_running_its_installer_is_neither_shut_down_nor_restarted(test_client, unique_name, state):
    """Its power-off would read as the installer's own end; a restart would boot its unfinished disk."""
    name = unique_name("")
    xml = "<domain type='test'><name>%s</name><uuid>%s</uuid><memory>65536</memory><os><type>hvm</type></os>%s</domain>"
    uuid = str(uuid4())  # the install definition starts as the stored guest
    domain = test_client.conn.defineXML(xml % (name, uuid, ""))
    test_client.conn.createXML(xml % (name, uuid, "<on_reboot>destroy</on_reboot>"), 0)
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="guest %s is still running its installer" % name):
                runner.run(params(name=name, state=state, destroy_on_timeout=True), check_mode, False)
        assert domain.isActive()
        assert runner.run(params(name=name, state="stopped"), False, False)["changed"]  # ending it stays possible
    finally:
        if domain.isActive():
            domain.destroy()
        domain.undefine()


_BROKEN_DEVICES = {
    "a network the host does not have": (
        "<interface type='network'><mac address='52:54:00:00:00:21'/><source network='rv-no-such-net'/></interface>",
        "its network card 52:54:00:00:00:21: libvirt network 'rv-no-such-net' does not exist on test:///default",
    ),
    "a volume of a pool the host does not have": (
        "<disk type='volume' device='disk'><source pool='rv-no-such-pool' volume='a.img'/><target dev='vda'/></disk>",
        "its disk vda is volume a.img of storage pool 'rv-no-such-pool', which test:///default does not have",
    ),
    "a volume its pool does not have": (
        "<disk type='volume' device='disk'><source pool='default-pool' volume='rv-gone.img'/><target dev='vdb'/></disk>",
        "its disk vdb, volume rv-gone.img of storage pool 'default-pool', does not exist",
    ),
}


@pytest.mark.parametrize("broken", sorted(_BROKEN_DEVICES))
@pytest.mark.parametrize("state, running", [("running", False), ("paused", False), ("restarted", True)])
def test_a_guest_whose_stored_definition_cannot_start_is_refused_first(test_client, unique_name, broken, state, running):
    """libvirt would refuse the start for what the stored definition names; a restart would have shut
    the running guest down first and left it off. Refused at plan time, so check mode says so too."""
    devices, message = _BROKEN_DEVICES[broken]
    name = unique_name("")
    xml = (
        "<domain type='test'><name>%s</name><uuid>%s</uuid><memory>65536</memory><os><type>hvm</type></os>"
        "<devices>%s</devices></domain>"
    )
    uuid = str(uuid4())
    domain = test_client.conn.defineXML(xml % (name, uuid, ""))
    if running:
        domain.create()
    test_client.conn.defineXML(xml % (name, uuid, devices))  # edited behind the module's back (virsh edit)
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="guest %s cannot start: %s" % (name, re.escape(message))):
                runner.run(params(name=name, state=state, destroy_on_timeout=True), check_mode, False)
        assert bool(domain.isActive()) is running
    finally:
        if domain.isActive():
            domain.destroy()
        domain.undefine()


def test_a_network_that_is_not_active_is_named_with_its_start_command(test_client, unique_name):
    name = unique_name("")
    network = test_client.conn.networkDefineXML("<network><name>%s</name></network>" % name)
    xml = (
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<interface type='network'><source network='%s'/></interface></devices></domain>" % (name, name)
    )
    domain = test_client.conn.defineXML(xml)
    try:
        inactive = "network card [0-9a-f:]+: libvirt network '%s' is not active; start it first: virsh" % name
        with pytest.raises(RunError, match=inactive):
            runner.run(params(name=name, state="running"), True, False)
        network.create()
        assert runner.run(params(name=name, state="running"), False, False)["state"] == "running"
    finally:
        if domain.isActive():
            domain.destroy()
        domain.undefine()
        if network.isActive():
            network.destroy()
        network.undefine()


def test_a_missing_disk_file_is_refused_only_where_the_host_is_seen(test_client, unique_name, monkeypatch, tmp_path):
    """A disk file is looked for only on the host itself (not through a remote URI, nor in the test
    driver, which has no files); a drive libvirt may leave out (startupPolicy optional) is never asked about."""
    name = unique_name("")
    gone = tmp_path / "gone.img"
    disks = (
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
        "<disk type='file' device='cdrom'><source file='%s' startupPolicy='optional'/><target dev='hdc'/></disk>" % (gone, gone)
    )
    xml = "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>%s</devices></domain>"
    domain = test_client.conn.defineXML(xml % (name, disks))
    try:
        monkeypatch.setattr(Client, "files_here", lambda self: True)
        missing = "guest %s cannot start: its disk vda %s does not exist$" % (name, re.escape(str(gone)))
        with pytest.raises(RunError, match=missing):
            runner.run(params(name=name, state="running"), True, False)
        monkeypatch.setattr(Client, "files_here", lambda self: False)
        assert runner.run(params(name=name, state="running"), True, False)["changed"]
    finally:
        domain.undefine()


def test_a_disk_whose_backing_file_is_gone_is_refused(test_client, unique_name, monkeypatch, tmp_path):
    """An overlay whose base was deleted by hand (virsh vol-delete): QEMU cannot open the disk, so a
    restart would leave the guest off."""
    import subprocess

    base, overlay = tmp_path / "base.qcow2", tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(overlay)], check=True)
    name = unique_name("")
    disk = (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda'/></disk>"
        % overlay
    )
    xml = "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>%s</devices></domain>"
    domain = test_client.conn.defineXML(xml % (name, disk))
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    try:
        assert runner.run(params(name=name, state="running"), True, False)["changed"]
        base.unlink()
        gone = "guest %s cannot start: its disk vda: the backing file %s of %s does not exist" % (name, base, overlay)
        with pytest.raises(RunError, match=re.escape(gone)):
            runner.run(params(name=name, state="running"), True, False)
    finally:
        domain.undefine()


def test_a_start_leaves_where_the_boot_began_in_the_serial_log(test_client, unique_name, tmp_path):
    """As virt_guest_install's start does (see boot_mark): a later wait_for.marker counts only this boot."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import boot_log_start

    name, log = unique_name(""), tmp_path / "serial.log"
    log.write_text("an earlier boot: login: ")
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<serial type='file'><source path='%s' append='on'/></serial></devices></domain>" % (name, log)
    )
    try:
        runner.run(params(name=name, state="running"), False, False)
        assert boot_log_start(domain.XMLDesc(0), str(log)) == len("an earlier boot: login: ")
    finally:
        if domain.isActive():
            domain.destroy()
        domain.undefine()

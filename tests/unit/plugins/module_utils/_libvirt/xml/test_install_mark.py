"""The install mark: pending until the installer runs, started until the guest starts from its disk,
and libvirt's QEMU log read to tell a finished install from a stopped one."""

from __future__ import annotations

import calendar
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
    INSTALL_NAMESPACE,
    INSTALL_PREFIX,
    install_mark_element,
    install_outcome,
    install_pending_since,
    install_started_at,
    never_installed_problem,
    qemu_log_directory,
    runs_installer,
    with_install_pending,
)

STARTED = calendar.timegm((2026, 12, 5, 12, 0, 0))
GUEST = "<domain type='qemu'><name>web01</name><uuid>6a3c7e1e-1111-4b2a-9c1d-6f2e5a0b1c01</uuid></domain>"


def stamp(offset: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(STARTED + offset)) + ".123+0000"


def starting(offset: int) -> str:
    return "%s: starting up libvirt version: 9.0.0, qemu version: 7.2.22, hostname: vm\n" % stamp(offset)


def stopping(offset: int, reason: str) -> str:
    return "%s: shutting down, reason=%s\n" % (stamp(offset), reason)


QEMU_LINES = "LC_ALL=C /usr/bin/qemu-system-x86_64 -name guest=web01 -S\nchar device redirected to /dev/pts/3\n"


def outcome(tmp_path, text: str):
    log = tmp_path / "web01.log"
    log.write_text(text)
    return install_outcome(str(log), STARTED)


def with_mark(pending_since, started) -> str:
    """GUEST with the mark as libvirt stores what the install handler sets (its metadata call)."""
    root = parse(GUEST)
    metadata = etree.SubElement(root, "metadata")
    mark = etree.fromstring(install_mark_element(pending_since, started))
    etree.SubElement(metadata, "{%s}install" % INSTALL_NAMESPACE, dict(mark.attrib), nsmap={INSTALL_PREFIX: INSTALL_NAMESPACE})
    return etree.tostring(root, encoding="unicode")


def test_the_installers_own_end_is_a_finished_install(tmp_path):
    earlier = starting(-3600) + stopping(-3500, "destroyed")  # an earlier life of the same name
    assert outcome(tmp_path, earlier + starting(1) + QEMU_LINES + stopping(300, "shutdown")) == (True, "")


@pytest.mark.parametrize("reason", ["destroyed", "crashed"])
def test_an_installer_destroyed_or_crashed_is_an_unfinished_install(tmp_path, reason):
    ended, why = outcome(tmp_path, starting(0) + QEMU_LINES + stopping(42, reason))
    assert not ended
    said = "QEMU stopped at %s UTC (libvirt's reason: %s), before the installer powered the guest off"
    assert why == said % (stamp(42)[:19], reason)


def test_the_first_stop_after_the_installers_start_decides(tmp_path):
    """A guest started by hand after its install and destroyed later was installed all the same."""
    text = starting(0) + stopping(200, "shutdown") + starting(300) + stopping(400, "destroyed")
    assert outcome(tmp_path, text) == (True, "")
    text = starting(0) + stopping(200, "destroyed") + starting(300) + stopping(400, "shutdown")
    assert outcome(tmp_path, text)[0] is False


def test_an_installer_that_stopped_without_a_word_is_an_unfinished_install(tmp_path):
    """A host that went down mid-install: the log ends with the installer's start."""
    ended, why = outcome(tmp_path, starting(0) + QEMU_LINES)
    assert not ended
    assert "libvirt recorded no end" in why
    assert outcome(tmp_path, starting(0) + starting(100) + stopping(200, "shutdown"))[0] is False


@pytest.mark.parametrize("reason", ["failed", "unknown", "saved", "daemon", "from-snapshot"])
def test_a_stop_that_says_nothing_of_the_install_is_taken_as_finished(tmp_path, reason):
    assert outcome(tmp_path, starting(0) + stopping(10, reason)) == (True, "")


@pytest.mark.parametrize(
    "text",
    [
        "",  # emptied
        starting(-100) + stopping(-50, "destroyed"),  # the install's lines rotated away
        stopping(10, "destroyed"),  # no start seen
        starting(0).replace("+0000", "+0100") + stopping(10, "destroyed"),  # not libvirt's UTC stamps
    ],
)
def test_a_log_that_does_not_show_the_install_tells_nothing(tmp_path, text):
    assert outcome(tmp_path, text) == (True, "")


def test_a_missing_or_unreadable_log_tells_nothing(tmp_path):
    assert install_outcome(str(tmp_path / "missing.log"), STARTED) == (True, "")
    assert install_outcome(str(tmp_path), STARTED) == (True, "")  # a directory


def test_only_the_end_of_a_long_log_is_read(tmp_path):
    filler = "x" * 1000 + "\n"
    text = starting(0) + filler * 1100 + stopping(10, "destroyed")
    assert outcome(tmp_path, text)[0] is True  # the start is beyond the last MiB: nothing told
    assert outcome(tmp_path, filler * 1100 + starting(0) + stopping(10, "destroyed"))[0] is False


@given(st.binary(max_size=2048))
def test_any_bytes_in_the_log_give_an_answer(tmp_path_factory, content):
    log = tmp_path_factory.mktemp("log") / "web01.log"
    log.write_bytes(content)
    ended, why = install_outcome(str(log), STARTED)
    assert isinstance(ended, bool)
    assert ended or why


@pytest.mark.parametrize(
    "uri, directory",
    [
        ("qemu:///system", "/var/log/libvirt/qemu"),
        ("qemu+unix:///system", "/var/log/libvirt/qemu"),
        ("qemu:///system?socket=/run/libvirt/virtqemud-sock", "/var/log/libvirt/qemu"),
        ("qemu:///session", None),
        ("qemu+ssh://hv1/system", None),
        ("qemu+ext:///system?command=/bin/true", None),
        ("test:///default", None),
        ("qemu://hv1/system", None),
    ],
)
def test_only_this_hosts_system_daemon_has_a_log_directory_known_here(uri, directory):
    assert qemu_log_directory(uri) == directory


def test_the_marks_attributes_read_back():
    assert install_pending_since(with_install_pending(GUEST, 7)) == 7
    assert install_started_at(with_install_pending(GUEST, 7)) is None
    both = with_mark(7, STARTED)
    assert (install_pending_since(both), install_started_at(both)) == (7, STARTED)
    started = with_mark(None, STARTED)
    assert (install_pending_since(started), install_started_at(started)) == (None, STARTED)
    assert (install_pending_since(GUEST), install_started_at(GUEST)) == (None, None)


def test_a_started_install_is_judged_from_the_qemu_log(tmp_path):
    started = with_mark(None, STARTED)
    (tmp_path / "web01.log").write_text(starting(0) + stopping(30, "destroyed"))
    problem = never_installed_problem("web01", started, True, str(tmp_path))
    assert problem.startswith(
        "guest web01: its install, started at 2026-12-05 12:00:00 UTC, did not finish: "
        "QEMU stopped at 2026-12-05 12:00:30 UTC (libvirt's reason: destroyed)"
    )
    assert "reinstall: true" in problem
    assert "virsh metadata web01 %s --config --remove" % INSTALL_NAMESPACE in problem
    (tmp_path / "web01.log").write_text(starting(0) + stopping(30, "shutdown"))
    assert never_installed_problem("web01", started, True, str(tmp_path)) == ""
    assert never_installed_problem("web01", started, False, None) == ""  # no log here: taken as finished


def test_a_mark_set_before_the_installer_ran_still_says_never_installed(tmp_path):
    """A run stopped between marking the start and starting QEMU: the guest never ran."""
    both = with_mark(STARTED - 10, STARTED)
    assert "was never installed" in never_installed_problem("web01", both, True, str(tmp_path))
    assert "was never installed" in never_installed_problem("web01", both, False, None)


def test_pending_since_reads_like_before_for_marks_of_earlier_versions():
    old = with_install_pending(GUEST, 5).replace('pending-since="5"', 'pending-since="x5"')
    assert install_pending_since(old) == 0


@pytest.mark.parametrize(
    "sender, shown",
    [
        (" from pid 4242 (/usr/bin/kill)", "/usr/bin/kill"),
        (" from pid 1 (/sbin/init)", "/sbin/init"),  # a host shutting down
        (" from pid 77 (<unknown process>)", "<unknown process>"),
        ("", "an unknown process"),
    ],
)
def test_a_signal_that_ended_the_installer_is_an_unfinished_install(tmp_path, sender, shown):
    """libvirt writes reason=shutdown after a SIGTERM too: QEMU's own line says who ended it."""
    signal_line = "2026-12-05T12:00:19.194973Z qemu-system-x86_64: terminating on signal 15%s\n" % sender
    ended, why = outcome(tmp_path, starting(0) + QEMU_LINES + signal_line + stopping(20, "shutdown"))
    assert not ended
    assert why.startswith("QEMU was ended by signal 15 from %s at %s UTC" % (shown, stamp(20)[:19]))


@pytest.mark.parametrize("daemon", ["/usr/sbin/libvirtd", "/usr/sbin/virtqemud"])
def test_libvirts_daemon_ending_a_powered_off_installer_is_a_finished_install(tmp_path, daemon):
    """The guest powered off while libvirtd was away; back, libvirtd ends the QEMU that waited."""
    signal_line = "2026-12-05T12:00:19.194973Z qemu-system-x86_64: terminating on signal 15 from pid 9 (%s)\n" % daemon
    assert outcome(tmp_path, starting(0) + signal_line + stopping(20, "shutdown")) == (True, "")


def test_a_signal_after_the_installers_end_belongs_to_a_later_life(tmp_path):
    later = (
        starting(100) + "qemu-system-x86_64: terminating on signal 15 from pid 4 (/usr/bin/kill)\n" + stopping(120, "shutdown")
    )
    assert outcome(tmp_path, starting(0) + stopping(20, "shutdown") + later) == (True, "")


def test_runs_installer_compares_the_live_and_stored_reboot_actions():
    live = GUEST.replace("</domain>", "<on_reboot>destroy</on_reboot></domain>")
    assert runs_installer(live, GUEST)
    assert not runs_installer(GUEST, GUEST)
    assert not runs_installer(live, live)  # a guest defined to end on reboot runs no installer for it


def test_a_saved_installer_goes_on_when_restored(tmp_path):
    """virsh managedsave: a start restores the installer; its later stop is the one that tells."""
    assert outcome(tmp_path, starting(0) + stopping(20, "saved")) == (True, "")
    assert outcome(tmp_path, starting(0) + stopping(20, "saved") + starting(60) + stopping(90, "shutdown")) == (True, "")
    ended, why = outcome(tmp_path, starting(0) + stopping(20, "saved") + starting(60) + stopping(90, "destroyed"))
    assert not ended and "libvirt's reason: destroyed" in why


def test_a_first_start_long_after_the_mark_is_not_the_installers(tmp_path):
    """The installer's lines rotated away (copytruncate): a later hand start and destroy tell nothing."""
    assert outcome(tmp_path, starting(3600) + stopping(3700, "destroyed")) == (True, "")
    assert outcome(tmp_path, starting(200) + stopping(300, "destroyed"))[0] is False  # a slow host's start


@pytest.mark.parametrize(
    "serial, path",
    [
        ("<serial type='file'><source path='/var/log/g.log' append='on'/></serial>", "/var/log/g.log"),
        ("<serial type='pty'><log file='/var/log/p.log'/></serial>", "/var/log/p.log"),
        ("<serial type='pty'/>", None),
        ("<serial type='file'><source path=''/></serial>", None),
        ("", None),
        # as the stored definition's SerialLog reads it: the waits and the boot marks read one file
        ("<serial type='file'><source path='/var/log/f.out'/><log file='/var/log/f.log'/></serial>", "/var/log/f.out"),
    ],
)
def test_the_serial_log_is_the_file_source_or_the_log_file(serial, path):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import serial_log_path

    assert serial_log_path("<domain><name>g</name><devices>%s</devices></domain>" % serial) == path


def test_a_mark_of_thousands_of_digits_reads_as_no_time():
    """Python refuses to read more than 4300 digits: a mark edited so (virsh metadata) is no time, not an error."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import install_pending_since

    xml = (
        "<domain><name>g</name><metadata><i:install xmlns:i='https://github.com/remotevirt/install/xmlns/install/1' "
        "pending-since='%s'/></metadata></domain>" % ("0" * 4400 + "1")
    )
    assert install_pending_since(xml) == 0

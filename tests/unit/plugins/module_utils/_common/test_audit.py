"""The host log: every line leaves URL credentials out, whatever built it; a host where the
records reach no log gets one warning per task instead of silence."""

from __future__ import annotations

import socket
import sys
import types

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import audit
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action


@pytest.fixture(autouse=True)
def no_warnings_before():
    """Warnings live as long as the process (one task): each test starts with none."""
    audit.take_warnings()
    yield
    audit.take_warnings()


@pytest.fixture
def syslog_lines(monkeypatch):
    lines = []
    monkeypatch.setattr(audit, "_journal", lambda: None)
    monkeypatch.setattr(audit, "_socket_exists", lambda path: path == audit.SYSLOG_SOCKET)
    monkeypatch.setattr(audit.syslog, "openlog", lambda *args: None)
    monkeypatch.setattr(audit.syslog, "syslog", lambda priority, text: lines.append(text))
    return lines


def test_every_record_masks_url_credentials(syslog_lines):
    log = audit.AuditLog(context="qemu+ssh://admin:Pw-uri@hv1/system")
    action = Action("fetch", "kernel", "/boot/k", "curl -fsSL -o /boot/k http://u:Pw-cmd@m/os/vmlinuz")
    log.progress("probing https://token-Pw@m/os")
    log.started(action)
    log.succeeded(action)
    log.failed(action, OSError("cannot download ftp://u:Pw-err@m/x"))
    log.rolled_back(action, OSError("rm http://u:Pw-rb@m/x"))
    assert len(syslog_lines) == 5
    text = "\n".join(syslog_lines)
    assert "Pw-" not in text and "token" not in text
    assert (
        syslog_lines[2] == "qemu+ssh://***@hv1/system: fetch kernel /boot/k rc=0: curl -fsSL -o /boot/k http://***@m/os/vmlinuz"
    )
    assert audit.take_warnings() == []


def records_of_every_kind(log):
    action = Action("create", "volume", "p/v", "virsh vol-create-as --pool p --name v")
    log.progress("probing")
    log.started(action)
    log.succeeded(action)
    log.failed(action, OSError("no space"))
    log.rolled_back(action, None)


def test_no_journald_and_no_syslog_socket_is_one_warning_not_silence(monkeypatch, syslog_lines):
    monkeypatch.setattr(audit, "_socket_exists", lambda path: False)
    records_of_every_kind(audit.AuditLog(context="qemu:///system"))
    records_of_every_kind(audit.AuditLog(context="qemu:///system"))  # another plan of the same task
    assert syslog_lines == []  # syslog(3) would drop them: not even tried
    assert audit.take_warnings() == [audit.NO_SINK_WARNING]
    assert audit.take_warnings() == []  # handed over once
    assert "/dev/log" in audit.NO_SINK_WARNING and "README" in audit.NO_SINK_WARNING


def test_a_write_that_fails_is_one_warning_and_the_run_goes_on(monkeypatch, syslog_lines):
    def refuse(priority, text):
        raise OSError("cannot send to http://u:Pw-w@h/x")

    monkeypatch.setattr(audit.syslog, "syslog", refuse)
    records_of_every_kind(audit.AuditLog())
    warnings = audit.take_warnings()
    assert warnings == [audit.WRITE_FAILED_WARNING % "OSError: cannot send to http://***@h/x"]


def test_journald_binding_without_journald_falls_back_to_syslog(monkeypatch):
    package = types.ModuleType("systemd")
    package.journal = types.ModuleType("systemd.journal")
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.journal", package.journal)
    audit._journal.cache_clear()
    try:
        monkeypatch.setattr(audit, "_socket_exists", lambda path: False)
        assert audit._journal() is None
        audit._journal.cache_clear()
        monkeypatch.setattr(audit, "_socket_exists", lambda path: path == audit.JOURNAL_SOCKET)
        assert audit._journal() is package.journal
    finally:
        audit._journal.cache_clear()


def test_journald_gets_the_records_when_it_listens(monkeypatch):
    sent = []
    journal = types.SimpleNamespace(send=lambda text, **fields: sent.append((text, fields)))
    monkeypatch.setattr(audit, "_journal", lambda: journal)
    monkeypatch.setattr(audit, "_socket_exists", lambda path: False)  # no /dev/log: journald is enough
    audit.AuditLog(facility="local3").succeeded(Action("start", "guest", "g1", "virsh start g1"))
    assert sent == [
        (
            "start guest g1 rc=0: virsh start g1",
            {
                "SYSLOG_IDENTIFIER": "remotevirt",
                "SYSLOG_FACILITY": "19",
                "PRIORITY": "6",
                "REMOTEVIRT_ACTION": "start",
                "REMOTEVIRT_KIND": "guest",
                "REMOTEVIRT_NAME": "g1",
                "REMOTEVIRT_RC": "0",
            },
        )
    ]
    assert audit.take_warnings() == []


def test_socket_exists_only_for_a_socket(tmp_path):
    path = tmp_path / "log"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        listener.bind(str(path))
        (tmp_path / "link").symlink_to(path)
        (tmp_path / "file").write_text("")
        assert audit._socket_exists(str(path)) and audit._socket_exists(str(tmp_path / "link"))
        assert not audit._socket_exists(str(tmp_path / "file"))
        assert not audit._socket_exists(str(tmp_path / "missing"))
    finally:
        listener.close()

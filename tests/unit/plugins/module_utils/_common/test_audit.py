"""The host log: every line leaves URL credentials out, whatever built it."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import audit
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action


@pytest.fixture
def syslog_lines(monkeypatch):
    lines = []
    monkeypatch.setattr(audit, "_journal", lambda: None)
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
    assert syslog_lines[2] == "qemu+ssh://***@hv1/system: fetch kernel /boot/k rc=0: curl -fsSL -o /boot/k http://***@m/os/vmlinuz"

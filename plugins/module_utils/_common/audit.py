# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side record of every state-changing action and its result.

Messages go to journald when its Python binding is present and journald listens (with structured
fields), otherwise to syslog, under the identifier ``remotevirt`` and a configurable facility so
that a remote log server can collect them. Progress messages use debug priority; results use info
(rc=0) or err.

Writing never fails a run. A host where the records reach no log (neither journald nor a syslog
socket, or a write that fails) gets one warning per task instead: ``take_warnings()`` hands them
to the module's entry, which adds them to the task's result.
"""

from __future__ import annotations

import functools
import os
import stat
import syslog
from typing import Any, List, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.facilities import FACILITIES
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_message, redact_text

IDENTIFIER = "remotevirt"

# Where syslog(3) (glibc and musl), which Python's syslog module calls, sends its records.
SYSLOG_SOCKET = "/dev/log"
# Where journald's Python binding sends its records (sd_journal_send).
JOURNAL_SOCKET = "/run/systemd/journal/socket"

NO_SINK_WARNING = (
    "the remotevirt host log is not written on this host: there is neither journald (with its Python binding, "
    "python3-systemd) nor a syslog socket at %s, so the actions of this task are recorded nowhere on the host; "
    "run a syslog daemon (rsyslog, syslog-ng or busybox syslogd) or journald there (see the README's Host log)" % SYSLOG_SOCKET
)
WRITE_FAILED_WARNING = "the remotevirt host log could not be written on this host (%s); the task went on without it"

# The warnings of this process, which runs one task: each is given once.
_warnings: List[str] = []


class AuditLog:
    """Writes ``remotevirt`` records; ``context`` (e.g. the libvirt URI) prefixes each one."""

    def __init__(self, facility: str = "user", context: str = "", identifier: str = IDENTIFIER) -> None:
        if facility not in FACILITIES:
            raise ValueError("unknown syslog facility %r" % facility)
        self.facility = FACILITIES[facility]
        self.context = context
        self.identifier = identifier

    def progress(self, message: str) -> None:
        self._write(syslog.LOG_DEBUG, message)

    def started(self, action: Any) -> None:
        self._write(
            syslog.LOG_DEBUG, "start %s %s %s: %s" % (action.verb, action.kind, action.name, action.command_line), action=action
        )

    def succeeded(self, action: Any) -> None:
        self._write(
            syslog.LOG_INFO,
            "%s %s %s rc=0: %s" % (action.verb, action.kind, action.name, action.command_line),
            action=action,
            rc=0,
        )

    def failed(self, action: Any, error: BaseException) -> None:
        self._write(
            syslog.LOG_ERR,
            "%s %s %s rc=1: %s: %s" % (action.verb, action.kind, action.name, action.command_line, error),
            action=action,
            rc=1,
        )

    def rolled_back(self, action: Any, error: Optional[BaseException]) -> None:
        if error is None:
            self._write(
                syslog.LOG_WARNING, "rollback %s %s %s rc=0" % (action.verb, action.kind, action.name), action=action, rc=0
            )
        else:
            self._write(
                syslog.LOG_ERR, "rollback %s %s %s rc=1: %s" % (action.verb, action.kind, action.name, error), action=action, rc=1
            )

    def _write(self, priority: int, message: str, action: Any = None, rc: Optional[int] = None) -> None:
        """Best effort: a host log that cannot be written never changes what a run does (no skipped
        rollback, no orphan guest), so every failure to write becomes a warning of the task."""
        try:
            self._send(priority, message, action, rc)
        except Exception as error:  # noqa: BLE001 - see the docstring
            _warn(WRITE_FAILED_WARNING % redact_text(" ".join(("%s: %s" % (type(error).__name__, error)).split())))

    def _send(self, priority: int, message: str, action: Any, rc: Optional[int]) -> None:
        # Every line, whatever built it (an error's text may quote a URL): credentials never reach the log.
        text = redact_message("%s: %s" % (self.context, message) if self.context else message)
        journal = _journal()
        if journal is None and not _socket_exists(SYSLOG_SOCKET):
            # syslog(3) drops records silently without its socket: say so instead.
            _warn(NO_SINK_WARNING)
            return
        if journal is not None:
            fields = {"SYSLOG_IDENTIFIER": self.identifier, "SYSLOG_FACILITY": str(self.facility >> 3), "PRIORITY": str(priority)}
            if action is not None:
                fields.update(REMOTEVIRT_ACTION=action.verb, REMOTEVIRT_KIND=action.kind, REMOTEVIRT_NAME=action.name)
            if rc is not None:
                fields["REMOTEVIRT_RC"] = str(rc)
            journal.send(text, **fields)
            return
        # openlog on every write: AnsibleModule.log() reopens syslog with its own identifier.
        syslog.openlog(self.identifier, syslog.LOG_PID, self.facility)
        syslog.syslog(priority, text)


def take_warnings() -> List[str]:
    """The warnings about the host log since the last call, each once; the module's entry adds them to the result."""
    taken = list(_warnings)
    del _warnings[:]
    return taken


def _warn(warning: str) -> None:
    if warning not in _warnings:
        _warnings.append(warning)


@functools.lru_cache(maxsize=None)
def _journal() -> Any:
    """journald's Python binding where it is installed and journald listens, else None."""
    # Imported on the first record, not with this module: a task that changes nothing writes
    # none (import cost on every task).
    try:
        from systemd import journal
    except ImportError:  # most hosts: plain syslog, which journald also reads from /dev/log
        return None
    # The binding without journald (a container, a host with another init) fails every send: use syslog there.
    return journal if _socket_exists(JOURNAL_SOCKET) else None


def _socket_exists(path: str) -> bool:
    """True when ``path`` is a socket (after symbolic links: /dev/log is often one to journald's)."""
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False

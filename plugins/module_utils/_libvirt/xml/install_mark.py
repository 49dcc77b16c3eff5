# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mark a new guest's stored definition carries from its define until it is started from its disk.

From the define until its install (or its first boot with cloud-init) has started, the mark says
since when the install is pending: a guest still so marked, that never ran, was never installed.
From the start of an installer on, it says since when the install runs: libvirt's log of the guest's
QEMU then tells whether the installer ended it (``shutting down, reason=shutdown``) or something
else did (destroyed, crashed, or a host that went down without a word). Neither a guest never
installed nor one whose installer was stopped is taken for installed, or started from its disk, by
any module."""

from __future__ import annotations

import calendar
import os
import re
import time
from typing import Any, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse, replace_metadata

# The namespace of the mark's element in the guest's <metadata> (libvirt keeps one element per
# namespace there, and never reads it).
INSTALL_NAMESPACE = "https://github.com/remotevirt/install/xmlns/install/1"
_INSTALL_TAG = "{%s}install" % INSTALL_NAMESPACE
INSTALL_PREFIX = "rvi-install"

# Where libvirt's system daemon keeps each QEMU guest's log (NAME.log): the lines it writes when
# it starts QEMU and when QEMU stops, with the reason.
SYSTEM_QEMU_LOG_DIRECTORY = "/var/log/libvirt/qemu"
# The end of a long log is enough: a marked guest was started by nobody but its installer and
# whoever started it by hand since, each start a few KiB of lines.
_LOG_TAIL_BYTES = 1 << 20
# The installer's QEMU starts right after the mark is set: a first start later than this is another
# (the log rotated, or cut by the tail) and tells nothing of the install.
_INSTALLER_START_SECONDS = 300
# Matched through re's own cache: only a run that reads a log compiles it.
_LOG_LINE = rb"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3}\+0000: (starting up|shutting down, reason=([a-z-]+))"
# QEMU's own line when a signal ends it; libvirt then records the stop as a shutdown. Sent by anyone
# but libvirt's daemon (which ends a QEMU whose guest had powered off while the daemon was away), it
# ended the installer: a kill, a host shutting down.
# QEMU writes it after its time stamp and program name (-msg timestamp=on).
_SIGNAL_LINE = rb": terminating on signal ([0-9]+)(?: from pid [0-9]+ \(([^)]*)\))?"
_LIBVIRT_DAEMONS = frozenset((b"libvirtd", b"virtqemud"))
# The reasons libvirt gives when QEMU stopped before the installer powered the guest off.
_INTERRUPTED_REASONS = frozenset((b"destroyed", b"crashed"))


def with_install_pending(xml: str, since: int) -> str:
    """The definition ``xml`` marked as defined at ``since`` (epoch seconds), its install not started."""
    root = parse(xml)
    replace_metadata(root, etree.Element(_INSTALL_TAG, {"pending-since": str(since)}, nsmap={INSTALL_PREFIX: INSTALL_NAMESPACE}))
    return etree.tostring(root, encoding="unicode")


def install_pending_since(xml: str) -> Optional[int]:
    """When the stored definition ``xml`` was defined, if its install has not started (0 when the
    mark says no time); None without that mark."""
    mark = _mark(xml)
    if mark is None or (mark.get("pending-since") is None and mark.get("started") is not None):
        return None
    return _seconds(mark.get("pending-since"))


def install_started_at(xml: str) -> Optional[int]:
    """When the install of the guest of stored definition ``xml`` started, if it has not been
    started from its disk since; None without that mark."""
    mark = _mark(xml)
    if mark is None or mark.get("started") is None:
        return None
    return _seconds(mark.get("started"))


def install_mark_element(pending_since: Optional[int], started: int) -> str:
    """The mark's element for libvirt's metadata call: the install started at ``started``, and, until
    the installer runs, still pending since ``pending_since``."""
    attributes = {"started": str(started)}
    if pending_since is not None:
        attributes["pending-since"] = str(pending_since)
    return etree.tostring(etree.Element("install", attributes), encoding="unicode")


def forget_install_mark(client: Any, domain: Any) -> None:
    """Drop the mark from a guest just started from its disk, or seen to end as its installer ends it
    (through ``client``, a libvirt Client). Modules start a marked guest only when it ran since it was
    defined and its installer ended it; a mark left would call it never installed once its serial log
    is gone. A start that resumed a saved installer keeps it: that guest is not installed yet."""
    stored = client.domain_definition(domain)
    if _mark(stored) is None:
        return
    live = client.domain_live_definition_if_present(domain)
    if live is not None and runs_installer(live, stored):
        return
    client.remove_stored_metadata(domain, INSTALL_NAMESPACE)


def runs_installer(live_xml: str, stored_xml: str) -> bool:
    """Whether a running guest runs an install definition: that one ends on reboot (install
    definitions have on_reboot destroy), its stored definition does not."""
    return _on_reboot(live_xml) == "destroy" and _on_reboot(stored_xml) != "destroy"


def _on_reboot(xml: str) -> str:
    return parse(xml).findtext("on_reboot") or "restart"


def qemu_log_directory(uri: str) -> Optional[str]:
    """The directory of the guests' QEMU logs of ``uri`` when it is this host's system daemon."""
    scheme, _sep, rest = uri.partition("://")
    driver, _plus, transport = scheme.partition("+")
    host, _slash, path = rest.partition("/")
    if driver != "qemu" or transport not in ("", "unix") or host or path.partition("?")[0] != "system":
        return None
    return SYSTEM_QEMU_LOG_DIRECTORY


def never_installed_problem(name: str, xml: str, local: bool, log_directory: Optional[str] = None) -> str:
    """Why the guest of stored definition ``xml`` must not be taken for installed nor started as it
    is; "" when it may. Still pending: it shows no sign of having run since (its serial log written
    after it was defined, which only a module run on its host can see). Started: its QEMU log (in
    ``log_directory``, the host's system daemon's) shows that QEMU stopped before the installer
    powered the guest off. Without the log, a started install is taken as finished."""
    since = install_pending_since(xml)
    if since is not None and not (local and _serial_log_written_since(xml, since)):
        return (
            "guest %s was defined by a run that stopped before its install (or its first boot with cloud-init) "
            "started, so it was never installed; run virt_guest_install with reinstall: true to install it (its "
            "disks and identity are kept), or remove it with state: absent" % name
        )
    started = install_started_at(xml)
    if started is None or log_directory is None:
        return ""
    ended, reason = install_outcome(os.path.join(log_directory, name + ".log"), started)
    if ended:
        return ""
    return (
        "guest %s: its install, started at %s, did not finish: %s (libvirt's log %s/%s.log), so its disk holds "
        "an unfinished install; run virt_guest_install with reinstall: true to install it again (its disks and "
        "identity are kept), or remove it with state: absent. If the install did finish, drop the mark with "
        "virsh metadata %s %s --config --remove" % (name, _utc(started), reason, log_directory, name, name, INSTALL_NAMESPACE)
    )


def install_outcome(log_path: str, started: int) -> Tuple[bool, str]:
    """Whether the install started at ``started`` ended as an installer ends it (or cannot be told
    from the guest's QEMU log at ``log_path``), and what the log says otherwise. The first QEMU the
    log starts at or after ``started`` is the installer's; the first stop after that start is its end."""
    lines = _log_tail(log_path)
    if lines is None:
        return True, ""
    installer_started = saved = False
    signalled = None  # the signal, and who sent it, that ended the installer's QEMU
    for line in lines:
        found = re.match(_LOG_LINE, line)
        if found is None:
            if installer_started:
                signalled = signalled or _foreign_signal(line)
            continue
        if not installer_started:
            if found.group(2) == b"starting up" and _log_seconds(found.group(1)) >= started:
                if _log_seconds(found.group(1)) > started + _INSTALLER_START_SECONDS:
                    return True, ""  # a later start: the installer's lines are gone
                installer_started = True
            continue
        stamp = found.group(1).decode("ascii")
        if found.group(3) is None:
            if saved:  # the saved installer resumed
                saved = False
                continue
            # Started again without a stop written: the installer's QEMU went unrecorded.
            return False, "libvirt recorded no end of the installer's QEMU before the guest was started again"
        if found.group(3) == b"saved" and signalled is None:
            saved = True  # saved to disk (managedsave): its next start resumes the installer
            continue
        if signalled is not None:
            signal, sender = signalled
            return False, "QEMU was ended by signal %s from %s at %s UTC, before the installer powered the guest off" % (
                signal,
                sender,
                stamp,
            )
        if found.group(3) in _INTERRUPTED_REASONS:
            return False, "QEMU stopped at %s UTC (libvirt's reason: %s), before the installer powered the guest off" % (
                stamp,
                found.group(3).decode("ascii"),
            )
        return True, ""
    if saved:
        return True, ""  # a start restores the saved installer, which goes on (and keeps the mark)
    if installer_started:
        return False, "the installer's QEMU stopped and libvirt recorded no end (the host or libvirt went down)"
    return True, ""  # the log does not reach back to the install (rotated, or another daemon's)


def _foreign_signal(line: bytes) -> Optional[Tuple[str, str]]:
    """(signal, sender) of QEMU's line saying a signal ended it, unless libvirt's daemon sent it."""
    found = re.search(_SIGNAL_LINE, line)
    if found is None:
        return None
    sender = found.group(2) or b"an unknown process"
    if os.path.basename(sender) in _LIBVIRT_DAEMONS:
        return None
    shown = "".join(char for char in sender.decode("utf-8", "replace") if char.isprintable())
    return found.group(1).decode("ascii"), shown


def _log_tail(path: str) -> Optional[List[bytes]]:
    """The complete lines of the last MiB of the log at ``path``; None when it cannot be read."""
    try:
        with open(path, "rb") as log:
            size = os.fstat(log.fileno()).st_size
            log.seek(max(0, size - _LOG_TAIL_BYTES))
            lines = log.read(_LOG_TAIL_BYTES).split(b"\n")
    except (OSError, ValueError):
        return None
    return lines[1:] if size > _LOG_TAIL_BYTES else lines


def _log_seconds(stamp: bytes) -> int:
    return int(calendar.timegm(time.strptime(stamp.decode("ascii"), "%Y-%m-%d %H:%M:%S")))


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _mark(xml: str) -> Any:
    return parse(xml).find("metadata/" + _INSTALL_TAG)


def _seconds(value: Optional[str]) -> int:
    return whole_number(value) or 0


def serial_log_path(xml: str) -> Optional[str]:
    """The file the guest of definition ``xml`` writes its serial console to, if any: a file serial
    port's own file (as the stored definition's SerialLog reads it, a ``<log file>`` beside it
    notwithstanding), else the file libvirt logs another kind of port to (``<log file>``)."""
    serial = parse(xml).find("devices/serial")
    if serial is None:
        return None
    source = serial.find("source")
    if serial.get("type") == "file" and source is not None and source.get("path"):
        return source.get("path")
    log = serial.find("log")
    return (log.get("file") or None) if log is not None else None


def _serial_log_written_since(xml: str, since: int) -> bool:
    path = serial_log_path(xml)
    if not path:
        return False
    try:
        return os.stat(path).st_mtime >= since
    except (OSError, ValueError):
        return False

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a running guest's current boot began in its serial log.

The serial log is appended to across boots (``append="on"``), so an earlier boot's output, a
``wait_for.marker`` included, stays in it. The run that starts a guest knows the log's size and file
at that moment; it leaves them in the running guest's live ``<metadata>``, which libvirt drops when
QEMU stops and never writes to the stored definition. A later run that finds the guest running (a
retry after a failed wait) then reads only what this boot wrote.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any, Dict, NamedTuple, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse, replace_metadata

BOOT_NAMESPACE = "https://github.com/remotevirt/install/xmlns/boot/1"
BOOT_PREFIX = "rvi-boot"
_BOOT_TAG = "{%s}boot" % BOOT_NAMESPACE


# The bytes before a mark's position whose digest it keeps: a log cut in place (copytruncate) and
# written again past that size no longer has them there.
_TAIL_BYTES = 64


class LogPosition(NamedTuple):
    """The serial log's size in bytes, the file it was (device and inode), and a digest of the bytes
    before that size, when a boot began."""

    size: int
    device: int
    inode: int
    tail: str


def log_position(path: Optional[str]) -> Optional[LogPosition]:
    """Where the log at ``path`` ends now: an empty position (size 0 of no file) when there is no
    file yet, as a boot then writes all of it; None when it cannot be read (nothing is recorded)."""
    if not path:
        return None
    try:
        descriptor = _open_log(path)
    except FileNotFoundError:
        return LogPosition(0, 0, 0, _digest(b""))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return None
        return LogPosition(info.st_size, info.st_dev, info.st_ino, _tail_digest(descriptor, info.st_size))
    except OSError:
        return None
    finally:
        os.close(descriptor)


def mark_boot(client: Any, domain: Any, position: Optional[LogPosition], audit: Any) -> None:
    """Leave ``position`` (where the log ended before the guest started) in the just started guest's
    live metadata, through ``client`` (a libvirt Client), unless the start restored a saved guest
    (libvirt boots one whose saved image is incomplete afresh: that start is marked). The guest runs
    whatever becomes of this: without the mark a later run reads the whole log, so a failure goes to
    ``audit`` (the host log), not up."""
    if position is None:
        return
    try:
        if client.domain_state(domain)[1] == "restored":
            return  # a saved guest resumed its boot: its restored live metadata keeps that boot's mark
        client.set_live_metadata(domain, BOOT_NAMESPACE, BOOT_PREFIX, boot_element(position))
    except Exception as error:  # a LibvirtError; the start it follows succeeded
        audit.progress("guest %s runs; where its boot began in its serial log was not recorded: %s" % (domain.name(), error))


def boot_element(position: LogPosition) -> str:
    """The mark's element for libvirt's metadata call (its namespace is given with the call)."""
    return etree.tostring(_element(position, "boot"), encoding="unicode")


def with_boot_mark(xml: str, position: LogPosition) -> str:
    """The definition ``xml`` to start, its live metadata saying where this boot begins in its log."""
    root = parse(xml)
    replace_metadata(root, _element(position, _BOOT_TAG, {BOOT_PREFIX: BOOT_NAMESPACE}))
    return etree.tostring(root, encoding="unicode")


def boot_log_start(live_xml: Optional[str], path: Optional[str]) -> int:
    """From which byte of the log at ``path`` the running guest (of live definition ``live_xml``)
    wrote since its QEMU started: its mark's size while the log is still the file it marked, has not
    shrunk and still holds the bytes before that size; 0 (the whole log) without a mark, or once the
    log was replaced, rotated or cut."""
    if live_xml is None or not path:
        return 0
    mark = parse(live_xml).find("metadata/" + _BOOT_TAG)
    if mark is None:
        return 0
    size, device, inode = (_number(mark.get(name)) for name in ("size", "device", "inode"))
    try:
        descriptor = _open_log(path)
    except (OSError, ValueError):
        return 0
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (device, inode) or info.st_size < size:
            return 0
        return size if _tail_digest(descriptor, size) == mark.get("tail") else 0
    except OSError:
        return 0
    finally:
        os.close(descriptor)


def _open_log(path: str) -> int:
    # Not blocking: a FIFO put in the log's place would block the run.
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


def _tail_digest(descriptor: int, size: int) -> str:
    start = max(0, size - _TAIL_BYTES)
    return _digest(os.pread(descriptor, size - start, start))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _element(position: LogPosition, tag: str, nsmap: Optional[Dict[str, str]] = None) -> Any:
    return etree.Element(tag, {name: str(value) for name, value in position._asdict().items()}, nsmap=nsmap)


def _number(value: Optional[str]) -> int:
    return whole_number(value) or 0

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a guest's serial log may be, and when removing the guest may delete it.

virtlogd appends the guest's console to the serial log as root, and ``state: absent`` deletes it:
a path that names a file of the host, a pool's volume or another guest's disk would let the guest
write into that file (a crontab line, a key) and the removal delete it.
"""

from __future__ import annotations

import os
import stat
from typing import Iterable, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import host_directory_name, host_file_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import SYSTEM_TREES, same_path
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

# Trees of the host's programs, configuration and private data: a log there is written into them.
_REFUSED_TREES = SYSTEM_TREES + (
    "/bin/",
    "/sbin/",
    "/lib/",
    "/lib32/",
    "/lib64/",
    "/libx32/",
    "/usr/",
    "/root/",
    "/run/",
    "/var/backups/",
    "/var/cache/",
    "/var/lib/",
    "/var/mail/",
    "/var/spool/",
)
# Directories that hold the host's own trees: a log directly in them is a file among the system's.
_REFUSED_DIRECTORIES = frozenset(("/", "/var", "/home", "/srv", "/opt", "/mnt", "/media"))


def place_problem(path: str) -> str:
    """Why the serial log ``path`` is among the host's own files (as spelled, or where its
    directory leads), or ""."""
    directory = os.path.dirname(same_path(path) or path) or "/"
    for candidate in dict.fromkeys((directory, os.path.realpath(directory), host_directory_name(directory) or directory)):
        if candidate in _REFUSED_DIRECTORIES or (candidate.rstrip("/") + "/").startswith(_REFUSED_TREES):
            through = "" if candidate == directory else " (through a link or mount to %s)" % candidate
            return (
                "serial_log: %s is in %s%s, among the host's own files: the guest's console would be written "
                "there as root; give it a directory of logs (for example /var/log/libvirt/qemu)" % (path, directory, through)
            )
    return ""


# libvirt's log daemon rotates a log it opens over its size limit (2 MiB by default) to <log>.0, the
# older ones to .1 and .2 (max_backups 3), and deletes the oldest.
_ROTATED = (".0", ".1", ".2")


def existing_file_problem(path: str) -> str:
    """Why a new serial log ``path`` may not be a file that holds something already, or one whose
    rotated names are taken: libvirt's log daemon would rotate it away (renaming it, deleting the
    oldest of its backups) and removing the guest would delete it. "" for a new or empty file."""
    for name in (path,) + tuple(path + suffix for suffix in _ROTATED):
        try:
            info = os.stat(name)  # through a link: what the log daemon would append to or rotate
        except (OSError, ValueError):
            continue
        if name == path and stat.S_ISREG(info.st_mode) and info.st_size == 0:
            continue  # an empty file made ready for the log: nothing of it is lost
        held = "holds %d bytes" % info.st_size if stat.S_ISREG(info.st_mode) else "is there"
        return (
            "serial_log: %s %s already and is no log of this guest: libvirt's log daemon rotates a log "
            "it opens (to %s.0, .1 and .2, deleting the oldest) and removing the guest would delete the log; "
            "give the guest a new file, or move the file away first" % (name, held, path)
        )
    return ""


def own_file_problem(path: str, own_files: Iterable[Tuple[str, str]]) -> str:
    """Why the serial log ``path`` leads to a file the guest itself has as a disk or medium
    (``own_files``: (what, path) pairs), through links or as a hard link; "" when it is none."""
    # Imported here: only a new serial log and a removal ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import same_file_as

    real = os.path.realpath(path)
    is_the_file = same_file_as(path)  # None before the log exists: the paths decide
    for what, own in own_files:
        if os.path.realpath(own) == real or (is_the_file is not None and is_the_file(own)):
            return (
                "serial_log: %s is the file of %s of this guest (%s): its console would be written into that "
                "file and removing the guest would delete it; give the guest a log file of its own" % (path, what, own)
            )
    return ""


def file_problem(client: Client, path: str, guest: str, logs: bool = True) -> str:
    """Why the file ``path`` leads to is not this guest's log to write or delete: one of the host's
    files, a file in a storage pool's directory (also one not made yet), or a file another guest
    opens (or, with ``logs``, logs to: a new log's clash with another guest's is refused with the
    other clashes); "" when it is none of those. Lists every pool and every guest: asked
    only for a new serial log and for a removal."""
    try:
        info: Optional[os.stat_result] = os.stat(path)
    except (OSError, ValueError):
        info = None  # made when the guest starts: only where it would be counts
    if info is not None and not stat.S_ISREG(info.st_mode):
        return "serial_log: %s is not a regular file (a device, a directory); the console is never written to it" % path
    problem = host_file_problem(path, "serial_log") if info is not None else ""
    if problem:
        return problem
    pool = _pool_holding(client, path)
    if pool:
        return "serial_log: %s is in storage pool %s's directory, where every file is a volume; give it a directory of logs" % (
            path,
            pool,
        )
    if info is None:
        return ""
    user = _other_guest_using(client, path, guest, logs)
    if user:
        return "serial_log: %s is a file guest %s uses; give this guest a log of its own" % (path, user)
    return ""


def _pool_holding(client: Client, path: str) -> Optional[str]:
    """The pool whose directory holds the file ``path`` leads to, if any."""
    real = os.path.realpath(path)
    for pool in client.all_pools():
        directory = client.describe_pool(pool).directory
        if directory and (real.startswith(os.path.realpath(directory).rstrip("/") + "/")):
            return pool.name()
    return None


def _other_guest_using(client: Client, path: str, guest: str, logs: bool) -> Optional[str]:
    """A guest other than ``guest`` whose disks, boot files (or, with ``logs``, logs) lead to the file
    ``path`` leads to."""
    # Imported here: only a new serial log and a removal ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import usage
    from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import image_reader

    is_the_file = usage.in_files_test([path], None, True)
    read_image = image_reader(client)
    volume_path = usage.volume_paths(client)
    for name, references in usage.guest_references(client):
        if name == guest:
            continue
        logged = logs and any(is_the_file(log) for log in references["logs"])
        if logged or usage.reaches(references, is_the_file, read_image, volume_path):
            return name
    return None

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's store of compiled code: where it is, and reading its entries, only when whole and
this user's.

In a task run from Ansible's zip this is the one module of this collection compiled on every task
(see the package ``_common``), so it holds only what reading an entry needs; the finder (code_cache),
which also reads sources as the zip stores them and writes entries, comes from the store.

Each source is kept in the private directory the host locks live in (``/run/remotevirt/code`` for
root: emptied at each boot, so old versions do not pile up), under a digest of the source's name,
its bytes (as the zip stores them, or the source itself) and the Python that compiled it, so an
entry is never used for other code. Entries carry a CRC-32 of their key and bytes against a torn,
damaged or renamed entry; what keeps anyone else's code out is that only entries the running user
owns, in a directory nobody else can write, are read. Anything unexpected (a directory or entry
someone else could write, a torn or foreign entry, a full disk, an unreadable zip) means compiling
as before, never a failure.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pwd
import stat
import sys
import zipimport
import zlib
from types import CodeType
from typing import Optional, Tuple, Union

# Part of every key: code compiled by one Python, or at another optimization level (-O drops
# asserts, -OO docstrings), is never loaded by another, and an entry of another layout (entries:
# a CRC-32 of the marshalled code, then that code) is never read.
_TAG = ("entries 2, %s %s, -O %d" % (sys.implementation.cache_tag, sys.version, sys.flags.optimize)).encode("utf-8")
_CHECK_SIZE = 4
# No module's code comes near this; a larger file where an entry should be is not read at all.
_MAX_ENTRY_SIZE = 16 * 1024 * 1024
# The lock directory's last resort for a user other than root: sticky, so nobody else can rename it.
SHARED_TEMPORARY = "/tmp"


def lock_dir() -> str:
    """The private directory of this user's host locks and caches: one per user whatever a run's
    environment (runs of one user must find each other's locks), on a way only root and this user
    can change, so no other user can take the name first, nor rename it away while a run holds a
    lock and let a second run take the same lock in a new directory. For a user other than root:
    ``.cache/remotevirt/locks`` in the home the user database gives (not $HOME, which become may
    pass on from another user, nor XDG_RUNTIME_DIR, which an ssh login sets and sudo or cron do
    not), else /tmp/remotevirt-UID (/tmp is sticky: nobody else can rename it)."""
    if os.geteuid() == 0:
        return "/run/remotevirt"
    home = _home_directory()
    if home:
        place = os.path.join(home, ".cache", "remotevirt", "locks")
        if _is_trusted_way(place) and _is_private_way(home, place):
            return place
    return os.path.join(SHARED_TEMPORARY, "remotevirt-%d" % os.geteuid())


def make_private_directories(path: str) -> None:
    """Make ``path`` and the directories on the way to it that are missing, each 0700 whatever the
    umask (a umask of 0 would leave them open to everyone, a restrictive one unusable by later
    runs); raises OSError."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # made meanwhile by another run: judged where it is opened
        os.chmod(directory, 0o700)


def _home_directory() -> Optional[str]:
    """This user's home as the user database has it, when it is an absolute path to a directory of
    this user's; None otherwise (no entry, or a system user's /nonexistent or root-owned home, where
    the lock directory could not be made)."""
    try:
        given = pwd.getpwuid(os.geteuid()).pw_dir
    except (KeyError, ValueError):
        return None
    # One spelling ('/home//alice' is '/home/alice'), so the way to the lock directory is judged as
    # this user's from the home on; a '..' (whose meaning depends on links) is no home to trust.
    parts = [part for part in given.split("/") if part not in ("", ".")]
    if not given.startswith("/") or ".." in parts:
        return None
    home = "/" + "/".join(parts)
    try:
        info = os.stat(home)
    except (OSError, ValueError):
        return None
    return home if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() else None


def _is_trusted_way(path: str) -> bool:
    """Whether nobody but root and this user can make ``path`` lead elsewhere (see own_directory)."""
    # Imported here: only users other than root have their lock directory's way judged.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import untrusted_path_problem

    try:
        return untrusted_path_problem(path, "lock directory") is None
    except (OSError, ValueError):
        return False


def _is_private_way(home: str, place: str) -> bool:
    """Whether no group may rename a directory on the way to ``place`` (one its group may write
    without the sticky bit: a home shared with a group, mode 2775), and this user can make what is
    missing of it: from ``home`` on, each directory on the way that exists is this user's (not a
    link; a root-owned ~/.cache left by sudo is not), and only this user may write it, and can.
    ``place`` itself, when there, is judged where it is opened (a clear refusal, not elsewhere)."""
    current = "/"
    for part in place.strip("/").split("/"):
        mine = (current.rstrip("/") + "/").startswith(home.rstrip("/") + "/")  # home, or a part below it
        try:
            info = os.stat(current)
        except OSError:
            return False
        if info.st_mode & stat.S_IWGRP and not info.st_mode & stat.S_ISVTX:
            return False
        if mine and not (info.st_uid == os.geteuid() and info.st_mode & 0o322 == 0o300):
            return False
        current = os.path.join(current, part)
        try:
            if mine and stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except FileNotFoundError:
            return mine  # the rest is this user's to make
        except OSError:
            return False
    return True


def cache_directory() -> Optional[int]:
    """A descriptor of the store's directory inside the private lock directory, or None where it
    is not private, or not there yet: the store never makes it (a task in check mode makes no
    directory), the first run that takes a lock does. Entries are opened relative to it: should
    another user be able to rename a directory on the way after all, a directory swapped in after
    this check is never read."""
    try:
        parent_fd = open_private_directory(lock_dir())
    except OSError:
        return None
    if parent_fd is None:
        return None
    try:
        try:
            os.mkdir("code", 0o700, dir_fd=parent_fd)
            os.chmod("code", 0o700, dir_fd=parent_fd)  # whatever the umask
        except FileExistsError:
            pass
        return open_private_directory("code", parent_fd)
    except OSError:
        return None
    finally:
        os.close(parent_fd)


def open_private_directory(path: str, parent_fd: Optional[int] = None) -> Optional[int]:
    """A descriptor of the directory ``path`` (not a link to one), None unless it is this user's and nobody else can write it."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        info = os.fstat(descriptor)
        if info.st_uid == os.geteuid() and not info.st_mode & 0o022:
            return descriptor
    except OSError:
        pass
    os.close(descriptor)
    return None


def code_from_source(
    archive: zipimport.zipimporter, fullname: str, filename: str, directory: Optional[int]
) -> Tuple[CodeType, Optional[str]]:
    """The code of module ``fullname`` (``filename`` in the zip), and the key to keep it under when
    it was compiled here (None when it came from the store, or there is none). The key is a digest
    of the source itself: the finder's way of reading a source as the zip stores it is loaded from
    the store, with the finder."""
    try:
        source = archive.get_data(os.path.join(archive.archive, filename))
    except OSError:
        return archive.get_code(fullname), None
    key = entry_key(filename, b"source\0" + source)
    code = read_entry(key, directory) if directory is not None else None
    if code is not None:
        return code, None
    return compile(source, code_filename(filename), "exec", dont_inherit=True), key if directory is not None else None


def code_filename(filename: str) -> str:
    """The file name stored code carries, for ``filename`` in the zip: the zip's own path changes
    with every task (and a path under the system's temporary directory, once the task is over, is
    anyone's to create), so the name inside the zip, rooted at ``/``. Tracebacks read the lines
    through the loader's get_source; a relative name would have them read a file of that name in
    the task's working directory first."""
    return "/" + filename.lstrip("/")


def entry_key(filename: str, content: bytes) -> str:
    """The name of the entry of a source: a digest of its name, ``content`` (its bytes as stored,
    or the source itself) and the Python compiling it."""
    return hashlib.sha256(b"\0".join((_TAG, filename.encode("utf-8"), content))).hexdigest()


def read_entry(path: str, directory: Optional[int] = None) -> Optional[CodeType]:
    """The code kept at ``path`` (in the ``directory`` descriptor when given); None when there is
    none, or it is not one this user wrote whole, under this name."""
    opened = open_own_file(path, directory)
    if opened is None:
        return None
    descriptor, info = opened
    try:
        if info.st_size > _MAX_ENTRY_SIZE:
            return None
        data = os.read(descriptor, info.st_size)  # entries are written whole, then renamed: never grown
    except OSError:
        return None
    finally:
        os.close(descriptor)
    # A view, not a slice: the code is not copied to be checked and loaded.
    check, payload = data[:_CHECK_SIZE], memoryview(data)[_CHECK_SIZE:]
    if len(data) != info.st_size or len(check) != _CHECK_SIZE or entry_check(path, payload) != check:
        return None
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def open_own_file(path: str, directory: Optional[int] = None) -> Optional[Tuple[int, os.stat_result]]:
    """A read-only descriptor of the file at ``path`` (in the ``directory`` descriptor when given)
    and what fstat says of it; None unless it is a regular file (not a link to one) of the running
    user that nobody else can write. Whatever a directory has become by the time a file in it is
    opened (a name swapped for someone else's directory), a file that passes is one this user wrote."""
    try:
        # O_NONBLOCK: a FIFO put there is refused below instead of blocking the task.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=directory)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(descriptor)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022:
            return descriptor, info
    except OSError:
        pass
    os.close(descriptor)
    return None


def write_whole(path: str, payload: bytes, directory: Optional[int] = None) -> bool:
    """Keep ``payload`` at ``path`` (in the ``directory`` descriptor when given) whole or not at all:
    written aside, then renamed into place. False when it could not be kept; a failed write (a full
    disk) leaves nothing behind."""
    head, name = os.path.split(path)
    # A name of its own made with O_EXCL, not the process number (which a writer in another PID
    # namespace may share): no other writer's file aside is ever taken over or removed.
    aside = os.path.join(head, ".%s.%s.tmp" % (name, os.urandom(8).hex()))
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(aside, flags, 0o600, dir_fd=directory), "wb") as out:
            out.write(payload)
        os.replace(aside, path, src_dir_fd=directory, dst_dir_fd=directory)
        return True
    except OSError:
        try:
            os.unlink(aside, dir_fd=directory)
        except OSError:
            pass  # never made, or already renamed
        return False


def entry_check(path: str, payload: Union[bytes, memoryview]) -> bytes:
    """What an entry's bytes start with: the CRC-32 of its name and the rest (an entry renamed
    onto another name, or torn, fails it)."""
    return zlib.crc32(payload, zlib.crc32(os.path.basename(path).encode("utf-8"))).to_bytes(_CHECK_SIZE, "big")

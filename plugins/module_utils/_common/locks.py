# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-local locks, so two runs changing the same guest or volume at once take turns.

The second run reads the host only after the first has finished, so it converges on what the
first made (or refuses it clearly) instead of racing it into half-made objects or "not found"
errors. Locks are files under a root-owned directory, held with ``flock`` for the length of a
run: the kernel releases them when a run dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from typing import Any, Iterable, Iterator, List, Optional

# Where the locks live, and how that private directory and the files in it are checked, are the
# host's store of compiled code's too: defined there, as that module is loaded before any other.
from ansible_collections.remotevirt.install.plugins.module_utils._common.code_store import (
    lock_dir,
    make_private_directories,
    open_own_file,
    open_private_directory,
    write_whole,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import ReportedError

POLL_SECONDS = 0.2
_NOT_PRIVATE = (
    "lock directory %s is not a directory that only this user can write (another user may have made it"
    " first, or it is a link or a file): remove it, or give this user a home directory of its own"
)
_NOT_WRITABLE = "lock directory %s is this user's but this user cannot write in it: give it mode 0700, or remove it"
_CANNOT_MAKE = (
    "cannot make lock directory %s: %s; make it, a directory only this user can write (mode 0700), or let"
    " this user write where it goes"
)
# No cache of this collection comes near this; a larger file where one should be is not read.
_MAX_JSON_SIZE = 64 * 1024 * 1024


class LockError(ReportedError):
    """A lock could not be taken: another run held it for longer than this run may wait."""


def private_directory(path: str) -> None:
    """Create ``path`` 0700, or accept it only if it is ours and nobody else can write it."""
    os.close(_open_private(path))


def _open_private(path: str) -> int:
    """A descriptor of the private directory ``path``, made when missing (see private_directory):
    files opened relative to it are in the directory that was checked, whatever its name leads to
    by then."""
    try:
        make_private_directories(path)
    except OSError as error:
        raise LockError(_cannot_make_problem(path) or _CANNOT_MAKE % (path, error.strerror or error))
    try:
        descriptor = open_private_directory(path)
    except OSError:
        descriptor = None  # a link, or no directory at all
    if descriptor is None:
        raise LockError(_NOT_PRIVATE % path)
    if not _writable(descriptor):
        os.close(descriptor)
        raise LockError(_NOT_WRITABLE % path)
    return descriptor


def lock_directory_problem() -> Optional[str]:
    """What would keep a real run from taking its locks, judged without making anything (check
    mode predicts that refusal): the lock directory is there and not private or not writable, or
    missing where this user cannot make it."""
    path = lock_dir()
    try:
        descriptor = open_private_directory(path)
    except FileNotFoundError:
        return _cannot_make_problem(path)
    except OSError:
        descriptor = None
    if descriptor is None:
        return _NOT_PRIVATE % path
    try:
        return None if _writable(descriptor) else _NOT_WRITABLE % path
    finally:
        os.close(descriptor)


def _writable(descriptor: int) -> bool:
    """Whether this user can make lock files in the private directory ``descriptor`` (its own: the
    owner's bits decide; root makes them whatever the bits say)."""
    return os.geteuid() == 0 or os.fstat(descriptor).st_mode & 0o300 == 0o300


def _cannot_make_problem(path: str) -> Optional[str]:
    """Why ``path``, missing, could not be made by this user (None when it could)."""
    existing = os.path.dirname(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        return _CANNOT_MAKE % (path, "%s is not a directory this user can write in" % existing)
    return None


def read_private_json(path: str) -> Any:
    """The JSON value of the file at ``path`` in the private directory, or None when there is none
    or it is not a file this user wrote (another user who can rename a directory on the way could
    have put their own in its place since the directory was checked), too large or too deep."""
    opened = open_own_file(path)
    if opened is None:
        return None
    descriptor, info = opened
    if info.st_size > _MAX_JSON_SIZE:
        os.close(descriptor)
        return None
    with os.fdopen(descriptor, encoding="utf-8") as source:
        try:
            return json.load(source)
        except (OSError, ValueError, RecursionError, MemoryError):
            return None


def write_private_json(path: str, value: Any) -> bool:
    """Keep ``value`` as JSON at ``path`` in the private directory, whole or not at all, through
    the directory that was checked (not its name, which may lead elsewhere by then). Best effort:
    False when it could not be kept."""
    try:
        # dumps, not dump: dump writes through json's Python encoder, dumps uses its C one.
        payload = json.dumps(value).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        return False
    try:
        directory = _open_private(os.path.dirname(path))
    except LockError:
        return False
    try:
        return write_whole(os.path.basename(path), payload, directory)
    finally:
        os.close(directory)


def _lock_name(key: str) -> str:
    # Keys hold a URI and names; a digest keeps the file name short and free of '/'.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".lock"


def _acquire(name: str, key: str, deadline: float, directory: int) -> int:
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory)
    except OSError as error:
        raise _lock_file_error(name, error)
    return _locked(fd, fcntl.LOCK_EX, name, key, deadline)


def _locked(fd: int, mode: int, name: str, key: str, deadline: float) -> int:
    """``fd`` once its ``flock`` of ``mode`` is taken, waiting until ``deadline`` (LockError then);
    closed when it is not returned."""
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise _lock_file_error(name, error)
            if time.monotonic() >= deadline:
                raise LockError("another run is still changing %s on this host; try again when it has finished" % _shown(key))
            time.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise


def _shown(key: str) -> str:
    """What a key locks, as messages name it: 'volume pool/name', 'guest name', or a file by its
    device and inode (a disk's file, whatever name reaches it)."""
    what = key.split(" ", 1)[-1]
    return "a file it uses (device:inode %s)" % what[len("file ") :] if what.startswith("file ") else what


def _lock_file_error(name: str, error: OSError) -> LockError:
    """A lock file that cannot be made or locked (a full file system, a directory or a link in its
    place, a file system without locks), named by its place."""
    return LockError(
        "cannot lock %s: %s; free space there, or remove what is in its place"
        % (os.path.join(lock_dir(), name), error.strerror or error)
    )


def wait_turn(keys: Iterable[str], timeout: float) -> None:
    """Check mode's turn: wait, as a real run would, until no run changes what a key stands for.
    Each lock is taken shared and let go at once, so check mode never keeps a real run waiting
    (while it probes a slow server, say). Makes nothing: a key whose lock file no run has made yet
    was never taken, and is not waited for."""
    try:
        directory = open_private_directory(lock_dir())
    except OSError:
        directory = None  # none yet (no run has locked anything), or refused by lock_directory_problem
    if directory is None:
        return
    deadline = time.monotonic() + timeout
    try:
        for key in sorted(set(keys)):
            name = _lock_name(key)
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=directory)
            except FileNotFoundError:
                continue
            except OSError as error:
                raise _lock_file_error(name, error)
            os.close(_locked(fd, fcntl.LOCK_SH, name, key, deadline))
    finally:
        os.close(directory)


@contextlib.contextmanager
def held(keys: Iterable[str], timeout: float) -> Iterator[None]:
    """Hold the lock of every key (in one global order, so two runs never wait for each other in
    a circle) for the body of the ``with``."""
    directory = _open_private(lock_dir())
    deadline = time.monotonic() + timeout
    taken: List[int] = []
    try:
        try:
            for key in sorted(set(keys)):
                taken.append(_acquire(_lock_name(key), key, deadline, directory))
        finally:
            os.close(directory)  # the locks are held by their own descriptors
        yield
    finally:
        for fd in reversed(taken):
            os.close(fd)  # closing the descriptor releases its flock

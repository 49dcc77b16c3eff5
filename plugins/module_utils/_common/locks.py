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
import os
import stat
import time
from typing import Iterable, Iterator, List

# Where the locks live is where the host's store of compiled code lives too: defined there, as
# that module is loaded before any other of this collection's.
from ansible_collections.remotevirt.install.plugins.module_utils._common.code_store import lock_dir

POLL_SECONDS = 0.2


class LockError(Exception):
    """A lock could not be taken: another run held it for longer than this run may wait."""


def private_directory(path: str) -> None:
    """Create ``path`` 0700, or accept it only if it is ours and nobody else can write it."""
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise LockError("cannot make lock directory %s: %s" % (path, error.strerror))
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise LockError("lock directory %s is not a directory that only this user can write" % path)


def _lock_file(directory: str, key: str) -> str:
    # Keys hold a URI and names; a digest keeps the file name short and free of '/'.
    return os.path.join(directory, hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".lock")


def _acquire(path: str, key: str, deadline: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise LockError(
                    "another run is still changing %s on this host; try again when it has finished" % key.split(" ", 1)[-1]
                )
            time.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def held(keys: Iterable[str], timeout: float) -> Iterator[None]:
    """Hold the lock of every key (in one global order, so two runs never wait for each other in
    a circle) for the body of the ``with``."""
    directory = lock_dir()
    private_directory(directory)
    deadline = time.monotonic() + timeout
    taken: List[int] = []
    try:
        for key in sorted(set(keys)):
            taken.append(_acquire(_lock_file(directory, key), key, deadline))
        yield
    finally:
        for fd in reversed(taken):
            os.close(fd)  # closing the descriptor releases its flock

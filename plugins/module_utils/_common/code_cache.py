# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiled code of this collection's module_utils, kept on the host between tasks.

Ansible ships a module's module_utils in a zip file, and Python compiles every source it imports
from a zip on every task (zipimport never writes bytecode). For a task that changes nothing that
compile is the largest part of this collection's own cost. The finder here keeps each compiled
source in the private directory the host locks live in (``/run/remotevirt`` for root: emptied at
each boot, so old versions do not pile up), under a digest of the source and of the Python that
compiled it, so an entry is never used for other code. Entries carry a digest of their own bytes;
anything unexpected (a directory or entry someone else could write, a torn or foreign entry, a
full disk) means compiling as before, never a failure.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import stat
import sys
import zipimport
from types import CodeType, ModuleType
from typing import Any, Optional, Sequence

PACKAGE = "ansible_collections.remotevirt.install.plugins.module_utils"
_DIGEST_SIZE = 32
# Part of every key: code compiled by one Python is never loaded by another.
_PYTHON_TAG = ("%s %s" % (sys.implementation.cache_tag, sys.version)).encode("utf-8")


def install_when_zipped(spec: Optional[importlib.machinery.ModuleSpec]) -> None:
    """Add the finder when ``spec`` (this collection's first package imported) came from a zip,
    as in a task Ansible runs on a host; elsewhere (the controller, Mitogen, tests) change nothing."""
    if spec is None or not isinstance(spec.loader, zipimport.zipimporter):
        return
    if any(isinstance(finder, CachedCodeFinder) for finder in sys.meta_path):
        return
    directory = cache_directory()
    if directory is not None:
        sys.meta_path.insert(0, CachedCodeFinder(PACKAGE + ".", directory))


def cache_directory() -> Optional[int]:
    """A descriptor of the cache's directory inside the private lock directory, or None where it
    is not private. Entries are opened relative to it: where another user can rename the lock
    directory (an XDG_RUNTIME_DIR of theirs, inherited through become), a directory swapped in
    after this check is never read."""
    # Imported here: only a task running from a zip needs the lock directory's rules.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import locks

    parent = locks.lock_dir()
    try:
        locks.private_directory(parent)
        parent_fd = _open_private_directory(parent)
    except (locks.LockError, OSError):
        return None
    if parent_fd is None:
        return None
    try:
        try:
            os.mkdir("code", 0o700, dir_fd=parent_fd)
        except FileExistsError:
            pass
        return _open_private_directory("code", parent_fd)
    except OSError:
        return None
    finally:
        os.close(parent_fd)


def _open_private_directory(path: str, parent_fd: Optional[int] = None) -> Optional[int]:
    """A descriptor of the directory ``path`` (not a link to one), None unless it is this user's and nobody else can write it."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    info = os.fstat(descriptor)
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        os.close(descriptor)
        return None
    return descriptor


class CachedCodeFinder:
    """Finds the modules under ``prefix`` in their zip and loads them through :class:`CachedCodeLoader`.

    The spec is built here rather than by ``zipimporter.find_spec``: up to Python 3.12 that asks the
    importer for the file name, which compiles the source, and would undo half of what the cache saves.
    """

    def __init__(self, prefix: str, directory: int) -> None:
        self.prefix = prefix
        self.directory = directory  # a descriptor, see cache_directory

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Any:
        if not fullname.startswith(self.prefix) or not path:
            return None
        for entry in path:
            archive = zip_importer(entry)
            if archive is None:
                continue
            try:
                is_package = archive.is_package(fullname)
            except zipimport.ZipImportError:
                continue  # not in this entry
            loader = CachedCodeLoader(archive, self.directory)
            location = os.path.join(archive.archive, loader.name_in_archive(fullname, is_package))
            return importlib.util.spec_from_file_location(fullname, location, loader=loader)  # type: ignore[arg-type]
        return None  # elsewhere, or not at all: Python's own finders decide

    def invalidate_caches(self) -> None:
        """Nothing kept in memory (importlib.invalidate_caches calls this on every finder)."""


def zip_importer(entry: str) -> Optional[zipimport.zipimporter]:
    """The zip importer of a package directory inside a zip, shared with Python's path finder."""
    importer = sys.path_importer_cache.get(entry)
    if isinstance(importer, zipimport.zipimporter):
        return importer
    if importer is not None or entry in sys.path_importer_cache:
        return None  # a directory on disk, or known not to be importable
    try:
        importer = zipimport.zipimporter(entry)
    except (zipimport.ZipImportError, OSError):
        return None
    sys.path_importer_cache[entry] = importer
    return importer


class CachedCodeLoader:
    """Runs a module of a zip from its cached code, compiling (and keeping) it on a miss."""

    def __init__(self, archive: zipimport.zipimporter, directory: int) -> None:
        self.archive = archive
        self.directory = directory

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return None  # Python's default module object

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 - the module's own code

    def get_source(self, fullname: str) -> Optional[str]:
        """Tracebacks read the source lines through this."""
        return self.archive.get_source(fullname)

    def is_package(self, fullname: str) -> bool:
        return self.archive.is_package(fullname)

    def get_code(self, fullname: str) -> CodeType:
        source = self.archive.get_source(fullname)
        if source is None:
            return self.archive.get_code(fullname)
        # The zip's path changes with every task; the name inside it does not, and tracebacks
        # still find their lines through get_source.
        filename = self.name_in_archive(fullname, self.archive.is_package(fullname))
        source_bytes = source.encode("utf-8")
        key = hashlib.sha256(b"\0".join((_PYTHON_TAG, filename.encode("utf-8"), source_bytes))).hexdigest()
        code = read_entry(key, self.directory)
        if code is None:
            code = compile(source_bytes, filename, "exec", dont_inherit=True)
            write_entry(key, code, self.directory)
        return code

    def name_in_archive(self, fullname: str, is_package: bool) -> str:
        """The source's path inside the zip, as zipimport names it."""
        relative = self.archive.prefix + fullname.rpartition(".")[2]
        return relative + ("/__init__.py" if is_package else ".py")


def read_entry(path: str, directory: Optional[int] = None) -> Optional[CodeType]:
    """The code kept at ``path`` (in the ``directory`` descriptor when given); None when there is
    none, or it is not one this user wrote whole."""
    try:
        # O_NONBLOCK: a FIFO put there is refused below instead of blocking the task.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=directory)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as entry:
        info = os.fstat(entry.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        data = entry.read()
    digest, payload = data[:_DIGEST_SIZE], data[_DIGEST_SIZE:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def write_entry(path: str, code: CodeType, directory: Optional[int] = None) -> None:
    """Keep ``code`` at ``path`` (in the ``directory`` descriptor when given) whole or not at all:
    written aside, then renamed into place."""
    payload = marshal.dumps(code)
    aside = "%s.%d.tmp" % (path, os.getpid())
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(aside, flags, 0o600, dir_fd=directory)
        with os.fdopen(descriptor, "wb") as entry:
            entry.write(hashlib.sha256(payload).digest() + payload)
        os.replace(aside, path, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        _remove_quietly(aside, directory)


def _remove_quietly(path: str, directory: Optional[int]) -> None:
    try:
        os.unlink(path, dir_fd=directory)
    except OSError:
        pass

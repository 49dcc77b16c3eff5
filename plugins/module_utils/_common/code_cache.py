# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiled code of this collection's module_utils, kept on the host between tasks.

Ansible ships a module's module_utils in a zip file, and Python compiles every source it imports
from a zip on every task (zipimport never writes bytecode). For a task that changes nothing that
compile is the largest part of this collection's own cost. The finder here keeps each compiled
source in the private directory the host locks live in (``/run/remotevirt`` for root: emptied at
each boot, so old versions do not pile up), under a digest of the source's name, its bytes as the
zip stores them (read where the zip's directory points, never decompressed for a cached module)
and the Python that compiled it, so an entry is never used for other code. Entries carry a CRC-32
of their key and bytes against a torn, damaged or renamed entry; what keeps anyone else's code out
is that only entries the running user owns, in a directory nobody else can write, are read.
Anything unexpected (a directory or entry someone else could write, a torn or foreign entry, a
full disk, an unreadable zip) means compiling as before, never a failure.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import marshal
import os
import stat
import struct
import sys
import zipimport
import zlib
from types import CodeType, ModuleType
from typing import Any, Dict, Optional, Sequence, Tuple, Union

PACKAGE = "ansible_collections.remotevirt.install.plugins.module_utils"
# Part of every key: code compiled by one Python is never loaded by another, and an entry of
# another layout (entries: a CRC-32 of the marshalled code, then that code) is never read.
_TAG = ("entries 2, %s %s" % (sys.implementation.cache_tag, sys.version)).encode("utf-8")
_CHECK_SIZE = 4
# A zip member's local header: signature, then fixed fields; the name's and extra field's lengths last.
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def install_when_zipped(spec: Optional[importlib.machinery.ModuleSpec]) -> None:
    """Add the finder when ``spec`` (this collection's first package imported) came from a zip,
    as in a task Ansible runs on a host; elsewhere (the controller, Mitogen, tests) change nothing."""
    if spec is None or not isinstance(spec.loader, zipimport.zipimporter):
        return
    if any(isinstance(finder, CachedCodeFinder) for finder in sys.meta_path):
        return
    # In place before the directory is known, so that the modules needed to find it are
    # compiled once (zipimport's own finder compiles a source twice, 3.13 too): without a
    # directory the finder compiles and keeps nothing.
    finder = CachedCodeFinder(PACKAGE + ".", None)
    sys.meta_path.insert(0, finder)
    finder.directory = cache_directory()


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

    The spec is built here rather than by ``zipimporter.find_spec``: that asks the importer for the
    file name, which compiles the source (Python 3.8 to 3.13 at least), and would undo half of what
    the cache saves.
    """

    def __init__(self, prefix: str, directory: Optional[int]) -> None:
        self.prefix = prefix
        self.directory = directory  # a descriptor (see cache_directory), or None: no cache

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
            loader = CachedCodeLoader(archive, self, {fullname: is_package})
            location = os.path.join(archive.archive, loader.name_in_archive(fullname, is_package))
            # What spec_from_file_location makes, without asking the zip again whether it is a package.
            spec = importlib.machinery.ModuleSpec(fullname, loader, origin=location, is_package=is_package)  # type: ignore[arg-type]
            spec.has_location = True
            if is_package:
                spec.submodule_search_locations = [os.path.dirname(location)]
            return spec
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

    def __init__(
        self, archive: zipimport.zipimporter, finder: CachedCodeFinder, packages: Optional[Dict[str, bool]] = None
    ) -> None:
        self.archive = archive
        self.finder = finder  # its directory, None until known (or where there is none)
        self.packages = dict(packages or {})  # whether a module is a package, as the finder found it

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return None  # Python's default module object

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 - the module's own code

    def get_source(self, fullname: str) -> Optional[str]:
        """Tracebacks read the source lines through this."""
        return self.archive.get_source(fullname)

    def is_package(self, fullname: str) -> bool:
        known = self.packages.get(fullname)
        return self.archive.is_package(fullname) if known is None else known

    def get_code(self, fullname: str) -> CodeType:
        directory = self.finder.directory
        if directory is None:
            return self.archive.get_code(fullname)  # compiled once, kept nowhere
        # The zip's path changes with every task; the name inside it does not, and tracebacks
        # still find their lines through get_source.
        filename = self.name_in_archive(fullname, self.is_package(fullname))
        member = stored_member(self.archive, filename)
        source: Optional[bytes] = None
        if member is not None:
            content = b"stored %d\0" % member[0] + member[1]
        else:
            # Without the zip's listing, the source itself is the key's content (read once, used for both).
            source = self.source_bytes(filename)
            if source is None:
                return self.archive.get_code(fullname)
            content = b"source\0" + source
        key = entry_key(filename, content)
        code = read_entry(key, directory)
        if code is not None:
            return code
        source = source if source is not None else self.source_bytes(filename)
        if source is None:
            return self.archive.get_code(fullname)
        code = compile(source, filename, "exec", dont_inherit=True)
        # Kept only for the content the zip lists: an entry is never used for another source.
        if member is None or zlib.crc32(source) == member[2]:
            write_entry(key, code, directory)
        return code

    def source_bytes(self, filename: str) -> Optional[bytes]:
        """The source's bytes as Python would compile them (its coding cookie, if any, applies)."""
        try:
            return self.archive.get_data(os.path.join(self.archive.archive, filename))
        except OSError:
            return None

    def name_in_archive(self, fullname: str, is_package: bool) -> str:
        """The source's path inside the zip, as zipimport names it."""
        relative = self.archive.prefix + fullname.rpartition(".")[2]
        return relative + ("/__init__.py" if is_package else ".py")


def stored_member(archive: zipimport.zipimporter, filename: str) -> Optional[Tuple[int, bytes, int]]:
    """``filename`` as the zip stores it: its compression method, its bytes as stored (read where
    the zip's directory points, not decompressed) and the CRC-32 of its content; None where this
    Python's zip importer keeps its directory elsewhere, or the zip is not as its directory says."""
    # zipimport's parsed directory: an attribute up to Python 3.12, a method from 3.13.
    files = archive._get_files() if hasattr(archive, "_get_files") else getattr(archive, "_files", None)
    listing = files.get(filename.replace("/", os.sep)) if isinstance(files, dict) else None
    # (path, compression, stored size, size, offset of the local header, time, date, crc)
    if not (isinstance(listing, tuple) and len(listing) == 8 and all(isinstance(field, int) for field in listing[1:])):
        return None
    _path, compression, stored_size, _size, offset, _time, _date, crc = listing
    try:
        payload = _archive_descriptor(archive.archive)
        header = os.pread(payload, _LOCAL_HEADER.size, offset)
        if len(header) != _LOCAL_HEADER.size:
            return None
        signature, name_size, extra_size = _LOCAL_HEADER.unpack(header)
        if signature != b"PK\x03\x04":
            return None
        stored = os.pread(payload, stored_size, offset + _LOCAL_HEADER.size + name_size + extra_size)
    except OSError:
        return None
    return (compression, stored, crc) if len(stored) == stored_size else None


# One descriptor per zip for the task's life (a task imports a few dozen modules from one zip).
_ARCHIVE_DESCRIPTORS: Dict[str, int] = {}


def _archive_descriptor(path: str) -> int:
    descriptor = _ARCHIVE_DESCRIPTORS.get(path)
    if descriptor is None:
        descriptor = _ARCHIVE_DESCRIPTORS[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    return descriptor


def entry_key(filename: str, content: bytes) -> str:
    """The name of the entry of a source: a digest of its name, ``content`` (its bytes as stored,
    or the source itself) and the Python compiling it."""
    return hashlib.sha256(b"\0".join((_TAG, filename.encode("utf-8"), content))).hexdigest()


def read_entry(path: str, directory: Optional[int] = None) -> Optional[CodeType]:
    """The code kept at ``path`` (in the ``directory`` descriptor when given); None when there is
    none, or it is not one this user wrote whole, under this name."""
    try:
        # O_NONBLOCK: a FIFO put there is refused below instead of blocking the task.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=directory)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        data = os.read(descriptor, info.st_size)  # entries are written whole, then renamed: never grown
    except OSError:
        return None
    finally:
        os.close(descriptor)
    # A view, not a slice: the code is not copied to be checked and loaded.
    check, payload = data[:_CHECK_SIZE], memoryview(data)[_CHECK_SIZE:]
    if len(data) != info.st_size or len(check) != _CHECK_SIZE or _check_of(path, payload) != check:
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
            entry.write(_check_of(path, payload) + payload)
        os.replace(aside, path, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        _remove_quietly(aside, directory)


def _check_of(path: str, payload: Union[bytes, memoryview]) -> bytes:
    """What an entry's bytes start with: the CRC-32 of its name and the rest (an entry renamed
    onto another name, or torn, fails it)."""
    return zlib.crc32(payload, zlib.crc32(os.path.basename(path).encode("utf-8"))).to_bytes(_CHECK_SIZE, "big")


def _remove_quietly(path: str, directory: Optional[int]) -> None:
    try:
        os.unlink(path, dir_fd=directory)
    except OSError:
        pass

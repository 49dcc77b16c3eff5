# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finder that loads this collection's module_utils from the host's store of compiled code.

Ansible ships a module's module_utils in a zip file, and Python compiles every source it imports
from a zip on every task (zipimport never writes bytecode). For a task that changes nothing that
compile is the largest part of this collection's own cost. The finder here loads each module from
its entry in the store (code_store: the private directory, the keys, the checks), keyed by the
source's bytes as the zip stores them (read where the zip's directory points, so the source of a
cached module is never decompressed), and compiles and keeps it on a miss. The package ``_common``
loads this module itself from the store and puts the finder in place.
"""

from __future__ import annotations

import importlib.machinery
import marshal
import os
import struct
import sys
import zipimport
import zlib
from types import CodeType, ModuleType
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store

PACKAGE = "ansible_collections.remotevirt.install.plugins.module_utils"
# Compression methods of a zip member (zipfile's ZIP_STORED and ZIP_DEFLATED; zipfile is not imported).
_STORED, _DEFLATED = 0, 8
# A zip member's local header: signature, then fixed fields; the name's and extra field's lengths last.
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def install(directory: Optional[int]) -> None:
    """Put the finder first, with the store's ``directory`` descriptor (None: where the store is
    not private, each module is still compiled once, not twice as zipimport would)."""
    if not any(isinstance(finder, CachedCodeFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, CachedCodeFinder(PACKAGE + ".", directory))


class CachedCodeFinder:
    """Finds the modules under ``prefix`` in their zip and loads them through :class:`CachedCodeLoader`.

    The spec is built here rather than by ``zipimporter.find_spec``: that asks the importer for the
    file name, which compiles the source (Python 3.8 to 3.13 at least), and would undo half of what
    the store saves.
    """

    def __init__(self, prefix: str, directory: Optional[int]) -> None:
        self.prefix = prefix
        self.directory = directory  # a descriptor (see code_store.cache_directory), or None: no store

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
            location = loader.get_filename(fullname)
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
    """Runs a module of a zip from its code in the store, compiling (and keeping) it on a miss."""

    def __init__(self, archive: zipimport.zipimporter, finder: CachedCodeFinder, packages: Dict[str, bool]) -> None:
        self.archive = archive
        self.finder = finder  # its directory, None where there is no store
        self.packages = packages  # whether a module is a package, as the finder found it

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return None  # Python's default module object

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 - the module's own code

    def get_source(self, fullname: str) -> Optional[str]:
        """Tracebacks read the source lines through this."""
        return self.archive.get_source(fullname)

    def get_data(self, path: str) -> bytes:
        """Files of the zip besides sources (pkgutil.get_data), as zipimport gives them."""
        return self.archive.get_data(path)

    def get_filename(self, fullname: str) -> str:
        return os.path.join(self.archive.archive, self.name_in_archive(fullname, self.is_package(fullname)))

    def get_resource_reader(self, fullname: str) -> Any:
        """importlib.resources reads a package's files through zipimport's reader."""
        reader = getattr(self.archive, "get_resource_reader", None)
        return reader(fullname) if reader is not None else None

    def is_package(self, fullname: str) -> bool:
        known = self.packages.get(fullname)
        return self.archive.is_package(fullname) if known is None else known

    def get_code(self, fullname: str) -> CodeType:
        filename = self.name_in_archive(fullname, self.is_package(fullname))
        return code_of(self.archive, fullname, filename, self.finder.directory)

    def name_in_archive(self, fullname: str, is_package: bool) -> str:
        """The source's path inside the zip, as zipimport names it."""
        relative = self.archive.prefix + fullname.rpartition(".")[2]
        return relative + ("/__init__.py" if is_package else ".py")


def code_of(archive: zipimport.zipimporter, fullname: str, filename: str, directory: Optional[int]) -> CodeType:
    """The code of module ``fullname``, ``filename`` in the zip: from its entry in the store (the
    ``directory`` descriptor), else compiled and kept; without a store, compiled and kept nowhere."""
    if directory is None:
        return archive.get_code(fullname)
    member = stored_member(archive, filename)
    if member is None:
        # Without the zip's listing, the source itself is the key's content (code_store's way).
        found, unkept = code_store.code_from_source(archive, fullname, filename, directory)
        if unkept is not None:
            write_entry(unkept, found, directory)
        return found
    compression, stored, crc = member
    key = code_store.entry_key(filename, b"stored %d\0" % compression + stored)
    kept = code_store.read_entry(key, directory)
    if kept is not None:
        return kept
    # Compiled from the very bytes the key is made of (not read again: a zip replaced since would
    # put another source's code under this key), and kept only when they are the content the zip
    # lists (a listing that lies is compiled as zipimport would, and not kept).
    source = _content(compression, stored)
    if source is None or zlib.crc32(source) != crc:
        return archive.get_code(fullname)
    code = compile(source, code_store.code_filename(filename), "exec", dont_inherit=True)
    write_entry(key, code, directory)
    return code


def _content(compression: int, stored: bytes) -> Optional[bytes]:
    """A member's content from its bytes as stored; zipimport reads only stored and deflated members."""
    if compression == _STORED:
        return stored
    if compression == _DEFLATED:
        try:
            return zlib.decompress(stored, -15)
        except zlib.error:
            return None
    return None


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
        payload = os.open(archive.archive, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        header = os.pread(payload, _LOCAL_HEADER.size, offset)
        if len(header) != _LOCAL_HEADER.size:
            return None
        signature, name_size, extra_size = _LOCAL_HEADER.unpack(header)
        if signature != b"PK\x03\x04":
            return None
        stored = os.pread(payload, stored_size, offset + _LOCAL_HEADER.size + name_size + extra_size)
    except OSError:
        return None
    finally:
        os.close(payload)
    return (compression, stored, crc) if len(stored) == stored_size else None


def write_entry(path: str, code: CodeType, directory: Optional[int] = None) -> None:
    """Keep ``code`` at ``path`` (in the ``directory`` descriptor when given) whole or not at all."""
    payload = marshal.dumps(code)
    code_store.write_whole(path, code_store.entry_check(path, payload) + payload, directory)

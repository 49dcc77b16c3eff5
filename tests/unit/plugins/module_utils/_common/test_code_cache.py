"""The host's cache of compiled module_utils: used only when whole and private, never a failure."""

from __future__ import annotations

import errno
import importlib
import os
import subprocess
import sys
import traceback
import zipfile
import zipimport
import zlib

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_cache, code_store

PACKAGE = "rvcc_probe"
MODULE_SOURCE = "ANSWER = 42\n\n\ndef fail():\n    raise RuntimeError('raised inside the zip')\n"


@pytest.fixture
def zipped_package(tmp_path, monkeypatch):
    """A package inside a zip on sys.path, as Ansible ships module_utils; forgotten afterwards."""
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(str(archive), "w") as payload:
        payload.writestr(PACKAGE + "/__init__.py", "")
        payload.writestr(PACKAGE + "/mod.py", MODULE_SOURCE)
        payload.writestr(PACKAGE + "/sub/__init__.py", "")
        payload.writestr(PACKAGE + "/sub/deep.py", "from rvcc_probe.mod import ANSWER\n")
    monkeypatch.syspath_prepend(str(archive))
    yield archive
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path_importer_cache.pop(str(archive), None)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "code"
    directory.mkdir(mode=0o700)
    descriptor = os.open(str(directory), os.O_RDONLY | os.O_DIRECTORY)
    finder = code_cache.CachedCodeFinder(PACKAGE + ".", descriptor)
    monkeypatch.setattr(sys, "meta_path", [finder] + sys.meta_path)
    yield directory
    os.close(descriptor)


def fresh_import():
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE + ".mod")


def make_zip(path, module_source):
    with zipfile.ZipFile(str(path), "w") as payload:
        payload.writestr(PACKAGE + "/__init__.py", "")
        payload.writestr(PACKAGE + "/mod.py", module_source)
    return path


def use_only(monkeypatch, archive, previous):
    """``archive`` on sys.path in place of ``previous``."""
    monkeypatch.setattr(sys, "path", [str(archive)] + [entry for entry in sys.path if entry != str(previous)])


def crc_collision(target: bytes, base: bytes, slots: range) -> bytes:
    """``base`` with some of its letters 'a' at ``slots`` turned into 'q' so that its CRC-32 is
    ``target``'s (same length): CRC-32 is affine over GF(2), so this is solving a linear system."""
    want = zlib.crc32(target) ^ zlib.crc32(base)
    basis = {}  # pivot bit: (effect on the CRC, slots toggled)
    for index, slot in enumerate(slots):
        toggled = bytearray(base)
        toggled[slot] ^= ord("a") ^ ord("q")
        vector, chosen = zlib.crc32(bytes(toggled)) ^ zlib.crc32(base), 1 << index
        for bit in reversed(range(32)):
            if vector >> bit & 1:
                if bit not in basis:
                    basis[bit] = (vector, chosen)
                    break
                vector ^= basis[bit][0]
                chosen ^= basis[bit][1]
    chosen = 0
    for bit in reversed(range(32)):
        if want >> bit & 1:
            want ^= basis[bit][0]
            chosen ^= basis[bit][1]
    forged = bytearray(base)
    for index, slot in enumerate(slots):
        if chosen >> index & 1:
            forged[slot] ^= ord("a") ^ ord("q")
    return bytes(forged)


def refuse_compiling(monkeypatch):
    def no_compile(*args, **kwargs):
        raise AssertionError("compiled although the cache had the code")

    monkeypatch.setattr(code_cache, "compile", no_compile, raising=False)


def test_the_first_import_compiles_and_keeps_the_code_the_second_loads_it(zipped_package, cache_dir, monkeypatch):
    assert fresh_import().ANSWER == 42
    entries = sorted(os.listdir(str(cache_dir)))
    assert len(entries) == 1  # the package's __init__ is imported before the finder sees a submodule of it
    assert oct(os.stat(str(cache_dir / entries[0])).st_mode & 0o777) == "0o600"
    refuse_compiling(monkeypatch)
    assert fresh_import().ANSWER == 42


def test_a_cached_import_compiles_nothing_not_even_to_find_the_module(zipped_package, cache_dir, monkeypatch):
    # zipimport's own find_spec compiles the source (to name the file) up to Python 3.12.
    fresh_import()
    importlib.import_module(PACKAGE + ".sub.deep")
    refuse_compiling(monkeypatch)
    monkeypatch.setattr(zipimport, "_compile_source", lambda *args: pytest.fail("zipimport compiled %s" % args[0]), raising=False)
    for name in [name for name in sys.modules if name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    deep = importlib.import_module(PACKAGE + ".sub.deep")
    assert deep.ANSWER == 42


def test_a_cached_module_is_found_without_decompressing_its_source(zipped_package, cache_dir, monkeypatch):
    fresh_import()
    refuse_compiling(monkeypatch)
    for method in ("get_source", "get_data"):
        monkeypatch.setattr(zipimport.zipimporter, method, lambda *args: pytest.fail("read the source of a cached module"))
    assert fresh_import().ANSWER == 42


def test_without_the_zips_listing_the_source_is_read_and_the_cache_still_used(zipped_package, cache_dir, monkeypatch):
    monkeypatch.setattr(code_cache, "stored_member", lambda *args: None)
    fresh_import()
    refuse_compiling(monkeypatch)
    assert fresh_import().ANSWER == 42


def test_a_member_is_read_as_the_zip_stores_it(tmp_path):
    archive_path = tmp_path / "mixed.zip"
    data = MODULE_SOURCE.encode("utf-8")
    with zipfile.ZipFile(str(archive_path), "w") as payload:
        payload.writestr(PACKAGE + "/plain.py", data, compress_type=zipfile.ZIP_STORED)
        payload.writestr(PACKAGE + "/packed.py", data, compress_type=zipfile.ZIP_DEFLATED)
    archive = zipimport.zipimporter(os.path.join(str(archive_path), PACKAGE))
    assert code_cache.stored_member(archive, PACKAGE + "/plain.py") == (zipfile.ZIP_STORED, data, zlib.crc32(data))
    compression, stored, crc = code_cache.stored_member(archive, PACKAGE + "/packed.py")
    assert (compression, crc) == (zipfile.ZIP_DEFLATED, zlib.crc32(data)) and stored != data
    assert zlib.decompress(stored, -15) == data
    assert code_cache.stored_member(archive, PACKAGE + "/missing.py") is None


def test_a_short_entry_is_not_loaded(zipped_package, cache_dir, monkeypatch):
    """An entry read short (its size changed between the stat and the read) is compiled again."""
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    real_read = os.read
    directory = os.open(str(cache_dir), os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert code_store.read_entry(entry.name, directory) is not None
        monkeypatch.setattr(os, "read", lambda descriptor, size: real_read(descriptor, size)[:-1])
        assert code_store.read_entry(entry.name, directory) is None
    finally:
        os.close(directory)


def test_a_source_that_does_not_match_its_listing_is_not_kept(zipped_package, cache_dir, monkeypatch):
    monkeypatch.setattr(code_cache, "stored_member", lambda *args: (0, b"other", 2))
    assert fresh_import().ANSWER == 42
    assert list(cache_dir.iterdir()) == []


def test_modules_get_the_file_names_and_package_paths_zipimport_gives(zipped_package, cache_dir):
    module = fresh_import()
    sub = importlib.import_module(PACKAGE + ".sub")
    assert module.__file__ == os.path.join(str(zipped_package), PACKAGE, "mod.py")
    assert sub.__path__ == [os.path.join(str(zipped_package), PACKAGE, "sub")]
    assert isinstance(module.__loader__, code_cache.CachedCodeLoader)
    assert (module.__spec__.has_location, sub.__spec__.has_location) == (True, True)
    assert (module.__spec__.submodule_search_locations, sub.__spec__.parent) == (None, PACKAGE + ".sub")


def test_a_missing_module_is_still_a_module_not_found_error(zipped_package, cache_dir):
    fresh_import()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(PACKAGE + ".missing")


def test_a_traceback_shows_the_line_of_the_zipped_source(zipped_package, cache_dir):
    module = fresh_import()
    with pytest.raises(RuntimeError) as raised:
        module.fail()
    text = "".join(traceback.format_tb(raised.tb))
    assert "rvcc_probe/mod.py" in text
    assert "raise RuntimeError('raised inside the zip')" in text


def test_a_torn_or_altered_entry_is_compiled_again_and_replaced(zipped_package, cache_dir):
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    whole = entry.read_bytes()
    for damaged in (whole[: len(whole) // 2], whole[:-1] + bytes([whole[-1] ^ 1]), b""):
        entry.write_bytes(damaged)
        assert fresh_import().ANSWER == 42
        assert entry.read_bytes() == whole


def test_an_entry_others_can_write_is_not_loaded(zipped_package, cache_dir, monkeypatch):
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    entry.chmod(0o666)
    compiled = []
    real_compile = compile
    monkeypatch.setattr(code_cache, "compile", lambda *args, **kw: compiled.append(1) or real_compile(*args, **kw), raising=False)
    assert fresh_import().ANSWER == 42
    assert compiled == [1]


def test_an_entry_that_is_a_symlink_is_not_followed(zipped_package, cache_dir, tmp_path):
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / entry.name
    entry.rename(moved)
    entry.symlink_to(moved)
    assert code_store.read_entry(str(entry)) is None
    assert code_store.read_entry(str(moved)) is not None


def test_an_entry_renamed_onto_another_key_is_not_loaded(zipped_package, cache_dir):
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    renamed = cache_dir / ("0" * 64)
    entry.rename(renamed)
    assert code_store.read_entry(str(renamed)) is None


def test_an_entry_that_is_a_directory_means_compiling(zipped_package, cache_dir):
    fresh_import()
    (entry,) = list(cache_dir.iterdir())
    entry.unlink()
    entry.mkdir()
    assert fresh_import().ANSWER == 42


def test_an_entry_that_cannot_be_read_means_compiling(zipped_package, cache_dir, monkeypatch):
    fresh_import()
    real_fstat = os.fstat

    def stale(descriptor):
        if os.path.realpath("/proc/self/fd/%d" % descriptor).startswith(str(cache_dir) + "/"):
            raise OSError(errno.ESTALE, "Stale file handle")  # a cache on NFS after a server restart
        return real_fstat(descriptor)

    monkeypatch.setattr(os, "fstat", stale)
    assert fresh_import().ANSWER == 42


def test_a_source_in_another_encoding_imports_as_zipimport_would(zipped_package, cache_dir, tmp_path, monkeypatch):
    latin = make_zip(tmp_path / "latin.zip", "# -*- coding: latin-1 -*-\nANSWER = 42\nNAME = 'caf\xe9'\n".encode("latin-1"))
    use_only(monkeypatch, latin, zipped_package)
    assert fresh_import().NAME == "caf\xe9"
    assert fresh_import().NAME == "caf\xe9"  # from the cache


def test_a_zip_whose_directory_lies_about_its_crc_runs_its_own_code(zipped_package, cache_dir, tmp_path, monkeypatch):
    assert fresh_import().ANSWER == 42
    other = MODULE_SOURCE.replace("42", "43").encode()
    liar = make_zip(tmp_path / "liar.zip", other)
    data = bytearray(liar.read_bytes())
    # The CRC-32 in mod.py's central directory record (the last one), which zipimport reads.
    central = data.rindex(b"PK\x01\x02")
    assert data[central + 46 : central + 46 + len(PACKAGE + "/mod.py")] == (PACKAGE + "/mod.py").encode()
    data[central + 16 : central + 20] = zlib.crc32(MODULE_SOURCE.encode()).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    use_only(monkeypatch, liar, zipped_package)
    assert fresh_import().ANSWER == 43


def test_a_source_made_to_collide_runs_its_own_code(zipped_package, cache_dir, tmp_path, monkeypatch):
    # Same name, length and CRC-32 as a cached source (found by linear algebra over GF(2)).
    original = MODULE_SOURCE.encode() + b"# " + b"a" * 64 + b"\n"
    start = len(MODULE_SOURCE) + 2
    forged = crc_collision(original, original.replace(b"42", b"43"), range(start, start + 64))
    assert len(forged) == len(original) and zlib.crc32(forged) == zlib.crc32(original)
    first = make_zip(tmp_path / "first.zip", original)
    use_only(monkeypatch, first, zipped_package)
    assert fresh_import().ANSWER == 42
    second = make_zip(tmp_path / "second.zip", forged)
    use_only(monkeypatch, second, first)
    assert fresh_import().ANSWER == 43


def test_a_cache_that_cannot_be_written_still_imports(zipped_package, tmp_path, monkeypatch):
    removed = tmp_path / "removed"
    removed.mkdir()
    descriptor = os.open(str(removed), os.O_RDONLY | os.O_DIRECTORY)
    removed.rmdir()  # nothing can be made in it any more
    finder = code_cache.CachedCodeFinder(PACKAGE + ".", descriptor)
    monkeypatch.setattr(sys, "meta_path", [finder] + sys.meta_path)
    assert fresh_import().ANSWER == 42


def test_an_entry_that_cannot_be_written_whole_leaves_nothing_behind(tmp_path, monkeypatch):
    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    code_cache.write_entry(str(tmp_path / "key"), compile("ANSWER = 42\n", "mod.py", "exec"))
    assert list(tmp_path.iterdir()) == []


def test_two_writers_of_one_entry_with_one_pid_number_each_keep_their_own_file_aside(tmp_path, monkeypatch):
    """Two tasks with the same pid in different PID namespaces compile one module at once: B writes
    its entry whole while A's is aside, and A's file aside is still A's to rename (before, B took
    A's name aside, failed, and removed A's file)."""
    key = str(tmp_path / "key")
    real_replace = os.replace

    def b_writes_between(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
        monkeypatch.setattr(os, "replace", real_replace)
        code_cache.write_entry(key, compile("ANSWER = 'b'\n", "mod.py", "exec"))
        return real_replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(os, "getpid", lambda: 4242)
    monkeypatch.setattr(os, "replace", b_writes_between)
    code_cache.write_entry(key, compile("ANSWER = 'a'\n", "mod.py", "exec"))
    namespace: dict = {}
    exec(code_store.read_entry(key), namespace)  # noqa: S102 - the test's own code
    assert namespace["ANSWER"] == "a"
    assert [entry.name for entry in tmp_path.iterdir()] == ["key"]


def test_a_changed_source_is_never_served_the_old_code(zipped_package, cache_dir, tmp_path, monkeypatch):
    fresh_import()
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(str(changed), "w") as payload:
        payload.writestr(PACKAGE + "/__init__.py", "")
        payload.writestr(PACKAGE + "/mod.py", MODULE_SOURCE.replace("42", "43"))
    monkeypatch.setattr(sys, "path", [str(changed)] + [entry for entry in sys.path if entry != str(zipped_package)])
    assert fresh_import().ANSWER == 43
    assert len(list(cache_dir.iterdir())) == 2


def test_the_store_never_makes_the_lock_directory(tmp_path, monkeypatch):
    """A task in check mode makes no directory: the store waits for a run that takes a lock."""
    missing = tmp_path / "home" / ".cache" / "remotevirt" / "locks"
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(missing))
    assert code_store.cache_directory() is None
    assert list(tmp_path.iterdir()) == []


def test_only_a_private_directory_is_accepted(tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(private))
    descriptor = code_store.cache_directory()
    assert descriptor is not None and os.fstat(descriptor).st_ino == (private / "code").stat().st_ino
    os.close(descriptor)
    assert oct((private / "code").stat().st_mode & 0o777) == "0o700"
    (private / "code").chmod(0o770)
    assert code_store.cache_directory() is None
    (private / "code").rmdir()
    (private / "code").symlink_to(private)
    assert code_store.cache_directory() is None
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(shared))
    assert code_store.cache_directory() is None
    link = tmp_path / "link"
    link.symlink_to(private)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(link))
    assert code_store.cache_directory() is None


def test_a_finder_is_installed_once(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    code_cache.install(None)
    code_cache.install(None)
    assert len([finder for finder in sys.meta_path if isinstance(finder, code_cache.CachedCodeFinder)]) == 1


def test_modules_outside_the_prefix_are_left_to_python(cache_dir):
    (finder,) = [entry for entry in sys.meta_path if isinstance(entry, code_cache.CachedCodeFinder)]
    assert finder.find_spec("json") is None


def test_a_directory_swapped_after_its_check_is_not_read(zipped_package, tmp_path, monkeypatch):
    """Where another user can rename the lock directory (an XDG_RUNTIME_DIR of theirs, inherited through
    become), they may swap it for a link to a directory of theirs holding this user's entries under
    other keys (another module's, an older version's code): the cache keeps using the directory it checked."""
    shared = tmp_path / "runtime"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "remotevirt").mkdir(mode=0o700)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(shared / "remotevirt"))
    directory = code_store.cache_directory()
    assert directory is not None
    monkeypatch.setattr(sys, "meta_path", [code_cache.CachedCodeFinder(PACKAGE + ".", directory)] + sys.meta_path)
    fresh_import()
    (key,) = os.listdir(str(shared / "remotevirt" / "code"))
    # The swap: a directory others can write, with an entry of this user's under the module's key.
    (shared / "remotevirt").rename(shared / "checked")
    foreign = shared / "foreign" / "code"
    foreign.mkdir(parents=True)
    foreign.chmod(0o777)
    code_cache.write_entry(str(foreign / key), compile("ANSWER = 'foreign'\n", "mod.py", "exec"))
    (shared / "remotevirt").symlink_to(shared / "foreign")
    assert fresh_import().ANSWER == 42


BOOTSTRAP_PROBE = """
import builtins, collections, sys
compiled = collections.Counter()
original = builtins.compile
def counting(source, filename, *args, **kwargs):
    compiled[str(filename).rsplit("/", 1)[-1]] += 1
    return original(source, filename, *args, **kwargs)
builtins.compile = counting
sys.path.insert(0, sys.argv[1])
import ansible_collections.remotevirt.install.plugins.module_utils._common as common
assert common.__file__.startswith(sys.argv[1]), common.__file__
(finder,) = [finder for finder in sys.meta_path if isinstance(finder, common.code_cache.CachedCodeFinder)]
print(compiled["code_store.py"], compiled["code_cache.py"], compiled["locks.py"], finder.directory is not None)
"""


def test_a_task_compiles_only_the_stores_module_and_that_once(tmp_path):
    # Python's zip importer compiles a source twice (once only to name its file) up to 3.13 at
    # least; the package's bootstrap compiles the store's module once and loads the finder from
    # the store (compiled and kept by the first task only), and nothing else of this collection.
    common = os.path.dirname(code_cache.__file__)
    package = "ansible_collections/remotevirt/install/plugins/module_utils/_common"
    # A finder's source no earlier run kept: the first task below compiles and keeps it.
    with open(os.path.join(common, "code_cache.py"), "rb") as source:
        finder_source = source.read() + b"# %d %s\n" % (os.getpid(), str(tmp_path).encode())
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(str(archive), "w") as payload:
        for parent in (
            "ansible_collections",
            "ansible_collections/remotevirt",
            "ansible_collections/remotevirt/install",
            "ansible_collections/remotevirt/install/plugins",
            "ansible_collections/remotevirt/install/plugins/module_utils",
        ):
            payload.writestr(parent + "/__init__.py", "")
        for name in ("__init__.py", "code_store.py", "locks.py"):
            payload.write(os.path.join(common, name), package + "/" + name)
        payload.writestr(package + "/code_cache.py", finder_source)
    try:
        runs = [
            subprocess.run(
                [sys.executable, "-c", BOOTSTRAP_PROBE, str(archive)],
                capture_output=True,
                text=True,
                cwd=str(tmp_path),
                env=dict(os.environ, PYTHONPATH=""),
                check=False,
            )
            for _run in range(2)
        ]
        assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr
        first, second = (run.stdout.split() for run in runs)
        stored = first[3] == "True"  # where this user has a private store
        assert first[:3] == ["1", "1", "0"]
        assert second[:3] == ["1", "0" if stored else "1", "0"]
    finally:
        key = code_store.entry_key(package + "/code_cache.py", b"source\0" + finder_source)
        try:
            os.unlink(os.path.join(code_store.lock_dir(), "code", key))
        except OSError:
            pass

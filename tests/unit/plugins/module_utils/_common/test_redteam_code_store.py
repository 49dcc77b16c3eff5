"""The host's store of compiled code attacked as a hostile or careless user would: every case is one
that broke it once (fixed) or one it held; each must keep holding."""

from __future__ import annotations

import importlib
import importlib.resources
import linecache
import os
import pkgutil
import subprocess
import sys
import textwrap
import traceback
import zipfile
import zipimport

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_cache, code_store

PACKAGE = "rvrt_probe"
NOBODY = 65534


@pytest.fixture
def zipped(tmp_path, monkeypatch):
    archive = tmp_path / "payload.zip"
    make_zip(archive, "ANSWER = 42\n")
    monkeypatch.syspath_prepend(str(archive))
    yield archive
    forget(archive)


def forget(archive):
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path_importer_cache.pop(str(archive), None)
    sys.path_importer_cache.pop(os.path.join(str(archive), PACKAGE), None)


@pytest.fixture
def store(tmp_path, monkeypatch):
    descriptor = put_a_store_in_place(tmp_path, monkeypatch)
    yield tmp_path / "code"
    os.close(descriptor)


def put_a_store_in_place(tmp_path, monkeypatch):
    """A private store in ``tmp_path``, its finder first on sys.meta_path; its descriptor, to close."""
    directory = tmp_path / "code"
    directory.mkdir(mode=0o700)
    descriptor = os.open(str(directory), os.O_RDONLY | os.O_DIRECTORY)
    monkeypatch.setattr(sys, "meta_path", [code_cache.CachedCodeFinder(PACKAGE + ".", descriptor)] + sys.meta_path)
    return descriptor


def make_zip(path, source, extra=()):
    with zipfile.ZipFile(str(path), "w") as payload:
        payload.writestr(PACKAGE + "/__init__.py", "")
        payload.writestr(PACKAGE + "/mod.py", source)
        for name, data in extra:
            payload.writestr(name, data)
    return path


def fresh_import(name="mod"):
    for module in [module for module in sys.modules if module.startswith(PACKAGE)]:
        del sys.modules[module]
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE + "." + name)


def test_a_huge_file_where_an_entry_should_be_means_compiling(zipped, store):
    """It was read whole into memory: MemoryError, and every task failed until it was removed."""
    assert fresh_import().ANSWER == 42
    (entry,) = list(store.iterdir())
    with open(str(entry), "r+b") as handle:
        handle.truncate(1 << 43)  # 8 TiB, sparse: no disk used
    assert fresh_import().ANSWER == 42


def test_a_fifo_where_an_entry_or_the_store_should_be_does_not_hang(zipped, store, tmp_path, monkeypatch):
    assert fresh_import().ANSWER == 42
    (entry,) = list(store.iterdir())
    entry.unlink()
    os.mkfifo(str(entry), 0o600)
    assert fresh_import().ANSWER == 42
    lock = tmp_path / "lock"
    lock.mkdir(mode=0o700)
    os.mkfifo(str(lock / "code"), 0o600)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(lock))
    assert code_store.cache_directory() is None
    fifo_lock = tmp_path / "fifolock"
    os.mkfifo(str(fifo_lock), 0o600)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(fifo_lock))
    assert code_store.cache_directory() is None


def test_a_zip_replaced_at_the_same_path_runs_its_own_code(zipped, store, tmp_path):
    """A descriptor of the zip kept for the process read the old file's bytes after the new one took its path."""
    assert fresh_import().ANSWER == 42
    os.replace(str(make_zip(tmp_path / "new.zip", "ANSWER = 43\n")), str(zipped))
    assert fresh_import().ANSWER == 43


def test_a_replaced_zip_never_puts_its_code_under_another_sources_key(tmp_path, store, monkeypatch):
    """The key was made of the bytes read first and the code compiled from a second read: a zip
    replaced between them put the new source's code under the old source's key."""
    other = [(PACKAGE + "/other.py", "X = 1\n")]
    archive = make_zip(tmp_path / "payload.zip", "ANSWER = 42\n", extra=other)
    monkeypatch.syspath_prepend(str(archive))
    try:
        fresh_import("other")
        os.replace(str(make_zip(tmp_path / "new.zip", "ANSWER = 43\n", extra=other)), str(archive))
        assert fresh_import().ANSWER == 43
    finally:
        forget(archive)
    later = make_zip(tmp_path / "later.zip", "ANSWER = 42\n", extra=other)
    monkeypatch.syspath_prepend(str(later))
    try:
        assert fresh_import().ANSWER == 42
    finally:
        forget(later)


OPTIMIZE_PROBE = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.remotevirt.install.plugins.module_utils._common import code_cache
    store = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY) if sys.argv[2] != "-" else None
    sys.meta_path.insert(0, code_cache.CachedCodeFinder("%s.", store))
    import %s.mod as mod
    print(mod.__doc__, mod.checked())
    """
) % (PACKAGE, PACKAGE)
OPTIMIZE_SOURCE = (
    '"""documented"""\n'
    "def checked():\n"
    "    try:\n"
    "        assert False\n"
    "    except AssertionError:\n"
    '        return "asserts-on"\n'
    '    return "asserts-off"\n'
)


def run_optimized(archive, store, *flags):
    run = subprocess.run(
        [sys.executable, *flags, "-c", OPTIMIZE_PROBE, str(archive), store], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_code_compiled_at_another_optimization_level_is_not_loaded(tmp_path):
    """-OO drops docstrings and asserts: its code was served to a run without it, and the reverse."""
    archive = make_zip(tmp_path / "payload.zip", OPTIMIZE_SOURCE)
    store = tmp_path / "code"
    store.mkdir(mode=0o700)
    assert run_optimized(archive, str(store), "-OO") == "None asserts-off"
    assert run_optimized(archive, str(store)) == "documented asserts-on"
    assert run_optimized(archive, str(store), "-OO") == "None asserts-off"


def test_stored_code_names_its_source_by_an_absolute_path(zipped, store):
    code = fresh_import().__loader__.get_code(PACKAGE + ".mod")
    assert code.co_filename == "/%s/mod.py" % PACKAGE


def test_a_traceback_never_shows_a_file_of_the_working_directory(tmp_path, store, monkeypatch):
    """A relative file name had linecache read a file of that name in the task's working directory."""
    archive = make_zip(tmp_path / "payload.zip", "def fail():\n    raise RuntimeError('real line')\n")
    monkeypatch.syspath_prepend(str(archive))
    cwd = tmp_path / "cwd"
    (cwd / PACKAGE).mkdir(parents=True)
    (cwd / PACKAGE / "mod.py").write_text("# planted\n    PLANTED LINE\n")
    monkeypatch.chdir(cwd)
    linecache.clearcache()
    try:
        for _run in range(2):  # compiled, then from the store
            with pytest.raises(RuntimeError) as raised:
                fresh_import().fail()
            text = "".join(traceback.format_tb(raised.tb))
            assert "real line" in text and "PLANTED" not in text, text
    finally:
        forget(archive)


@pytest.mark.skipif(os.geteuid() != 0, reason="gives files to another user")
def test_entries_or_directories_of_another_user_are_never_read(zipped, tmp_path, monkeypatch):
    planted = compile("ANSWER = 'planted'\n", "/%s/mod.py" % PACKAGE, "exec")
    member = code_cache.stored_member(zipimport.zipimporter(os.path.join(str(zipped), PACKAGE)), PACKAGE + "/mod.py")
    key = code_store.entry_key(PACKAGE + "/mod.py", b"stored %d\0" % member[0] + member[1])
    lock = tmp_path / "lock"
    (lock / "code").mkdir(parents=True, mode=0o700)
    code_cache.write_entry(str(lock / "code" / key), planted)
    for path in (lock, lock / "code", lock / "code" / key):
        os.chown(str(path), NOBODY, NOBODY)
    monkeypatch.setattr(code_store, "lock_dir", lambda: str(lock))
    assert code_store.cache_directory() is None  # their lock directory
    os.chown(str(lock), 0, 0)
    assert code_store.cache_directory() is None  # their store
    os.chown(str(lock / "code"), 0, 0)
    directory = code_store.cache_directory()
    assert directory is not None
    monkeypatch.setattr(sys, "meta_path", [code_cache.CachedCodeFinder(PACKAGE + ".", directory)] + sys.meta_path)
    try:
        assert fresh_import().ANSWER == 42  # their entry, under the right key
    finally:
        os.close(directory)


def test_a_runtime_directory_of_another_user_is_not_used(monkeypatch, tmp_path):
    theirs = tmp_path / "run-theirs"
    theirs.mkdir(mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(str(theirs)).st_uid + 4242)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(theirs))
    (tmp_path / "home").mkdir(mode=0o700)
    os.chown(str(tmp_path / "home"), os.geteuid(), -1)
    monkeypatch.setattr(code_store, "_home_directory", lambda: str(tmp_path / "home"))
    assert code_store.lock_dir() == str(tmp_path / "home" / ".cache" / "remotevirt" / "locks")


def lying_zip(path, how):
    data = bytearray(make_zip(path, "ANSWER = 42\n").read_bytes())
    central = data.rindex(b"PK\x01\x02")  # mod.py's record, the last
    if how == "offset-past-end":
        data[central + 42 : central + 46] = (len(data) + 1000).to_bytes(4, "little")
    elif how == "offset-elsewhere":
        data[central + 42 : central + 46] = (0).to_bytes(4, "little")  # __init__.py's header
    elif how == "size-too-big":
        data[central + 20 : central + 24] = (10**6).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def outcome(archive):
    try:
        return ("ok", fresh_import().ANSWER)
    except BaseException as error:  # noqa: B036
        return (type(error).__name__,)
    finally:
        forget(archive)


@pytest.mark.parametrize("how", ["offset-past-end", "offset-elsewhere", "size-too-big"])
def test_a_zip_whose_directory_lies_fails_as_without_the_store(tmp_path, how, monkeypatch):
    archive = lying_zip(tmp_path / "liar.zip", how)
    monkeypatch.syspath_prepend(str(archive))
    without = outcome(archive)
    descriptor = put_a_store_in_place(tmp_path, monkeypatch)
    try:
        assert outcome(archive) == without
        assert outcome(archive) == without
    finally:
        os.close(descriptor)


def read_with_pkgutil(package, name):
    return pkgutil.get_data(package, name)


def read_with_importlib_resources(package, name):
    return importlib.resources.files(package).joinpath(name).read_bytes()


@pytest.mark.parametrize("read", [read_with_pkgutil, read_with_importlib_resources])
def test_data_files_read_through_the_loader_as_without_the_store(tmp_path, monkeypatch, read):
    archive = make_zip(
        tmp_path / "payload.zip",
        "ANSWER = 42\n",
        extra=[(PACKAGE + "/sub/__init__.py", ""), (PACKAGE + "/sub/data.txt", "payload")],
    )
    monkeypatch.syspath_prepend(str(archive))
    fresh_import("sub")
    without = read(PACKAGE + ".sub", "data.txt")
    forget(archive)
    descriptor = put_a_store_in_place(tmp_path, monkeypatch)
    try:
        fresh_import("sub")
        assert read(PACKAGE + ".sub", "data.txt") == without == b"payload"
    finally:
        forget(archive)
        os.close(descriptor)

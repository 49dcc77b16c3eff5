"""Host-local locks: one run at a time per object, released however the holder ends."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store, locks

REAL_LOCK_DIR = locks.lock_dir


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    monkeypatch.setattr(locks, "lock_dir", lambda: str(directory))
    return directory


def test_a_second_holder_of_the_same_key_waits_then_gives_up():
    with locks.held(["qemu:///system guest web01"], timeout=1):
        with pytest.raises(locks.LockError, match="another run is still changing guest web01 on this host"):
            with locks.held(["qemu:///system guest web01"], timeout=0.3):
                pass  # pragma: no cover - never reached


def test_other_keys_do_not_wait_and_a_lock_is_free_after_the_run():
    with locks.held(["u guest a", "u volume p/a.qcow2"], timeout=1):
        with locks.held(["u guest b"], timeout=0.1):
            pass
    with locks.held(["u guest a"], timeout=0.1):
        pass


def test_lock_failure_releases_what_was_taken():
    with locks.held(["u volume p/x"], timeout=1):
        with pytest.raises(locks.LockError):
            with locks.held(["u guest a", "u volume p/x"], timeout=0.2):
                pass  # pragma: no cover - never reached
        with locks.held(["u guest a"], timeout=0.1):
            pass


# -- check mode's turn ---------------------------------------------------------------------------
def test_check_mode_waits_for_a_run_that_changes_the_same_object():
    """As the real run would: it plans from what that run made, not from what it has half made."""
    key = "u volume p/dl.img"
    ready, done = threading.Event(), threading.Event()

    def real_run():
        with locks.held([key], timeout=1):
            ready.set()
            time.sleep(0.3)
        done.set()

    thread = threading.Thread(target=real_run)
    thread.start()
    assert ready.wait(2)
    locks.wait_turn([key], timeout=2)
    assert done.is_set()
    thread.join()


def test_check_mode_gives_up_as_the_real_run_would():
    with locks.held(["u guest web01"], timeout=1):
        with pytest.raises(locks.LockError, match="another run is still changing guest web01 on this host"):
            locks.wait_turn(["u guest web01"], timeout=0.3)


def test_check_mode_makes_no_lock_directory_nor_lock_file(private_lock_dir):
    locks.wait_turn(["u guest a"], timeout=0.1)
    assert not private_lock_dir.exists()
    with locks.held(["u guest b"], timeout=0.1):
        pass
    before = sorted(os.listdir(private_lock_dir))
    locks.wait_turn(["u guest a", "u guest b"], timeout=0.1)
    assert sorted(os.listdir(private_lock_dir)) == before


def test_check_mode_runs_never_wait_for_each_other_nor_keep_a_real_run_waiting():
    with locks.held(["u guest a"], timeout=0.1):
        pass  # its lock file is there now
    locks.wait_turn(["u guest a"], timeout=0.1)
    locks.wait_turn(["u guest a"], timeout=0.1)
    with locks.held(["u guest a"], timeout=0.1):  # check mode may go on probing a slow server meanwhile
        pass


def test_lock_directory_is_private(private_lock_dir):
    with locks.held(["k"], timeout=1):
        assert oct(os.stat(str(private_lock_dir)).st_mode & 0o777) == "0o700"


def test_a_directory_others_can_write_is_refused(private_lock_dir):
    private_lock_dir.mkdir()
    private_lock_dir.chmod(0o777)
    with pytest.raises(locks.LockError, match="not a directory that only this user can write"):
        with locks.held(["k"], timeout=1):
            pass  # pragma: no cover - never reached


def test_the_lock_directory_is_the_same_whatever_the_environment(tmp_path, monkeypatch):
    """Runs of one user find each other's locks however they were started: XDG_RUNTIME_DIR (set by
    an ssh login, not by sudo or cron) and HOME (become may pass another user's on) are not used."""
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    (tmp_path / "home").mkdir(mode=0o700)
    os.chown(str(tmp_path / "home"), 4242, -1)
    monkeypatch.setattr(code_store, "_home_directory", lambda: str(tmp_path / "home"))
    expected = str(tmp_path / "home" / ".cache" / "remotevirt" / "locks")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    os.chown(str(runtime), 4242, -1)
    for name, value in (("XDG_RUNTIME_DIR", str(runtime)), ("HOME", str(tmp_path / "elsewhere"))):
        monkeypatch.setenv(name, value)
        assert REAL_LOCK_DIR() == expected
        monkeypatch.delenv(name)
        assert REAL_LOCK_DIR() == expected


def test_locks_are_taken_in_the_directory_that_was_checked(private_lock_dir, tmp_path, monkeypatch):
    """Where another user can rename a directory on the way, the lock directory's name may lead
    elsewhere right after its check: the lock files still go to the directory that was checked."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = tmp_path / "checked"
    open_private = locks.open_private_directory

    def checked_then_swapped(path):
        descriptor = open_private(path)
        os.rename(path, str(checked))
        os.symlink(str(elsewhere), path)
        return descriptor

    monkeypatch.setattr(locks, "open_private_directory", checked_then_swapped)
    with locks.held(["u guest a"], timeout=1):
        assert len(os.listdir(str(checked))) == 1
    assert os.listdir(str(elsewhere)) == []


def test_a_link_in_place_of_the_lock_directory_is_refused(private_lock_dir, tmp_path):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    os.symlink(str(target), str(private_lock_dir))
    with pytest.raises(locks.LockError, match="not a directory that only this user can write"):
        with locks.held(["k"], timeout=1):
            pass  # pragma: no cover - never reached


@pytest.mark.parametrize("kind", ["another user's", "group-writable", "a link", "a fifo", "not json"])
def test_only_a_file_this_user_wrote_is_read_back(tmp_path, kind):
    path = tmp_path / "cache.json"
    real = tmp_path / "real.json"
    real.write_text('{"works": true}')
    real.chmod(0o600)
    if kind == "another user's":
        path.write_text('{"works": true}')
        os.chown(str(path), 65534, 65534)
    elif kind == "group-writable":
        path.write_text('{"works": true}')
        path.chmod(0o620)
    elif kind == "a link":
        os.symlink(str(real), str(path))
    elif kind == "a fifo":
        os.mkfifo(str(path), 0o600)
    else:
        path.write_text('{"works": tr')
    assert locks.read_private_json(str(real)) == {"works": True}
    assert locks.read_private_json(str(path)) is None
    assert locks.read_private_json(str(tmp_path / "missing.json")) is None


def test_a_home_the_user_cannot_write_in_is_not_the_lock_directorys(tmp_path, monkeypatch):
    """A system user's home (/nonexistent, or a root-owned one): the shared temporary directory's
    remotevirt-UID, instead of a lock directory that cannot be made and fails every run."""
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    for home in ("/nonexistent", str(tmp_path)):  # tmp_path: root's
        monkeypatch.setattr(code_store.pwd, "getpwuid", lambda uid, home=home: type("Entry", (), {"pw_dir": home}))
        assert REAL_LOCK_DIR() == "/tmp/remotevirt-4242"
    owned = tmp_path / "home"
    owned.mkdir()
    os.chown(str(owned), 4242, -1)
    monkeypatch.setattr(code_store.pwd, "getpwuid", lambda uid: type("Entry", (), {"pw_dir": str(owned)}))
    assert REAL_LOCK_DIR() == str(owned / ".cache" / "remotevirt" / "locks")

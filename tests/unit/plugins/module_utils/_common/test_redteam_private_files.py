"""Red-team tests of the private lock directory and the files in it (locks, usage cache, KVM verdict).

A victim run is a forked child that drops to VICTIM (no passwd entry); the hostile user is
ATTACKER (nobody). What the attacker does is done by root in the parent or, where the attacker
could do it through a directory everyone may write, by the child itself.
"""

from __future__ import annotations

import errno
import json
import os
import pickle

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils import _kvm_probe
from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store, locks, usage
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import untrusted_path_problem

VICTIM = 4242
ATTACKER = 65534


# Every test: the lock directory's last resort is a sticky directory of its own, not /tmp.
pytestmark = pytest.mark.usefixtures("sticky_tmp")


def as_victim(fn, env):
    """fn() run in a child as VICTIM with exactly ``env``: ("ok", value) or ("raised", "Type: message")."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(VICTIM)
            os.setuid(VICTIM)
            os.environ.clear()
            os.environ.update(env)
            try:
                result = ("ok", fn())
            except BaseException as error:  # noqa: B902 - reported to the parent
                result = ("raised", "%s: %s" % (type(error).__name__, error))
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(result, out)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def attackers_home(world, mode=0o755):
    home = os.path.join(world, "home-a")
    os.mkdir(home)
    os.chown(home, ATTACKER, ATTACKER)
    os.chmod(home, mode)
    return home


# -- where the lock directory is ----------------------------------------------------------------
def test_become_passing_another_users_home_does_not_block_every_run(world):
    """su (become) keeps the HOME of the user who became: the victim cannot make its lock directory
    there, so every run that changes something fails with LockError (a careless environment), and
    the owner of that home can do the same on purpose by making the directory first."""
    home = attackers_home(world)

    def run():
        with locks.held(["qemu:///system guest g"], timeout=1):
            return locks.lock_dir()

    status, value = as_victim(run, {"HOME": home})
    assert status == "ok", value


def test_lock_directory_is_not_under_a_directory_another_user_owns(world):
    home = attackers_home(world, mode=0o777)  # a home its owner lets everyone write
    status, problem = as_victim(lambda: untrusted_path_problem(code_store.lock_dir(), "lock directory"), {"HOME": home})
    assert (status, problem) == ("ok", None)


@pytest.mark.parametrize("home", ["", "relative/home"])
def test_lock_directory_is_never_relative(home):
    """HOME empty or relative (careless environment): the lock directory would be one per working
    directory, so two runs in different directories never wait for each other."""
    status, directory = as_victim(code_store.lock_dir, {"HOME": home})
    assert status == "ok"
    assert os.path.isabs(directory), directory


def test_lock_directory_without_home_and_passwd_entry_is_not_relative():
    """No HOME and no passwd entry (a container's uid): expanduser('~') stays '~'."""
    status, directory = as_victim(code_store.lock_dir, {})
    assert status == "ok"
    assert os.path.isabs(directory), directory


# -- mutual exclusion when a directory on the way can be renamed -------------------------------------
@pytest.mark.parametrize("via", ["HOME", "XDG_RUNTIME_DIR"])
def test_renaming_the_lock_directory_away_does_not_let_two_runs_hold_one_lock(world, via):
    """The victim's private lock directory sits in a directory another user may write (their home,
    or one holding the runtime directory). Renaming it away while run 1 holds a lock makes run 2
    create a fresh, equally private one: both runs hold the same lock at once."""
    shared = attackers_home(world, mode=0o777)
    if via == "HOME":
        env = {"HOME": shared}
        renamed = os.path.join(shared, ".cache")
    else:
        env = {"XDG_RUNTIME_DIR": os.path.join(shared, "run"), "HOME": "/nonexistent"}
        renamed = os.path.join(shared, "run")

    def run():
        if via == "XDG_RUNTIME_DIR":
            os.mkdir(renamed, 0o700)
        directory = locks.lock_dir()
        with locks.held(["qemu:///system volume p/v"], timeout=1):
            if os.path.exists(renamed):
                os.rename(renamed, renamed + ".old")  # what the owner of the shared directory does
            if via == "XDG_RUNTIME_DIR":
                os.mkdir(renamed, 0o700)  # a runtime directory is there again: (re)made by the victim's login
            try:
                with locks.held(["qemu:///system volume p/v"], timeout=0.3):
                    return "both runs hold the lock"
            except locks.LockError:
                return "second run waited in " + ("the shared directory" if directory.startswith(shared) else "another")

    assert as_victim(run, env) == ("ok", "second run waited in another")


# -- writes go to the directory that was checked ---------------------------------------------------
def _swap_after_check(monkeypatch, directory, elsewhere):
    real = locks._open_private

    def checked_then_swapped(path):
        descriptor = real(path)
        os.rename(path, path + ".checked")
        os.symlink(elsewhere, path)
        return descriptor

    monkeypatch.setattr(locks, "_open_private", checked_then_swapped)


def test_the_kvm_verdict_is_not_written_into_a_directory_swapped_in_after_the_check(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chown(str(elsewhere), ATTACKER, ATTACKER)
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(directory / "probe.json"))
    _swap_after_check(monkeypatch, str(directory), str(elsewhere))
    _kvm_probe.remember("key", _kvm_probe.Verdict(works=True))
    assert os.listdir(str(elsewhere)) == []
    assert os.listdir(str(directory) + ".checked") == ["probe.json"]


def test_the_usage_cache_is_not_written_into_a_directory_swapped_in_after_the_check(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chown(str(elsewhere), ATTACKER, ATTACKER)
    monkeypatch.setattr(locks, "lock_dir", lambda: str(directory))
    path = usage.cache_path("guest references")
    cache = usage.StampedCache(path)
    cache.put("g", [1], {"images": [["/img/g.qcow2", True]]})
    # the run reads every guest between cache_path's check and save: the name is swapped meanwhile
    os.rename(str(directory), str(directory) + ".checked")
    os.symlink(str(elsewhere), str(directory))
    cache.save()
    assert os.listdir(str(elsewhere)) == []


# -- readers fall back to no cache -------------------------------------------------------------------
def test_a_deeply_nested_verdict_file_means_no_verdict_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "probe.json"
    path.write_text("[" * 200000)
    path.chmod(0o600)
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(path))
    assert _kvm_probe.cached("key") is None


def test_a_deeply_nested_usage_cache_means_no_cache_not_a_traceback(tmp_path):
    path = tmp_path / "cache.json"
    path.write_text('{"version": 1, "entries": ' + "[" * 200000)
    path.chmod(0o600)
    assert usage.StampedCache(str(path)).entries == {}


def test_a_verdict_file_of_an_old_run_cannot_be_swapped_in_under_another_key(tmp_path, monkeypatch):
    """Regression: a file this user wrote for one key, renamed onto another key's name, is not believed."""
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / ("%s.json" % key)))
    _kvm_probe.remember("one", _kvm_probe.Verdict(works=True))
    os.rename(str(tmp_path / "one.json"), str(tmp_path / "two.json"))
    assert _kvm_probe.cached("two") is None


def test_a_fifo_or_device_in_place_of_a_cache_never_blocks(tmp_path):
    """Regression: a FIFO or a device in place of the cache never hangs or is read."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(str(fifo), 0o600)
    assert locks.read_private_json(str(fifo)) is None
    null = tmp_path / "null.json"
    os.mknod(str(null), 0o600 | 0o020000, os.makedev(1, 3))
    assert locks.read_private_json(str(null)) is None


# -- a full disk leaves nothing behind ---------------------------------------------------------------
def full_disk_at_rename(monkeypatch):
    """The write of a cache failing once its text is written aside (ENOSPC on a full /run)."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(locks.os, "replace", full)


def test_a_verdict_that_cannot_be_written_leaves_no_partial_file(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(directory / "probe.json"))
    full_disk_at_rename(monkeypatch)
    _kvm_probe.remember("key", _kvm_probe.Verdict(works=True))
    monkeypatch.undo()
    assert os.listdir(str(directory)) == []


def test_a_usage_cache_that_cannot_be_written_leaves_no_partial_file(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    directory.mkdir(mode=0o700)
    cache = usage.StampedCache(str(directory / "cache.json"))
    cache.put("g", [1], {})
    full_disk_at_rename(monkeypatch)
    cache.save()
    monkeypatch.undo()
    assert os.listdir(str(directory)) == []


def test_json_dump_of_the_probe_is_plain(tmp_path, monkeypatch):
    """Regression: what remember writes, cached reads back."""
    monkeypatch.setattr(_kvm_probe, "_cache_file", lambda key: str(tmp_path / "locks" / "p.json"))
    _kvm_probe.remember("k", _kvm_probe.Verdict(works=False, detail="paused, unknown"))
    assert json.loads((tmp_path / "locks" / "p.json").read_text())["works"] is False
    assert _kvm_probe.cached("k") == _kvm_probe.Verdict(works=False, detail="paused, unknown")

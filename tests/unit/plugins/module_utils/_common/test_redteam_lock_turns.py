"""Red-team cases of the lock directory, third round: a home a group may write, a home or
~/.cache where the lock directory cannot be made, a lock directory or lock file that cannot be
written, a port spelled with leading zeros. Runs of the victim are forked children (as_victim)."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store, locks, runtime
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import lock_uri

from .test_redteam_private_files import VICTIM, as_victim
from .test_redteam_private_files2 import second_run_while_first_holds, victim_home

pytestmark = pytest.mark.usefixtures("sticky_tmp")


def _attempt(check_mode, keys=("volume p/v",)):
    def run():
        try:
            with runtime.changing("qemu:///system", list(keys), 0.3, check_mode):
                return "held"
        except locks.LockError as error:
            return "LockError: %s" % error

    return run


def test_a_member_of_the_group_of_a_shared_home_cannot_let_two_runs_hold_one_lock(world, monkeypatch):
    """A home 2775 of a group others are in: a member renames ~/.cache away while run 1 holds its
    lock. The lock directory is not in such a home (the group could redirect the way to it)."""
    home = victim_home(world, monkeypatch, mode=0o2775)
    os.chown(home, VICTIM, 4343)

    def rename():
        if os.path.isdir(os.path.join(home, ".cache")):
            os.rename(os.path.join(home, ".cache"), os.path.join(home, ".cache.stolen"))

    assert second_run_while_first_holds({}, {}, between=rename) == ("ok", "second run waited")


@pytest.mark.parametrize("how", ["root-owned ~/.cache", "home 0555", "~/.cache a link"])
def test_a_home_where_the_lock_directory_cannot_be_made_does_not_fail_every_run(world, monkeypatch, how):
    """sudo tools leave a root-owned ~/.cache; some homes are read-only: the lock directory is then
    the last resort's, in check mode as in the real run."""
    home = victim_home(world, monkeypatch)
    if how == "root-owned ~/.cache":
        os.mkdir(os.path.join(home, ".cache"), 0o755)
    elif how == "home 0555":
        os.chmod(home, 0o555)
    else:
        os.symlink(world, os.path.join(home, ".cache"))
    assert as_victim(_attempt(True), {}) == ("ok", "held")
    assert as_victim(_attempt(False), {}) == ("ok", "held")
    assert as_victim(code_store.lock_dir, {}) == ("ok", os.path.join(code_store.SHARED_TEMPORARY, "remotevirt-%d" % VICTIM))


def test_a_lock_directory_this_user_cannot_write_is_refused_alike_by_check_mode_and_the_real_run(world, monkeypatch):
    """The private lock directory made 0500 by a careless chmod: a clear refusal naming it, which
    check mode predicts (not a bare "Permission denied: '<hash>.lock'")."""
    home = victim_home(world, monkeypatch)
    place = os.path.join(home, ".cache", "remotevirt", "locks")
    assert as_victim(_attempt(False, keys=["volume p/first"]), {}) == ("ok", "held")
    os.chmod(place, 0o500)
    check = as_victim(_attempt(True), {})
    real = as_victim(_attempt(False), {})
    assert real == check
    assert real[1].startswith("LockError: lock directory %s is this user's but this user cannot write in it" % place)


def test_a_lock_file_that_cannot_be_made_is_a_lock_error_naming_its_place(tmp_path, monkeypatch):
    """A full file system (lock files stay, one per name ever changed): the message names the file
    in its directory and says what to do."""
    directory = str(tmp_path / "locks")
    monkeypatch.setattr(locks, "lock_dir", lambda: directory)
    real_open = os.open

    def full(path, flags, *args, **kwargs):
        if isinstance(path, str) and path.endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(
        locks.LockError, match="cannot lock %s/[0-9a-f]{32}.lock: No space left on device; free space" % directory
    ):
        with locks.held(["qemu:///system volume p/v"], timeout=0.3):
            pass  # pragma: no cover - never reached


@pytest.mark.parametrize("kind", ["directory", "link"])
def test_something_else_at_a_lock_files_name_is_a_lock_error(tmp_path, monkeypatch, kind):
    directory = tmp_path / "locks"
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(locks, "lock_dir", lambda: str(directory))
    in_place = directory / locks._lock_name("k")
    if kind == "directory":
        in_place.mkdir()
    else:
        in_place.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(locks.LockError, match="cannot lock .*; free space there, or remove what is in its place"):
        with locks.held(["k"], timeout=0.3):
            pass  # pragma: no cover - never reached


@pytest.mark.parametrize(
    "one, other",
    [
        ("qemu+ssh://hv1/system", "qemu+ssh://hv1:022/system"),
        ("qemu+tcp://hv1:16509/system", "qemu+tcp://hv1:016509/system"),
        ("qemu+tls://hv1:1234/system", "qemu+tls://hv1:01234/system"),
    ],
)
def test_a_port_with_leading_zeros_is_the_same_daemon(one, other):
    assert lock_uri(one) == lock_uri(other)


def test_a_home_spelled_with_a_double_slash_is_judged_like_its_plain_spelling(world, monkeypatch):
    """useradd -d /home//alice keeps that spelling: a root-owned ~/.cache/remotevirt (a sudo cp -a
    of dotfiles) is not used whichever way the home is spelled."""
    home = victim_home(world, monkeypatch)
    spelled = home.replace("/home-v", "//home-v")
    entry = code_store.pwd.struct_passwd(("victim", "x", VICTIM, VICTIM, "", spelled, "/bin/sh"))
    real = code_store.pwd.getpwuid
    monkeypatch.setattr(code_store.pwd, "getpwuid", lambda uid: entry if uid == VICTIM else real(uid))
    os.makedirs(os.path.join(home, ".cache", "remotevirt"), 0o755)
    os.chown(os.path.join(home, ".cache"), VICTIM, VICTIM)
    os.chmod(os.path.join(home, ".cache"), 0o700)
    assert as_victim(_attempt(False), {}) == ("ok", "held")
    assert as_victim(code_store.lock_dir, {}) == ("ok", os.path.join(code_store.SHARED_TEMPORARY, "remotevirt-%d" % VICTIM))


def test_a_home_with_dot_dot_is_no_home_to_trust(world, monkeypatch):
    home = victim_home(world, monkeypatch)
    entry = code_store.pwd.struct_passwd(("victim", "x", VICTIM, VICTIM, "", home + "/../home-v", "/bin/sh"))
    real = code_store.pwd.getpwuid
    monkeypatch.setattr(code_store.pwd, "getpwuid", lambda uid: entry if uid == VICTIM else real(uid))
    assert as_victim(code_store.lock_dir, {}) == ("ok", os.path.join(code_store.SHARED_TEMPORARY, "remotevirt-%d" % VICTIM))

"""Red-team tests, second round, of the private lock directory (where it is, and the files in it).

Victim runs are forked children dropped to VICTIM (see test_redteam_private_files.as_victim);
ATTACKER is nobody. Two "runs" of the victim are two nested ``locks.held`` in one child: flock
conflicts between two open file descriptions of one process as between two processes.
"""

from __future__ import annotations

import os
import pwd

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils import _kvm_probe
from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store, locks, runtime, usage

from .test_redteam_private_files import ATTACKER, VICTIM, as_victim

KEY = "qemu:///system volume p/v"


# Every test: the lock directory's last resort is a sticky directory of its own, not /tmp.
pytestmark = pytest.mark.usefixtures("sticky_tmp")


def victim_home(world, monkeypatch, mode=0o755):
    """A home of the victim's, and a passwd entry giving it (the victim has none on the test host)."""
    home = os.path.join(world, "home-v")
    os.mkdir(home)
    os.chown(home, VICTIM, VICTIM)
    os.chmod(home, mode)
    real = pwd.getpwuid

    def getpwuid(uid):
        if uid == VICTIM:
            return pwd.struct_passwd(("victim", "x", VICTIM, VICTIM, "", home, "/bin/sh"))
        return real(uid)

    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    return home


def second_run_while_first_holds(first_env, second_env, between=None, umask=None):
    """Run 1 (environment ``first_env``) holds KEY; ``between`` happens; run 2 (``second_env``) tries it."""

    def run():
        if umask is not None:
            os.umask(umask)
        os.environ.clear()
        os.environ.update(first_env)
        first = locks.lock_dir()
        with locks.held([KEY], timeout=1):
            if between:
                between()
            os.environ.clear()
            os.environ.update(second_env)
            second = locks.lock_dir()
            try:
                with locks.held([KEY], timeout=0.3):
                    return "both runs hold the lock (%s, then %s)" % (first, second)
            except locks.LockError:
                return "second run waited"

    return as_victim(run, first_env)


# -- 1. /tmp/remotevirt-UID taken first by another user --------------------------------------------
def _take_fallback(sticky_tmp, kind):
    name = os.path.join(sticky_tmp, "remotevirt-%d" % VICTIM)
    if kind == "directory":
        os.mkdir(name, 0o755)
    elif kind == "file":
        open(name, "w").close()
    elif kind == "symlink":
        target = os.path.join(sticky_tmp, "attackers")
        os.mkdir(target, 0o777)
        os.chown(target, ATTACKER, ATTACKER)
        os.symlink(target, name)
    elif kind == "dangling symlink":
        os.symlink(os.path.join(sticky_tmp, "nothing-yet"), name)
    os.lchown(name, ATTACKER, ATTACKER)
    return name


@pytest.mark.parametrize("kind", ["directory", "file", "symlink", "dangling symlink"])
def test_fallback_taken_first_by_another_user_fails_with_a_clear_lock_error(sticky_tmp, kind):
    """A user without a runtime directory or usable home (a service account): the failure is a LockError naming the directory."""
    name = _take_fallback(sticky_tmp, kind)

    def run():
        with locks.held([KEY], timeout=1):
            return "held"

    status, value = as_victim(run, {})
    assert status == "raised"
    assert value.startswith("LockError: ") and name in value, value


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_fallback_taken_first_by_another_user_says_what_to_do(sticky_tmp, kind):
    """The attacker's mkdir /tmp/remotevirt-4242 makes every real run of a user without a home of
    its own fail (a name in a shared sticky directory cannot be kept from others): the failure
    says so and what to do."""
    _take_fallback(sticky_tmp, kind)

    def run():
        with locks.held([KEY], timeout=1):
            return "held"

    status, message = as_victim(run, {})
    assert status == "raised"
    assert "another user may have made it first" in message and "give this user a home directory of its own" in message


def test_check_mode_and_real_run_agree_when_the_lock_directory_is_unusable(sticky_tmp):
    """Check mode takes no lock: it reports success where the real run will fail."""
    _take_fallback(sticky_tmp, "directory")

    def attempt(check_mode):
        def run():
            with runtime.changing("qemu:///system", ["volume p/v"], 1, check_mode):
                return "ok"

        return as_victim(run, {})[0]

    assert attempt(True) == attempt(False)


def test_fallback_taken_first_means_no_usage_cache_and_no_kvm_verdict_not_a_traceback(sticky_tmp):
    _take_fallback(sticky_tmp, "directory")

    def run():
        path = usage.cache_path("x")
        _kvm_probe.remember("k", _kvm_probe.Verdict(works=True, detail=""))
        return path, _kvm_probe.cached("k"), code_store.cache_directory()

    assert as_victim(run, {}) == ("ok", (None, None, None))


def test_unwritable_shared_temporary_is_a_clear_lock_error(world, monkeypatch):
    """A read-only (here: root's 0755) /tmp for a user with nowhere else."""
    ro = os.path.join(world, "ro")
    os.mkdir(ro, 0o755)
    monkeypatch.setattr(code_store, "SHARED_TEMPORARY", ro)

    def run():
        with locks.held([KEY], timeout=1):
            return "held"

    status, value = as_victim(run, {})
    assert status == "raised" and value.startswith("LockError: cannot make lock directory"), value


# -- 2. the lock directory a run picks depends on what changes between runs ------------------------
def test_a_run_with_and_a_run_without_xdg_runtime_dir_take_turns(world, monkeypatch):
    """Careless admin: one play reaches the user through an ssh login (XDG_RUNTIME_DIR set), another
    through sudo (env_reset drops it) or cron. Both change the same volume at the same time."""
    victim_home(world, monkeypatch)
    run_dir = os.path.join(world, "run-4242")
    os.mkdir(run_dir, 0o700)
    os.chown(run_dir, VICTIM, VICTIM)
    assert second_run_while_first_holds({"XDG_RUNTIME_DIR": run_dir}, {}) == ("ok", "second run waited")


def test_world_writable_home_first_run_and_second_run_take_turns(world, monkeypatch):
    """A home of the victim's left 0777 (careless), no ~/.cache yet: run 1 finds the way trusted
    (nothing on it exists) and makes ~/.cache/remotevirt/locks; run 2 finds ~/.cache in a directory
    everyone writes and goes to /tmp/remotevirt-UID: no mutual exclusion."""
    victim_home(world, monkeypatch, mode=0o777)
    assert second_run_while_first_holds({}, {}) == ("ok", "second run waited")


def test_world_writable_home_renaming_cache_away_does_not_let_two_runs_hold_one_lock(world, monkeypatch):
    """Same home: another user renames ~/.cache away while run 1 holds its lock; run 2 finds nothing
    on the way, judges it trusted and makes a fresh ~/.cache/remotevirt/locks (the attack the first
    review fixed, back through a way whose first missing part is not judged)."""
    home = victim_home(world, monkeypatch, mode=0o777)

    def rename():
        if os.path.exists(os.path.join(home, ".cache")):  # not made there: the way was judged untrusted
            os.rename(os.path.join(home, ".cache"), os.path.join(home, ".cache.old"))

    assert second_run_while_first_holds({}, {}, between=rename) == ("ok", "second run waited")


def test_untrusted_path_judges_the_first_missing_part_by_its_parent(world):
    """Direct form of the two above: a missing name in a directory everyone may write (not sticky)
    is a way another user can redirect."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import untrusted_path_problem

    open_dir = os.path.join(world, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    assert untrusted_path_problem(os.path.join(open_dir, "missing", "locks"), "lock directory") is not None


def test_umask_zero_first_run_and_second_run_take_turns(world, monkeypatch):
    """umask 0 (careless): makedirs gives the directories on the way (~/.cache, ~/.cache/remotevirt)
    mode 0777; run 2 then finds the way untrusted and locks in /tmp/remotevirt-UID instead."""
    victim_home(world, monkeypatch)
    assert second_run_while_first_holds({}, {}, umask=0) == ("ok", "second run waited")


def test_umask_zero_makes_no_directory_on_the_way_that_others_can_write(world, monkeypatch):
    home = victim_home(world, monkeypatch)

    def run():
        os.umask(0)
        with locks.held([KEY], timeout=1):
            pass
        return {
            name: oct(os.stat(os.path.join(home, name)).st_mode & 0o777)
            for name in (".cache", ".cache/remotevirt", ".cache/remotevirt/locks")
        }

    status, modes = as_victim(run, {})
    assert status == "ok"
    assert all(not int(mode, 8) & 0o022 for mode in modes.values()), modes


def test_one_run_under_a_restrictive_umask_does_not_break_every_later_run(world, monkeypatch):
    """umask 0277 once (careless): the lock directory is made 0500 and stays so; later runs under
    umask 022 cannot create their lock file there."""
    victim_home(world, monkeypatch)

    def run():
        os.umask(0o277)
        try:
            with locks.held([KEY], timeout=1):
                pass
        except OSError:
            pass
        os.umask(0o022)
        with locks.held(["qemu:///system guest other"], timeout=1):
            return "held"

    assert as_victim(run, {}) == ("ok", "held")


# -- 3. XDG_RUNTIME_DIR spellings ------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["{d}/", "{d}//", "{w}/x/../run-4242", "{d}/."])
def test_spellings_of_one_runtime_directory_take_turns(world, monkeypatch, spelling):
    victim_home(world, monkeypatch)
    run_dir = os.path.join(world, "run-4242")
    os.mkdir(run_dir, 0o700)
    os.chown(run_dir, VICTIM, VICTIM)
    os.mkdir(os.path.join(world, "x"), 0o755)
    other = spelling.format(d=run_dir, w=world)
    assert second_run_while_first_holds({"XDG_RUNTIME_DIR": run_dir}, {"XDG_RUNTIME_DIR": other}) == ("ok", "second run waited")


@pytest.mark.parametrize("value", ["\n", "/run/user/4242\n", "relative", " /x"])
def test_odd_runtime_directory_values_give_an_absolute_lock_directory(value):
    status, directory = as_victim(code_store.lock_dir, {"XDG_RUNTIME_DIR": value})
    assert status == "ok" and os.path.isabs(directory) and "\n" not in directory, directory


def symlinked_victim_home(world, monkeypatch):
    """The victim's passwd home as a link (root's) to a directory of the victim's."""
    real_home = os.path.join(world, "real-v")
    os.mkdir(real_home, 0o755)
    os.chown(real_home, VICTIM, VICTIM)
    home = victim_home(world, monkeypatch)
    os.rmdir(home)
    os.symlink(real_home, home)
    return home


def test_passwd_home_that_is_a_symlink_of_root_to_the_users_directory(world, monkeypatch):
    home = symlinked_victim_home(world, monkeypatch)
    status, directory = as_victim(code_store.lock_dir, {})
    assert (status, directory) == ("ok", os.path.join(home, ".cache", "remotevirt", "locks"))


def test_passwd_home_that_is_a_symlink_of_another_user_is_not_used(world, monkeypatch, sticky_tmp):
    home = symlinked_victim_home(world, monkeypatch)
    os.lchown(home, ATTACKER, ATTACKER)
    assert as_victim(code_store.lock_dir, {}) == ("ok", os.path.join(sticky_tmp, "remotevirt-%d" % VICTIM))


# -- 4. the files in it ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe{}",  # not UTF-8
        b"[" + b"1" * 5000 + b"]",  # an integer beyond Python's digit limit
        b"\0" * 4096,
        b'{"version": 1, "entries": ' + b"[" * 100000,
        b"",
    ],
)
def test_weird_cache_files_are_no_cache(tmp_path, content):
    path = tmp_path / "cache.json"
    path.write_bytes(content)
    path.chmod(0o600)
    assert locks.read_private_json(str(path)) is None


def test_a_sparse_file_just_over_the_limit_is_not_read(tmp_path):
    path = tmp_path / "cache.json"
    with open(path, "wb") as out:
        out.truncate(locks._MAX_JSON_SIZE + 1)
    path.chmod(0o600)
    assert locks.read_private_json(str(path)) is None


def test_two_writers_with_one_pid_number_never_leave_a_torn_cache(tmp_path, monkeypatch):
    """Two processes with the same pid in different PID namespaces (containers sharing the user's
    home) write one cache at once: B writes whole while A's file is aside; each file aside is its
    writer's own, so what is left in place is one of the two values, whole, and nothing aside."""
    directory = tmp_path / "locks"
    directory.mkdir(mode=0o700)
    path = str(directory / "kvm-probe-x.json")
    b_value = {"key": "b", "works": True, "detail": "x" * 1000}
    real_replace = os.replace

    def b_writes_between(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
        monkeypatch.setattr(os, "replace", real_replace)
        assert locks.write_private_json(path, b_value)  # process B, start to end
        return real_replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(os, "getpid", lambda: 4242)  # both
    monkeypatch.setattr(os, "replace", b_writes_between)
    a_value = {"key": "a", "works": False, "detail": ""}
    assert locks.write_private_json(path, a_value)
    assert locks.read_private_json(path) == a_value
    assert os.listdir(str(directory)) == ["kvm-probe-x.json"]


def test_a_lock_directory_that_is_a_file_is_a_clear_lock_error(tmp_path, monkeypatch):
    place = tmp_path / "locks"
    place.write_text("")
    monkeypatch.setattr(locks, "lock_dir", lambda: str(place))
    with pytest.raises(locks.LockError, match="not a directory"):
        with locks.held([KEY], timeout=1):
            pass
    assert usage.cache_path("x") is None


def test_check_mode_and_real_run_agree_when_the_lock_directory_cannot_be_made(world, monkeypatch):
    """A user without a home of its own where the shared temporary directory is not theirs to
    write in (a read-only or locked-down /tmp): the real run cannot make its lock directory, and
    check mode says so too instead of predicting success."""
    closed = os.path.join(world, "closed")
    os.mkdir(closed, 0o755)
    monkeypatch.setattr(code_store, "SHARED_TEMPORARY", closed)

    def attempt(check_mode):
        def run():
            with runtime.changing("qemu:///system", ["volume p/v"], 1, check_mode):
                return "ok"

        return as_victim(run, {})

    real, check = attempt(False), attempt(True)
    assert real[0] == check[0] == "raised"
    assert "cannot make lock directory" in real[1] and "cannot make lock directory" in check[1]
    assert not os.listdir(closed)


def test_check_mode_makes_no_lock_directory(world, monkeypatch, sticky_tmp):
    def run():
        with runtime.changing("qemu:///system", ["volume p/v"], 1, True):
            return os.listdir(sticky_tmp)

    assert as_victim(run, {}) == ("ok", [])

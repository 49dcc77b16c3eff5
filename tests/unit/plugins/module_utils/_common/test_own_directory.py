"""Directories root's files go into: only root's own, which nobody else may write."""

from __future__ import annotations

import os

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import own_directory
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import (
    foreign_directory_problem,
    own_directory_problem,
    untrusted_path_problem,
)


def test_a_directory_of_its_own_is_fine_and_a_missing_one_is_left_to_the_caller(tmp_path):
    own = tmp_path / "own"
    own.mkdir(mode=0o711)
    os.chmod(own, 0o711)
    assert foreign_directory_problem(str(own), "install.boot_dir") is None
    assert foreign_directory_problem(str(tmp_path / "missing"), "install.boot_dir") is None


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777, 0o757])
def test_a_directory_others_may_write_is_refused_with_its_mode(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    problem = foreign_directory_problem(str(shared), "serial_log: directory")
    assert problem is not None
    assert "can be written by its group or by others (mode %04o)" % mode in problem


def test_a_link_to_a_directory_is_no_directory_of_its_own(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert "is not a directory" in (foreign_directory_problem(str(tmp_path / "link"), "install.boot_dir") or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_directory_another_user_owns_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert "is owned by uid 65534" in (foreign_directory_problem(str(theirs), "target_path") or "")


def test_a_path_through_a_directory_everyone_may_write_is_untrusted_unless_sticky(tmp_path):
    """Anyone may rename what is in a directory everyone may write, unless its sticky bit is set
    (as on /tmp): then only what they own."""
    open_dir = tmp_path / "open"
    (open_dir / "boot").mkdir(parents=True)
    os.chmod(open_dir, 0o777)
    problem = untrusted_path_problem(str(open_dir / "boot"), "install.boot_dir")
    assert problem == "install.boot_dir %s: %s on the way can be written by everyone, who could put something else at %s" % (
        open_dir / "boot",
        open_dir,
        open_dir / "boot",
    )
    os.chmod(open_dir, 0o1777)
    assert untrusted_path_problem(str(open_dir / "boot"), "install.boot_dir") is None
    assert untrusted_path_problem(str(open_dir / "missing" / "boot"), "install.boot_dir") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_path_through_a_directory_or_link_of_another_user_is_untrusted(tmp_path):
    theirs = tmp_path / "theirs"
    (theirs / "logs").mkdir(parents=True)
    os.chown(theirs, 65534, 65534)
    assert "%s on the way belongs to uid 65534" % theirs in (
        untrusted_path_problem(str(theirs / "logs"), "serial_log: directory") or ""
    )
    own = tmp_path / "own"
    own.mkdir()
    link = tmp_path / "link"
    link.symlink_to(own)
    os.lchown(link, 65534, 65534)
    assert "%s on the way belongs to uid 65534" % link in (untrusted_path_problem(str(link), "target_path") or "")


def test_a_directory_everyone_may_write_reached_through_a_link_is_judged_where_the_link_leads(tmp_path):
    """The spelling through the link names the link's target as the parent written in."""
    open_dir = tmp_path / "open"
    (open_dir / "boot").mkdir(parents=True)
    os.chmod(open_dir, 0o777)
    (tmp_path / "way").symlink_to(open_dir)
    problem = untrusted_path_problem(str(tmp_path / "way" / "boot"), "install.boot_dir") or ""
    assert "on the way can be written by everyone" in problem


def test_own_directory_problem_judges_the_way_and_the_directory(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    os.chmod(own, 0o755)
    assert own_directory_problem(str(own), "boot_dir") is None
    assert own_directory_problem(str(tmp_path / "missing"), "boot_dir") is None
    os.chmod(own, 0o775)
    assert "can be written by its group or by others" in (own_directory_problem(str(own), "boot_dir") or "")
    os.chmod(own, 0o755)
    (own / "inner").mkdir()
    os.chmod(own, 0o777)
    assert "on the way can be written by everyone" in (own_directory_problem(str(own / "inner"), "boot_dir") or "")


@pytest.mark.parametrize("pool_type", ["dir", "fs", "netfs"])
def test_a_pools_directory_is_judged_by_its_way_its_mode_and_but_for_netfs_its_owner(tmp_path, pool_type):
    directory = tmp_path / "pool"
    directory.mkdir()
    assert own_directory.pool_directory_problem(str(directory), pool_type, "pool p") is None
    os.chown(directory, 65534, 65534)  # an export squashing root to the user libvirt writes as
    owner_problem = own_directory.pool_directory_problem(str(directory), pool_type, "pool p")
    assert (owner_problem is None) == (pool_type == "netfs")
    os.chown(directory, 0, 0)
    os.chmod(directory, 0o777)
    assert "can be written by its group or by others (mode 0777)" in own_directory.pool_directory_problem(
        str(directory), pool_type, "pool p"
    )
    assert own_directory.pool_directory_problem(str(tmp_path / "missing"), pool_type, "pool p") is None


@pytest.mark.parametrize("pool_type", ["dir", "fs", "netfs"])
def test_a_pools_target_is_judged_alike_when_planned_and_after_the_build(tmp_path, pool_type):
    """A mount point's owner and mode are the mounted file system's once the pool starts: only a
    dir pool's directory is refused for them, when planned and again after the build alike."""
    directory = tmp_path / "pool"
    directory.mkdir()
    assert own_directory.pool_target_problem(str(directory), pool_type, "target_path") is None
    os.chown(directory, 65534, 65534)
    os.chmod(directory, 0o777)
    problem = own_directory.pool_target_problem(str(directory), pool_type, "target_path")
    assert (problem is None) == (pool_type != "dir")
    os.chmod(tmp_path, 0o777)  # the way to it: everyone may rename it
    assert "on the way can be written by everyone" in (own_directory.pool_target_problem(str(directory), pool_type, "x") or "")
    os.chmod(tmp_path, 0o755)


@pytest.mark.parametrize("pool_type", ["fs", "netfs"])
def test_a_mount_point_is_judged_where_roots_link_leads(tmp_path, pool_type):
    """Root's link to a directory in another user's: they could rename it away and put a link to /etc
    there before the pool mounts its file system over it."""
    theirs = tmp_path / "theirs"
    (theirs / "mnt").mkdir(parents=True)
    os.chown(theirs, 65534, 65534)
    link = tmp_path / "pool"
    link.symlink_to(theirs / "mnt")
    assert "belongs to uid 65534" in (own_directory.pool_target_problem(str(link), pool_type, "target_path") or "")
    os.chown(theirs, 0, 0)
    os.chmod(theirs, 0o777)  # everyone may write it, no sticky bit
    assert "can be written by everyone" in (own_directory.pool_target_problem(str(link), pool_type, "target_path") or "")
    os.chmod(theirs, 0o755)
    assert own_directory.pool_target_problem(str(link), pool_type, "target_path") is None


def test_a_netfs_mount_point_that_is_another_users_link_is_refused(tmp_path):
    (tmp_path / "mnt").mkdir()
    link = tmp_path / "pool"
    link.symlink_to(tmp_path / "mnt")
    os.lchown(link, 65534, 65534)
    assert "is a symbolic link of uid 65534" in own_directory.way_problem(str(link), "target_path")

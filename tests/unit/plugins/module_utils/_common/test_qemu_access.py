# -*- coding: utf-8 -*-
"""Whether QEMU's user may reach a file: judged on real directories, links and access control lists."""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common import qemu_access
from ansible_collections.remotevirt.install.plugins.module_utils._common.qemu_access import (
    closed_directory,
    directories_searched,
    unopenable_file,
)

QEMU = (64055, 64055)


@pytest.fixture
def open_dir():
    """A directory every user may enter, and the way to it (pytest's own directories are private)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="rv-enter-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def _tree(top, *modes):
    """Nested directories d0/d1/... under ``top`` with ``modes``."""
    directory = top
    for index, mode in enumerate(modes):
        directory = directory / ("d%d" % index)
        directory.mkdir()
        os.chmod(directory, mode)
    return directory


def _set_acl(path, *entries):
    """Entries (tag, permissions, id) as the kernel stores them; skips where the file system has none."""
    raw = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", raw)
    except OSError as error:
        pytest.skip("no access control lists on /var/tmp here: %s" % error)


ANY = 0xFFFFFFFF
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


# -- the directories the kernel searches ------------------------------------------------------------


def test_a_plain_path_searches_each_directory_on_its_way(open_dir):
    boot = _tree(open_dir, 0o755)
    assert directories_searched(str(boot / "disk.img")) == ["/", "/var", "/var/tmp", str(open_dir), str(boot)]


def test_a_link_is_followed_hop_by_hop_through_the_directory_of_each_hop(open_dir):
    """open/chain.img -> closed/hop.img -> open/disk.img: the kernel searches closed/ on the way,
    though the file is in open/ (a realpath alone never sees it)."""
    closed = _tree(open_dir, 0o700)
    (open_dir / "disk.img").write_bytes(b"")
    (closed / "hop.img").symlink_to(open_dir / "disk.img")
    (open_dir / "chain.img").symlink_to(closed / "hop.img")
    assert str(closed) in directories_searched(str(open_dir / "chain.img"))
    found = closed_directory(str(open_dir / "chain.img"), *QEMU)
    assert found is not None and found.path == str(closed)


def test_a_link_target_through_a_closed_directory_and_back_is_judged(open_dir):
    """open/dotlink -> d0/..: the kernel looks up ".." in d0, so it must enter it."""
    closed = _tree(open_dir, 0o700)
    (open_dir / "dotlink").symlink_to("%s/.." % closed.name)
    assert os.path.realpath(str(open_dir / "dotlink")) == str(open_dir)
    found = closed_directory(str(open_dir / "dotlink" / "disk.img"), *QEMU)
    assert found is not None and found.path == str(closed)


def test_a_looping_link_ends_the_walk(open_dir):
    (open_dir / "a").symlink_to(open_dir / "b")
    (open_dir / "b").symlink_to(open_dir / "a")
    assert directories_searched(str(open_dir / "a")) == ["/", "/var", "/var/tmp", str(open_dir)]
    assert closed_directory(str(open_dir / "a"), *QEMU) is None


@given(st.text(max_size=60))
def test_any_path_is_walked_without_an_error(path):
    """NUL, control characters, "..", unicode: the walk ends where the kernel would, never raises."""
    searched = directories_searched(path)
    assert all(os.path.isabs(directory) for directory in searched)


# -- directories QEMU's user may enter --------------------------------------------------------------


def test_a_directory_closed_to_others_on_the_way_is_named(open_dir):
    boot = _tree(open_dir, 0o755, 0o700, 0o711)
    closed = closed_directory(str(boot / "disk.img"), *QEMU)
    assert str(closed) == "%s (mode 0700, owner uid 0, group gid 0)" % (open_dir / "d0" / "d1")
    assert closed.remedy == "chmod o+x %s" % (open_dir / "d0" / "d1")


def test_directories_anyone_may_enter_and_missing_ones_are_fine(open_dir):
    boot = _tree(open_dir, 0o711, 0o751)
    assert closed_directory(os.path.join(str(boot / "new" / "boot"), "."), *QEMU) is None


def test_the_group_qemu_runs_with_may_enter_and_is_told_its_own_bits(open_dir):
    boot = _tree(open_dir, 0o750)
    os.chown(boot, 0, QEMU[1])
    assert closed_directory(os.path.join(str(boot), "."), *QEMU) is None
    os.chmod(boot, 0o705)  # the group's bits count for its members, not the others'
    closed = closed_directory(os.path.join(str(boot), "."), *QEMU)
    assert closed.path == str(boot) and closed.remedy == "chmod g+x %s" % boot


def test_the_owner_bits_count_for_qemus_user(open_dir):
    boot = _tree(open_dir, 0o700)
    os.chown(boot, QEMU[0], 0)
    assert closed_directory(os.path.join(str(boot), "."), *QEMU) is None
    os.chmod(boot, 0o071)  # o+x would not help its owner
    assert closed_directory(os.path.join(str(boot), "."), *QEMU).remedy == "chmod u+x %s" % boot


def test_where_a_link_leads_is_judged_too(open_dir):
    closed = _tree(open_dir, 0o700)
    (closed / "boot").mkdir()
    (open_dir / "link").symlink_to(closed / "boot")
    assert str(closed_directory(os.path.join(str(open_dir / "link"), "."), *QEMU)).startswith("%s (mode 0700" % closed)


def test_root_enters_every_directory(open_dir):
    assert closed_directory(os.path.join(str(_tree(open_dir, 0o700)), "."), 0, 0) is None


def test_an_access_control_list_entry_for_qemus_user_lets_it_enter(open_dir):
    boot = _tree(open_dir, 0o700)
    _set_acl(boot, (USER_OBJ, 7, ANY), (USER, 1, QEMU[0]), (GROUP_OBJ, 0, ANY), (MASK, 1, ANY), (OTHER, 0, ANY))
    assert closed_directory(os.path.join(str(boot), "."), *QEMU) is None


def test_an_access_control_list_for_someone_else_keeps_qemus_user_out(open_dir):
    """0700 with an entry for nobody only: libvirt's start failed on such a directory."""
    boot = _tree(open_dir, 0o700)
    _set_acl(boot, (USER_OBJ, 7, ANY), (USER, 5, 65534), (GROUP_OBJ, 0, ANY), (MASK, 5, ANY), (OTHER, 0, ANY))
    closed = closed_directory(os.path.join(str(boot), "."), *QEMU)
    assert closed.path == str(boot) and "with an access control list" in str(closed)
    assert closed.remedy == "setfacl -m u:64055:x %s" % boot


def test_the_mask_limits_a_named_entry_and_a_group_entry(open_dir):
    boot = _tree(open_dir, 0o700)
    _set_acl(boot, (USER_OBJ, 7, ANY), (USER, 1, QEMU[0]), (GROUP_OBJ, 0, ANY), (MASK, 4, ANY), (OTHER, 1, ANY))
    assert closed_directory(os.path.join(str(boot), "."), *QEMU) is not None  # the others' entry does not count for a named user
    _set_acl(boot, (USER_OBJ, 7, ANY), (GROUP_OBJ, 0, ANY), (GROUP, 1, QEMU[1]), (MASK, 1, ANY), (OTHER, 0, ANY))
    assert closed_directory(os.path.join(str(boot), "."), *QEMU) is None


def test_a_directory_without_an_access_control_list_has_none(open_dir):
    assert qemu_access._acl_of(str(open_dir)) is None


# -- the file itself --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, write, refused",
    [
        (0o600, True, False),
        (0o444, True, True),
        (0o444, False, False),
        (0o000, False, True),
        (0o066, True, True),
        (0o006, False, True),
    ],
)
def test_a_file_its_new_owner_may_not_open_is_told(open_dir, mode, write, refused):
    """libvirt makes QEMU's user the file's owner and keeps its mode: the owner's bits decide, what
    the group's or others' would allow counts no more."""
    image = open_dir / "disk.img"
    image.write_bytes(b"")
    os.chmod(image, mode)
    problem = unopenable_file(str(image), *QEMU, write=write, owner_changed=True)
    assert (problem is not None) is refused
    if refused:
        assert problem.text.startswith("mode %04o, owner uid 0: QEMU's user, its owner while the guest runs," % mode)
        assert problem.remedy == "chmod u+%s %s" % ("rw" if write else "r", image)


def test_a_file_whose_owner_stays_is_judged_as_it_is(open_dir):
    """A qcow2 data file, or any file with dynamic_ownership off: QEMU's user opens it as it is."""
    image = open_dir / "data.raw"
    image.write_bytes(b"")
    os.chmod(image, 0o644)
    problem = unopenable_file(str(image), *QEMU, write=True, owner_changed=False)
    assert "may not read and write it" in problem.text and problem.remedy == "setfacl -m u:64055:rw %s" % image
    assert unopenable_file(str(image), *QEMU, write=False, owner_changed=False) is None
    os.chmod(image, 0o066)
    assert unopenable_file(str(image), *QEMU, write=True, owner_changed=False) is None
    assert unopenable_file(str(open_dir / "missing.img"), *QEMU, write=True, owner_changed=False) is None


def test_on_a_read_only_file_system_the_owner_stays(open_dir, monkeypatch):
    """libvirt's change of owner fails there (and libvirt goes on): a 0600 root ISO stays closed."""
    image = open_dir / "install.iso"
    image.write_bytes(b"")
    os.chmod(image, 0o600)
    assert unopenable_file(str(image), *QEMU, write=False, owner_changed=True) is None
    real_statvfs = os.statvfs

    def read_only(path):
        values = real_statvfs(path)
        return os.statvfs_result(tuple(values[:8]) + (values.f_flag | os.ST_RDONLY,) + tuple(values[9:]))

    monkeypatch.setattr(os, "statvfs", read_only)
    problem = unopenable_file(str(image), *QEMU, write=False, owner_changed=True)
    assert "on a read-only file system" in problem.text
    assert problem.remedy == "copy it where libvirt may change its owner, such as a storage pool"  # chmod would fail there
    written = unopenable_file(str(image), *QEMU, write=True, owner_changed=False)
    assert written.text == "it is on a read-only file system, where QEMU could not write it"


def test_an_immutable_file_keeps_its_owner(open_dir):
    """libvirt's change of owner fails on it (and libvirt goes on): a 0400 root golden image stays closed."""
    image = open_dir / "golden.img"
    image.write_bytes(b"")
    os.chmod(image, 0o400)
    assert unopenable_file(str(image), *QEMU, write=False, owner_changed=True) is None
    if subprocess.run(["chattr", "+i", str(image)], capture_output=True, check=False).returncode:
        pytest.skip("no immutable files on /var/tmp here")
    try:
        problem = unopenable_file(str(image), *QEMU, write=False, owner_changed=True)
        assert "on an immutable file" in problem.text and problem.remedy == "chattr -i %s" % image
        written = unopenable_file(str(image), *QEMU, write=True, owner_changed=False)
        assert written.text == "an immutable file, which QEMU could not write"
    finally:
        subprocess.run(["chattr", "-i", str(image)], check=True)


def test_an_append_only_file_keeps_its_owner_and_is_never_written(open_dir):
    image = open_dir / "golden.img"
    image.write_bytes(b"")
    os.chmod(image, 0o400)
    if subprocess.run(["chattr", "+a", str(image)], capture_output=True, check=False).returncode:
        pytest.skip("no append-only files on /var/tmp here")
    try:
        problem = unopenable_file(str(image), *QEMU, write=False, owner_changed=True)
        assert "on an append-only file" in problem.text and problem.remedy == "chattr -a %s" % image
        assert unopenable_file(str(image), *QEMU, write=True, owner_changed=True).remedy == "chattr -a %s" % image
    finally:
        subprocess.run(["chattr", "-a", str(image)], check=True)


@pytest.mark.parametrize(
    "text, changes",
    [
        ("", True),
        ("#dynamic_ownership = 0\n", True),
        ("dynamic_ownership = 0\n", False),
        ("  dynamic_ownership=1\n", True),
        ("dynamic_ownership = 00\n", False),
        ("dynamic_ownership = +0\n", False),
        ("dynamic_ownership = 0\ndynamic_ownership = 1\n", False),  # libvirt reads the first
        ('user = "qemu"; dynamic_ownership = 0\n', False),
        ("security_driver = 'none' # dynamic_ownership = 0\n", True),
    ],
)
def test_whether_libvirt_changes_owners_is_read_from_its_configuration(tmp_path, text, changes):
    config = tmp_path / "qemu.conf"
    config.write_text(text)
    assert qemu_access.libvirt_changes_owners(str(config)) is changes
    assert qemu_access.libvirt_changes_owners(str(tmp_path / "missing.conf")) is True

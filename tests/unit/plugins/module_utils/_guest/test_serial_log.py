"""A serial log is never among the host's files, a pool's volume or another guest's file."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._guest.host_clashes import libvirt_log_of
from ansible_collections.remotevirt.install.plugins.module_utils._guest.serial_log import (
    existing_file_problem,
    file_problem,
    own_file_problem,
    place_problem,
)

DOMAIN = """<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os>
<devices><disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk></devices></domain>"""


@pytest.mark.parametrize(
    "path",
    [
        "/etc/shadow",
        "/etc/cron.d/guest",
        "/root/.ssh/authorized_keys",
        "/usr/bin/guest",
        "/var/lib/dpkg/status",
        "/var/spool/cron/crontabs/root",
        "/run/guest.log",
        "//etc/./cron.d/guest",
        "/guest.log",
        "/var/guest.log",
        "/home/guest.log",
    ],
)
def test_logs_among_the_host_files_are_refused(path):
    assert "among the host's own files" in place_problem(path)


@pytest.mark.parametrize(
    "path", ["/var/log/libvirt/qemu/g-serial.log", "/var/log/guests/g.log", "/srv/logs/g.log", "/tmp/x/g.log"]
)
def test_logs_in_directories_of_logs_are_accepted(path):
    assert place_problem(path) == ""


def test_a_directory_that_leads_into_the_host_files_is_refused(tmp_path):
    (tmp_path / "logs").symlink_to("/etc/cron.d")
    assert "through a link or mount to /etc/cron.d" in place_problem(str(tmp_path / "logs" / "guest"))


def test_a_new_file_is_no_problem(test_client, tmp_path):
    assert file_problem(test_client, str(tmp_path / "new.log"), "g") == ""


def test_a_link_is_judged_by_the_file_it_leads_to(test_client, tmp_path):
    (tmp_path / "g.log").symlink_to("/etc/passwd")
    assert "one of the host's own files" in file_problem(test_client, str(tmp_path / "g.log"), "g")


def test_a_directory_is_refused(test_client, tmp_path):
    assert "not a regular file" in file_problem(test_client, str(tmp_path), "g")


def test_a_file_in_a_pool_directory_is_refused(test_client, tmp_path, unique_name):
    name = unique_name("")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path)
    )
    try:
        (tmp_path / "disk.qcow2").write_bytes(b"")
        assert "storage pool %s's directory" % name in file_problem(test_client, str(tmp_path / "disk.qcow2"), "g")
        assert "storage pool %s's directory" % name in file_problem(test_client, str(tmp_path / "new.log"), "g")
    finally:
        pool.undefine()


def test_another_guests_disk_is_refused_and_the_guests_own_is_not(test_client, tmp_path, unique_name):
    name = unique_name("")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    domain = test_client.conn.defineXML(DOMAIN % (name, disk))
    try:
        assert "guest %s uses" % name in file_problem(test_client, str(disk), "someone-else")
        assert file_problem(test_client, str(disk), name) == ""
    finally:
        domain.undefine()


def test_a_directory_bind_mounted_from_the_host_files_is_refused(tmp_path, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files

    mounts = [
        host_files.Mount(point="/", root="/", device="254:0", fs_type="ext4"),
        host_files.Mount(point=str(tmp_path), root="/usr/bin", device="254:0", fs_type="ext4"),
    ]
    monkeypatch.setattr(host_files, "_mounts", lambda: iter(mounts))
    assert "through a link or mount to /usr/bin" in place_problem(str(tmp_path / "guest.log"))


def test_a_log_that_is_the_guests_own_disk_through_a_link_or_a_hard_link_is_refused(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 512)
    (tmp_path / "linked").symlink_to(tmp_path)
    (tmp_path / "hard.img").hardlink_to(disk)
    own = [("disks[0]", str(disk))]
    for log in (tmp_path / "linked" / "disk.img", tmp_path / "hard.img", disk):
        assert "is the file of disks[0] of this guest" in own_file_problem(str(log), own)
    assert own_file_problem(str(tmp_path / "other.log"), own) == ""
    assert own_file_problem(str(tmp_path / "new.log"), [("install.cdrom", str(tmp_path / "missing.iso"))]) == ""


@pytest.mark.parametrize(
    "uri, log",
    [
        ("qemu:///system", "/var/log/libvirt/qemu/g.log"),
        ("qemu+ssh://root@hv1/system?keyfile=/k", "/var/log/libvirt/qemu/g.log"),
        ("QEMU+TLS://hv1:16514/system", "/var/log/libvirt/qemu/g.log"),
        ("qemu:///session", None),
        ("test:///default", None),
    ],
)
def test_libvirt_keeps_its_own_log_of_each_guest_of_the_system_qemu_daemon(uri, log):
    assert libvirt_log_of(uri, "g") == log


def test_a_file_that_holds_lines_or_a_rotated_name_taken_is_refused_as_a_new_log(tmp_path):
    log = tmp_path / "app.log"
    assert existing_file_problem(str(log)) == ""  # not there yet
    log.write_text("")
    assert existing_file_problem(str(log)) == ""  # made ready for the log, empty
    (tmp_path / "link.log").symlink_to(tmp_path / "nowhere.log")
    assert existing_file_problem(str(tmp_path / "link.log")) == ""  # the log is made where the link leads
    log.write_text("lines\n")
    assert existing_file_problem(str(log)).startswith("serial_log: %s holds 6 bytes already and is no log of this guest" % log)
    (tmp_path / "to-app.log").symlink_to(log)
    assert "holds 6 bytes" in existing_file_problem(str(tmp_path / "to-app.log"))
    (tmp_path / "new.log.1").mkdir()
    taken = "serial_log: %s is there already" % (tmp_path / "new.log.1")
    assert existing_file_problem(str(tmp_path / "new.log")).startswith(taken)

"""virt_pool's runner on libvirt's test driver: the cycle check -> real -> re-run -> check, the
refusals that need the host's guests, and rollback of a failed action."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import changing
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition
from ansible_collections.remotevirt.install.plugins.module_utils._pool import runner
from ansible_collections.remotevirt.install.plugins.module_utils._pool.handlers import PoolHandlers
from ansible_collections.remotevirt.install.plugins.modules.virt_pool import argument_spec


def params(**overrides):
    base = {name: option.get("default") for name, option in argument_spec().items()}
    base.update(uri="test:///default", **overrides)
    return base


def test_cycle_check_real_rerun_check(test_client, unique_name, tmp_path):
    args = params(name=unique_name(""), type="dir", target_path=str(tmp_path / "p"), autostart=True)
    check = runner.run(args, True, True)
    real = runner.run(args, False, True)
    assert check["changed"] and real["changed"] and check["plan"] == real["plan"]
    assert [a["action"] for a in real["plan"]] == ["define", "build", "start", "autostart"]
    assert check["diff"]["after"] == real["diff"]["after"]
    assert real["pool"]["active"] and real["pool"]["autostart"] and real["pool"]["uuid"]
    assert {k: v for k, v in check["pool"].items() if k not in ("uuid", "capacity", "allocation", "available")} == {
        k: v for k, v in real["pool"].items() if k not in ("uuid", "capacity", "allocation", "available")
    }
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    def unexpected(_client):
        raise AssertionError("the other pools were read for a run that changes nothing")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "all_pools", unexpected)
        again = runner.run(args, False, False)
        after = runner.run(args, True, False)
    assert not again["changed"] and again["plan"] == [] and not after["changed"]
    removed = runner.run(params(name=args["name"], state="absent"), False, False)
    assert [a["action"] for a in removed["plan"]] == ["stop", "undefine"]
    assert test_client.find_pool(args["name"]) is None


@pytest.mark.parametrize("spelling", ["{dir}/./p", "{dir}//p", "{dir}/p/", "{dir}/p/."])
def test_another_spelling_of_the_target_path_changes_nothing(test_client, unique_name, tmp_path, spelling):
    args = params(name=unique_name(""), type="dir", target_path=str(tmp_path / "p"))
    runner.run(args, False, False)
    again = dict(args, target_path=spelling.format(dir=tmp_path))
    for check_mode in (True, False):
        assert runner.run(again, check_mode, False)["plan"] == []
    runner.run(params(name=args["name"], state="absent"), False, False)


def test_inactive_pool_is_redefined_in_place(test_client, unique_name):
    name = unique_name("")
    runner.run(params(name=name, type="dir", target_path="/srv/a", state="inactive"), False, False)
    moved = runner.run(params(name=name, type="dir", target_path="/srv/b", state="inactive"), False, True)
    assert [a["action"] for a in moved["plan"]] == ["define", "build"]
    assert moved["pool"]["target_path"] == "/srv/b" and not moved["pool"]["active"]
    assert "/srv/a" in moved["diff"]["before"] and "/srv/b" in moved["diff"]["after"]
    runner.run(params(name=name, state="absent"), False, False)


def test_check_mode_predicts_no_sizes_for_storage_the_run_changes(test_client, unique_name, tmp_path):
    """An active pool moved to another directory, or recreated as another type, has the new
    storage's sizes once the run is over: check mode does not show the old ones, nor the old uuid
    of a pool that is defined anew."""
    name = unique_name("")
    runner.run(params(name=name, type="dir", target_path=str(tmp_path)), False, False)
    kept = runner.run(params(name=name, type="dir", target_path=str(tmp_path), autostart=True), True, False)
    assert kept["pool"]["capacity"] is not None and kept["pool"]["uuid"]
    moved = runner.run(params(name=name, type="dir", target_path=str(tmp_path / "b"), recreate=True), True, False)
    assert moved["pool"]["capacity"] is None and moved["pool"]["uuid"]
    retyped = params(
        name=name, type="netfs", source_host="nas.example", source_path="/export", target_path=str(tmp_path), recreate=True
    )
    check = runner.run(retyped, True, False)
    assert check["pool"]["capacity"] is None and check["pool"]["uuid"] is None
    real = runner.run(retyped, False, False)
    assert real["pool"]["uuid"] and real["plan"] == check["plan"]
    runner.run(params(name=name, state="absent"), False, False)


def test_guests_using_the_pool_are_named(test_client, unique_name):
    name = unique_name("")
    runner.run(params(name=name, type="dir", target_path="/srv/" + name), False, False)
    pool = test_client.find_pool(name)
    pool.createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    guest = test_client.conn.defineXML(
        "<domain type='test'><name>%s-guest</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='volume' device='disk'><source pool='%s' volume='d.img'/><target dev='vda'/></disk></devices></domain>"
        % (name, name)
    )
    try:
        with pytest.raises(RunError) as refused:
            runner.run(params(name=name, state="absent", delete_volumes=True), True, False)
        assert "volumes are used by guests: %s-guest" % name in str(refused.value)
        guest.create()
        with pytest.raises(RunError) as refused:
            runner.run(params(name=name, state="inactive"), False, False)
        assert "running guests use its volumes: %s-guest" % name in str(refused.value)
        assert test_client.pool_is_active(pool)
    finally:
        if guest.isActive():
            guest.destroy()
        guest.undefine()
    removed = runner.run(params(name=name, state="absent", delete_volumes=True), False, False)
    assert [a["action"] for a in removed["plan"]] == ["delete-volume", "stop", "delete", "undefine"]
    assert test_client.find_pool(name) is None


def test_failed_start_undefines_the_new_pool(test_client, unique_name, monkeypatch):
    name = unique_name("")

    def broken_start(self, action):
        raise RuntimeError("no such directory")

    monkeypatch.setattr(PoolHandlers, "start", broken_start)
    with pytest.raises(RunError) as failed:
        runner.run(params(name=name, type="dir", target_path="/srv/" + name), False, False)
    assert "start pool %s failed: no such directory (rolled back: define %s)" % (name, name) in str(failed.value)
    assert not failed.value.changed
    assert test_client.find_pool(name) is None


def test_xml_is_compared_like_options(test_client, unique_name):
    name = unique_name("")
    xml = "<pool type='dir'>\n  <name>%s</name>\n  <target>\n    <path>/srv/x/</path>\n  </target>\n</pool>\n" % name
    first = runner.run(params(name=name, xml=xml), False, False)
    assert first["changed"]
    assert not runner.run(params(name=name, xml=xml), False, False)["changed"]
    assert not runner.run(params(name=name, type="dir", target_path="/srv/x"), True, False)["changed"]
    runner.run(params(name=name, state="absent"), False, False)


# -- pools a run stopped between their define and their build -----------------------------------
def test_a_missing_directory_needs_the_build_of_a_directory_pool_and_of_a_file_system_pool(tmp_path):
    for pool_type in ("dir", "netfs", "fs"):
        definition = PoolDefinition(type=pool_type, name="p", target_path=str(tmp_path / "missing"))
        assert runner._unbuilt(definition)
        assert not runner._unbuilt(definition.with_changes(target_path=str(tmp_path)))


@pytest.mark.parametrize("device", ["/nonexistent/dev", "/dev/null", "relative"])
def test_only_a_block_device_can_be_told_to_hold_nothing(device, tmp_path):
    assert not runner._holds_nothing(device)
    assert not runner._unbuilt(PoolDefinition(type="logical", name="vg", source_devices=(device,)))
    assert not runner._unbuilt(PoolDefinition(type="fs", name="p", target_path=str(tmp_path), source_devices=(device,)))


# -- devices the host uses -------------------------------------------------------------------
def test_only_new_pools_or_new_devices_are_checked_against_the_hosts_use():
    fs = PoolDefinition(type="fs", name="p", target_path="/srv/p", source_devices=("/dev/vdb",))
    assert runner._devices_may_change(fs, None)
    assert not runner._devices_may_change(fs, fs)  # an active fs pool mounts its own device
    assert runner._devices_may_change(fs, fs.with_changes(source_devices=("/dev/vdc",)))
    assert not runner._devices_may_change(PoolDefinition(type="dir", name="d", target_path="/srv/d"), None)


def test_the_device_of_a_mounted_file_system_is_refused(monkeypatch):
    # The device numbers of '/' (whatever its kind) stand in for a block device node of them.

    root = os.stat("/").st_dev
    real_stat = os.stat

    def block_device_of_root(path, *args, **kwargs):
        if path == "/dev/rvtest-root":
            return _Block(root)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", block_device_of_root)
    for pool_type in ("fs", "logical"):
        definition = PoolDefinition(type=pool_type, name="p", target_path="/srv/p", source_devices=("/dev/rvtest-root",))
        with pytest.raises(PlanError, match="source_devices: /dev/rvtest-root holds the host's mounted file systems \\(/"):
            runner._refuse_devices_in_use(definition)


def test_the_rebuild_of_a_pool_never_takes_a_device_the_host_uses(monkeypatch):
    # A device under a mapping without a signature of its own (plain dm-crypt) holds nothing blkid
    # knows: the re-run's build would format what the mapping holds.

    root = os.stat("/").st_dev
    real_stat = os.stat
    monkeypatch.setattr(
        os, "stat", lambda path, *a, **k: _Block(root) if path == "/dev/rvtest-root" else real_stat(path, *a, **k)
    )
    monkeypatch.setattr(runner, "_holds_nothing", lambda device: True)
    for pool_type in ("fs", "logical"):
        definition = PoolDefinition(type=pool_type, name="p", target_path="/", source_devices=("/dev/rvtest-root",))
        with pytest.raises(PlanError, match="source_devices: /dev/rvtest-root holds the host's mounted file systems"):
            runner._unbuilt_free(definition)
    monkeypatch.setattr(runner, "_holds_nothing", lambda device: False)
    assert not runner._unbuilt_free(PoolDefinition(type="logical", name="p", source_devices=("/dev/rvtest-root",)))


class _Block:
    """What os.stat says of a block device node with the device number ``rdev``."""

    def __init__(self, rdev):
        import stat

        self.st_mode = stat.S_IFBLK | 0o600
        self.st_rdev = rdev


def test_a_logical_pool_given_no_devices_is_judged_by_its_volume_groups_devices(monkeypatch):
    # A logical pool given no source_devices adopts the volume group as it is: the host's own group
    # (root and swap volumes) must be refused like its devices given by name.

    root = os.stat("/").st_dev
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: _Block(root) if path == "/dev/rvtest-pv" else real_stat(path, *a, **k))
    monkeypatch.setattr(runner, "_volume_group_devices", lambda definition: ("/dev/rvtest-pv",))
    adopted = PoolDefinition(type="logical", name="hostvg")
    assert runner._devices_may_change(adopted, None)
    assert runner._devices_may_change(adopted.with_changes(source_name="other"), adopted)
    assert not runner._devices_may_change(adopted, adopted)
    with pytest.raises(PlanError, match="volume group hostvg: its physical volume /dev/rvtest-pv holds the host's mounted"):
        runner._refuse_devices_in_use(adopted)


def test_a_volume_group_lvm_does_not_know_has_no_devices():
    assert runner._volume_group_devices(PoolDefinition(type="logical", name="rvtest-no-such-vg")) == ()
    assert runner._volume_group_devices(PoolDefinition(type="fs", name="p", target_path="/srv/p")) == ()


def test_deleting_a_pools_volumes_waits_for_a_run_that_holds_one_of_them(test_client, unique_name, monkeypatch):
    """A guest run defining a disk on one of the pool's volumes (or a volume run resizing it) holds
    that volume's lock: the pool's removal with delete_volumes waits for it."""
    monkeypatch.setattr(runner, "POOL_LOCK_SECONDS", 0.3)
    name = unique_name("")
    runner.run(params(name=name, type="dir", target_path="/srv/" + name), False, False)
    test_client.find_pool(name).createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    with changing("test:///default", ["guest rtn-b", "volume %s/d.img" % name], 1, check_mode=False):
        with pytest.raises(RunError, match="another run is still changing volume %s/d.img" % name):
            runner.run(params(name=name, state="absent", delete_volumes=True), False, False)
    assert test_client.find_pool(name) is not None
    assert runner.run(params(name=name, state="absent", delete_volumes=True), False, False)["changed"]


def qcow2_naming(path, backing):
    """A qcow2 header naming ``backing`` as backing file (the first bytes image_header reads)."""
    name = str(backing).encode()
    path.write_bytes(struct.pack(">4sIQI", b"QFI\xfb", 3, 64, len(name)) + b"\0" * 44 + name)


@pytest.mark.parametrize("named_as", ["backing file", "data file"])
def test_a_pools_volumes_are_kept_while_files_elsewhere_need_them(test_client, unique_name, tmp_path, named_as):
    """Deleting the volumes of a pool would break an overlay elsewhere whose backing file (or a qcow2
    image whose data file) is one of them: a guest that uses it, or a volume of another pool."""
    name, other, guest_name = unique_name(""), unique_name(""), unique_name("")
    (tmp_path / "pool").mkdir()
    (tmp_path / "other").mkdir()
    runner.run(params(name=name, type="dir", target_path=str(tmp_path / "pool")), False, False)
    test_client.find_pool(name).createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    needed = tmp_path / "pool" / "d.img"
    front = tmp_path / "front.qcow2"
    if named_as == "backing file":
        qcow2_naming(front, needed)
    else:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % needed, str(front), "1M"], check=True)
    guest = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda'/></disk>"
        "</devices></domain>" % (guest_name, front)
    )
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="pool %s's volumes are used by guests: %s;" % (name, guest_name)):
                runner.run(params(name=name, state="absent", delete_volumes=True), check_mode, False)
    finally:
        guest.undefine()
    front.rename(tmp_path / "other" / "front.qcow2")
    runner.run(params(name=other, type="dir", target_path=str(tmp_path / "other")), False, False)
    try:
        with pytest.raises(RunError, match="back volume\\(s\\) of other pools: %s/front.qcow2 \\(their backing" % other):
            runner.run(params(name=name, state="absent", delete_volumes=True), False, False)
    finally:
        runner.run(params(name=other, state="absent"), False, False)
    assert test_client.find_pool(name) is not None
    assert runner.run(params(name=name, state="absent", delete_volumes=True), False, False)["changed"]


def test_a_target_that_leads_to_another_pools_directory_is_refused(test_client, unique_name, tmp_path, monkeypatch):
    """Two pools on one directory list and delete each other's files, also where one names it through a link."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    first, second = unique_name(""), unique_name("")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    runner.run(params(name=first, type="dir", target_path=str(tmp_path / "real")), False, False)
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="is the target of pool %s" % first):
                runner.run(params(name=second, type="dir", target_path=str(tmp_path / "link")), check_mode, False)
    finally:
        runner.run(params(name=first, state="absent"), False, False)
    assert test_client.find_pool(second) is None


def test_an_inactive_pool_whose_directory_now_leads_into_another_pool_is_not_started(
    test_client, unique_name, tmp_path, monkeypatch
):
    """Defined on a directory of its own, which was then replaced by a link into another pool's: started,
    it would list (and delete_volumes delete) the other pool's files. Refused as for a new pool."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    first, second = unique_name(""), unique_name("")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runner.run(params(name=first, type="dir", target_path=str(tmp_path / "a")), False, False)
    runner.run(params(name=second, type="dir", target_path=str(tmp_path / "b"), state="present"), False, False)
    try:
        (tmp_path / "b").rmdir()
        (tmp_path / "b").symlink_to(tmp_path / "a")
        for check_mode in (True, False):
            with pytest.raises(RunError, match="is the target of pool %s" % first):
                runner.run(params(name=second, type="dir", target_path=str(tmp_path / "b")), check_mode, False)
        assert not test_client.pool_is_active(test_client.find_pool(second))
    finally:
        for name in (first, second):
            runner.run(params(name=name, state="absent"), False, False)


def test_an_active_pool_whose_directory_now_leads_into_another_pool_is_not_recreated(
    test_client, unique_name, tmp_path, monkeypatch
):
    """recreate stops, redefines, builds and starts it: the build would set its mode on the other pool's
    directory, and the start list that pool's files as its own. Refused as an inactive one's start is."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    first, second = unique_name(""), unique_name("")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runner.run(params(name=first, type="dir", target_path=str(tmp_path / "a")), False, False)
    runner.run(params(name=second, type="dir", target_path=str(tmp_path / "b")), False, False)
    try:
        (tmp_path / "b").rmdir()
        (tmp_path / "b").symlink_to(tmp_path / "a")
        xml = (
            "<pool type='dir'><name>%s</name><target><path>%s</path><permissions><mode>0711</mode></permissions></target></pool>"
        )
        for check_mode in (True, False):
            with pytest.raises(RunError, match="is the target of pool %s" % first):
                runner.run(params(name=second, recreate=True, xml=xml % (second, tmp_path / "b")), check_mode, False)
        assert test_client.pool_is_active(test_client.find_pool(second))
    finally:
        for name in (first, second):
            runner.run(params(name=name, state="absent"), False, False)


@pytest.mark.parametrize(
    "permissions, refused",
    [
        ("<mode>0777</mode>", "lets the directory's group or others write it"),
        ("<mode>0775</mode>", "lets the directory's group or others write it"),
        ("<mode>4755</mode>", "bits beyond 0777"),
        ("<owner>65534</owner>", "target/permissions/owner 65534 would own the directory"),
        ("<mode>0711</mode><owner>0</owner><group>65534</group>", None),
    ],
)
def test_permissions_that_let_another_user_write_the_directory_are_refused(tmp_path, permissions, refused):
    xml = "<pool type='dir'><name>perm</name><target><path>%s</path><permissions>%s</permissions></target></pool>" % (
        tmp_path / "p",
        permissions,
    )
    if refused is None:
        runner.run(params(name="perm", xml=xml), True, False)
        return
    with pytest.raises(RunError, match=refused):
        runner.run(params(name="perm", xml=xml), True, False)


@pytest.mark.parametrize("active", [True, False])
def test_a_pool_is_not_moved_away_from_the_disks_of_its_guests(test_client, unique_name, active):
    """A new target leaves the old volumes behind: a guest whose disk is one of them would not start."""
    name, guest_name = unique_name(""), unique_name("")
    runner.run(params(name=name, type="dir", target_path="/srv/" + name), False, False)
    test_client.find_pool(name).createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    if not active:
        runner.run(params(name=name, type="dir", target_path="/srv/" + name, state="inactive"), False, False)
    guest = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='volume' device='disk'><source pool='%s' volume='d.img'/><target dev='vda'/></disk></devices></domain>"
        % (guest_name, name)
    )
    moved = params(
        name=name, type="dir", target_path="/srv/%s-moved" % name, recreate=True, state="active" if active else "inactive"
    )
    try:
        for check_mode in (True, False):
            with pytest.raises(
                RunError, match="pool %s would move from /srv/%s to .*guests have disks in it: %s" % (name, name, guest_name)
            ):
                runner.run(moved, check_mode, False)
    finally:
        guest.undefine()
    assert runner.run(moved, False, False)["changed"]
    runner.run(params(name=name, state="absent"), False, False)


def test_volumes_are_not_deleted_when_the_directory_would_stay_behind(test_client, unique_name, tmp_path, monkeypatch):
    """libvirt deletes a directory pool's directory with rmdir: what its volume list leaves there (a
    hidden file, a directory that is not empty) would fail that step after every volume was gone."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    name = unique_name("")
    (tmp_path / "p").mkdir()
    runner.run(params(name=name, type="dir", target_path=str(tmp_path / "p")), False, False)
    test_client.find_pool(name).createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    (tmp_path / "p" / ".hidden").write_bytes(b"")
    for check_mode in (True, False):
        with pytest.raises(
            RunError, match="directory %s holds what deleting its volumes would not remove: .hidden;" % (tmp_path / "p")
        ):
            runner.run(params(name=name, state="absent", delete_volumes=True), check_mode, False)
    assert test_client.find_pool(name).storageVolLookupByName("d.img")
    (tmp_path / "p" / ".hidden").unlink()
    assert runner.run(params(name=name, state="absent", delete_volumes=True), False, False)["changed"]


def test_what_a_directory_pool_leaves_behind(tmp_path):
    (tmp_path / "a.img").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"")
    (tmp_path / "linked").symlink_to(tmp_path / "empty")
    assert runner._left_behind(str(tmp_path), ("a.img", "empty", "full", "linked")) == (
        ".hidden",
        "full/ (not empty)",
        "linked (a link to a directory, which libvirt deletes with rmdir)",
    )
    assert runner._left_behind(str(tmp_path / "missing"), ()) == ()


def test_a_guest_naming_a_pool_file_by_a_relative_path_uses_the_pool(test_client, unique_name):
    """libvirt passes a relative path on to QEMU, which opens it from / (its working directory)."""
    name, guest_name = unique_name(""), unique_name("")
    runner.run(params(name=name, type="dir", target_path="/srv/" + name), False, False)
    test_client.find_pool(name).createXML("<volume><name>d.img</name><capacity>1048576</capacity></volume>", 0)
    guest = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='srv/%s/d.img'/><target dev='vda'/></disk></devices></domain>"
        % (guest_name, name)
    )
    try:
        with pytest.raises(RunError, match="volumes are used by guests: %s" % guest_name):
            runner.run(params(name=name, state="absent", delete_volumes=True), True, False)
    finally:
        guest.undefine()
    runner.run(params(name=name, state="absent", delete_volumes=True), False, False)


def test_volumes_are_not_deleted_through_a_pool_that_shares_anothers_directory(test_client, unique_name, tmp_path, monkeypatch):
    """A pool whose target is a link to another pool's directory lists that pool's files: deleting its
    volumes deletes theirs, and libvirt cannot delete a link as the pool's directory."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    real, linked = unique_name(""), unique_name("")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (real, tmp_path / "real"), 0
    )
    test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (linked, tmp_path / "link"), 0
    )
    test_client.find_pool(linked).create(0)
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="lies in the directory of pool\\(s\\) %s" % real):
                runner.run(params(name=linked, state="absent", delete_volumes=True), check_mode, False)
        assert runner._left_behind(str(tmp_path / "link"), ())[0].startswith("the target itself, a symbolic link")
    finally:
        for name in (linked, real):
            runner.run(params(name=name, state="absent"), False, False)


def test_volumes_are_not_deleted_where_a_link_on_the_way_to_the_directory_leads(test_client, unique_name, tmp_path, monkeypatch):
    """A parent of the pool's directory replaced by a link (to /etc, say) since: libvirt would list
    and delete the files where it leads, none of them the pool's. Refused in check mode too."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    name = unique_name("")
    (tmp_path / "parent" / "pool").mkdir(parents=True)
    test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path / "parent" / "pool"), 0
    )
    test_client.find_pool(name).create(0)
    (tmp_path / "parent").rename(tmp_path / "kept")
    # Empty: the test driver lists no file as a volume (libvirt's refresh would list them all).
    (tmp_path / "victim" / "pool").mkdir(parents=True)
    (tmp_path / "parent").symlink_to(tmp_path / "victim")
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="leads through a symbolic link to %s/victim/pool: deleting" % tmp_path):
                runner.run(params(name=name, state="absent", delete_volumes=True), check_mode, False)
        assert test_client.find_pool(name) is not None and (tmp_path / "victim" / "pool").is_dir()
    finally:
        runner.run(params(name=name, state="absent"), False, False)


# BREAK (fixed): an fs or logical pool on a device that is not there, or on /dev/null, was planned (check
# mode said changed); the real run failed at the build and left the target directory behind.
@pytest.mark.parametrize("pool_type", ["fs", "logical", "disk"])
def test_a_device_pool_on_no_block_device_is_refused(tmp_path, pool_type):
    missing = PoolDefinition(type=pool_type, name="p", target_path=str(tmp_path), source_devices=(str(tmp_path / "sdz"),))
    with pytest.raises(PlanError, match="source_devices: .*/sdz is no device on the host"):
        runner._refuse_devices_in_use(missing)
    character = PoolDefinition(type=pool_type, name="p", target_path=str(tmp_path), source_devices=("/dev/null",))
    with pytest.raises(PlanError, match="source_devices: /dev/null is no block device"):
        runner._refuse_devices_in_use(character)


def test_an_fs_pool_may_mount_a_file_system_image(tmp_path):
    image = tmp_path / "fs.img"
    image.write_bytes(b"\0" * 4096)
    runner._refuse_devices_in_use(PoolDefinition(type="fs", name="p", target_path=str(tmp_path), source_devices=(str(image),)))
    with pytest.raises(PlanError, match="is no block device"):
        runner._refuse_devices_in_use(PoolDefinition(type="logical", name="p", source_devices=(str(image),)))


# BREAK (fixed): check mode passed a target_path under a regular file; the real run's build failed there.
@pytest.mark.parametrize("check_mode", [True, False])
def test_a_target_path_below_a_file_is_refused_in_both_modes(test_client, unique_name, tmp_path, check_mode):
    (tmp_path / "a-file").write_text("not a directory")
    name = unique_name("")
    with pytest.raises(RunError, match=r"target_path .*/a-file/sub: .*/a-file is not a directory"):
        runner.run(params(name=name, type="dir", target_path=str(tmp_path / "a-file" / "sub")), check_mode, False)
    assert test_client.find_pool(name) is None


def test_a_target_path_through_a_link_to_nothing_is_named(test_client, unique_name, tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    with pytest.raises(
        RunError, match=r"pool .*: target_path .*/dangling/sub: .*/dangling is a symbolic link that leads to nothing"
    ):
        runner.run(params(name=unique_name(""), type="dir", target_path=str(tmp_path / "dangling" / "sub")), True, False)


@pytest.mark.parametrize(
    "wanted", [dict(autostart=True), dict(state="inactive"), dict(state="absent"), dict(state="absent", delete_volumes=True), {}]
)
def test_a_transient_pool_is_refused_whatever_is_asked(test_client, unique_name, tmp_path, wanted):
    """Started without a definition (virsh pool-create): stopping it removes it, and it has no
    autostart to set. Refused at plan time, in check mode too, the pool left running."""
    name = unique_name("")
    test_client.conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path), 0
    )
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="pool %s is transient .started without a definition.; this module" % name):
                runner.run(params(**dict(dict(name=name, type="dir", target_path=str(tmp_path)), **wanted)), check_mode, False)
        assert test_client.pool_is_active(test_client.find_pool(name))
    finally:
        test_client.find_pool(name).destroy()


def test_an_inactive_directory_pool_is_emptied_only_when_its_directory_holds_nothing(tmp_path):
    """Read for a removal with delete_volumes: a directory that holds anything, or leads elsewhere
    through a link, has volumes an inactive pool cannot list."""
    target = tmp_path / "p"
    definition = PoolDefinition(name="p", type="dir", target_path=str(target))
    empty = runner.PoolState(uri="qemu:///system")
    assert runner._with_emptied_directory(empty, definition) == empty.with_changes(emptied=True, unbuilt=True)
    target.mkdir()
    assert runner._with_emptied_directory(empty, definition) == empty.with_changes(emptied=True)
    (target / ".hidden").write_bytes(b"")
    assert runner._with_emptied_directory(empty, definition) == empty
    linked = tmp_path / "elsewhere"
    linked.mkdir()
    (tmp_path / "link").symlink_to(linked)
    through_a_link = PoolDefinition(name="p", type="dir", target_path=str(tmp_path / "link"))
    assert runner._with_emptied_directory(empty, through_a_link) == empty


def define_sharing_guest(client, name, directory):
    """A guest of the test driver that shares ``directory`` over virtiofs."""
    return client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<filesystem type='mount'><driver type='virtiofs'/><source dir='%s'/><target dir='data'/></filesystem>"
        "</devices></domain>" % (name, directory)
    )


@pytest.mark.parametrize("relation", ["is", "holds", "lies in"])
def test_a_pool_directory_a_guest_shares_is_refused_in_both_modes(test_client, unique_name, tmp_path, relation):
    """A pool made in (or around) a guest's virtiofs share would hand the guest other guests' disks."""
    name, guest_name = unique_name(""), unique_name("")
    shared = tmp_path / "share"
    target = {"is": shared, "holds": tmp_path, "lies in": shared / "pool"}[relation]
    guest = define_sharing_guest(test_client, guest_name, shared)
    try:
        for check_mode in (True, False):
            with pytest.raises(
                RunError,
                match="target_path %s is, holds or lies in the directory %s that guest %s shares" % (target, shared, guest_name),
            ):
                runner.run(params(name=name, type="dir", target_path=str(target)), check_mode, False)
        assert test_client.find_pool(name) is None
    finally:
        guest.undefine()
    assert runner.run(params(name=name, type="dir", target_path=str(target)), False, False)["changed"]
    runner.run(params(name=name, state="absent"), False, False)


def test_a_device_and_its_other_spellings_share_keys(tmp_path):
    image = tmp_path / "fs.img"
    image.write_bytes(b"\0" * 4096)
    (tmp_path / "link").symlink_to(image)
    assert runner.device_keys(str(image)) & runner.device_keys(str(tmp_path / "link"))
    other = tmp_path / "other.img"
    other.write_bytes(b"\0" * 4096)
    assert not runner.device_keys(str(image)) & runner.device_keys(str(other))
    assert runner.device_keys(str(tmp_path / "missing")) == frozenset({"path:%s" % (tmp_path / "missing")})


def test_two_loop_devices_on_one_image_share_keys(tmp_path):
    image = tmp_path / "fs.img"
    image.write_bytes(b"\0" * (1 << 20))
    devices = []
    try:
        for _attempt in range(2):
            made = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=False)
            if made.returncode != 0:
                pytest.skip("no loop device here (needs root)")
            devices.append(made.stdout.strip())
        first, second = (runner.device_keys(device) for device in devices)
        assert first & second == {"file:%d:%d" % (image.stat().st_dev, image.stat().st_ino)}
        assert runner.device_keys(str(image)) & first
    finally:
        for device in devices:
            subprocess.run(["losetup", "-d", device], check=False)


def test_a_stopped_pool_is_not_started_on_a_directory_a_guest_now_shares(test_client, unique_name, tmp_path):
    name, guest_name = unique_name(""), unique_name("")
    target = str(tmp_path / "p")
    runner.run(params(name=name, type="dir", target_path=target), False, False)
    runner.run(params(name=name, type="dir", target_path=target, state="inactive"), False, False)
    guest = define_sharing_guest(test_client, guest_name, target)
    try:
        for check_mode in (True, False):
            with pytest.raises(
                RunError, match="target_path %s is, holds or lies in the directory %s that guest" % (target, target)
            ):
                runner.run(params(name=name, type="dir", target_path=target), check_mode, False)
        assert not test_client.pool_is_active(test_client.find_pool(name))
    finally:
        guest.undefine()
        runner.run(params(name=name, state="absent"), False, False)


def test_a_new_pool_started_without_its_build_needs_its_directory(tmp_path):
    """libvirt's start fails on a missing directory after the define: refused at plan time in both modes."""
    from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import PoolRequest

    missing = str(tmp_path / "missing")
    request = PoolRequest.from_params(params(name="unbuilt", type="dir", target_path=missing, build=False))
    with pytest.raises(PlanError, match="target_path %s is no directory, and build: false leaves it unmade" % missing):
        runner._refuse_unbuilt_start("unbuilt", request.definition, request)
    (tmp_path / "missing").mkdir()
    runner._refuse_unbuilt_start("unbuilt", request.definition, request)
    inactive = PoolRequest.from_params(
        params(name="unbuilt", type="dir", target_path=str(tmp_path / "x"), build=False, state="inactive")
    )
    runner._refuse_unbuilt_start("unbuilt", inactive.definition, inactive)


def test_a_stopped_pool_started_without_a_build_needs_its_directory(test_client, unique_name, tmp_path, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    name, target = unique_name(""), tmp_path / "p"
    target.mkdir()
    runner.run(params(name=name, type="dir", target_path=str(target), state="inactive"), False, False)
    target.rmdir()
    monkeypatch.setattr(Client, "local", True, raising=False)
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="target_path %s is no directory, and build: false" % target):
                runner.run(params(name=name, build=False), check_mode, False)
    finally:
        monkeypatch.undo()
        runner.run(params(name=name, state="absent"), False, False)

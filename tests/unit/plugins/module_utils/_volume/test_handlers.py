"""virt_pool_volume's handlers, one per plan verb, applied through the runner and libvirt's test driver.

Every libvirt call is real. The test driver has no virStorageVolUpload and no virStorageVolResize:
for the handler logic around those two calls (checksums, the download marks, the remembered
digest) ``file_backed`` replaces just those two client calls with what libvirt's directory backend
does to the volume's file; the plain test driver's refusal of them is tested as it is.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import stat

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import ExecutionError, Executor
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, Action, Payload, Verb
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download, handlers
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import CHMOD, VERBS, ChmodPayload, ResizePayload
from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import plan_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import VolumeRequest
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import read_state, resolve_permissions, run
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import INCOMPLETE_XATTR
from qcow2_headers import qcow2_header
from runner_params import volume_params as params
from runner_params import volume_path

IMAGE = bytes(range(256)) * 64  # 16 KiB of raw image


def remembered(path, algorithm):
    """The recorded digest while the file is unchanged, else None."""
    record = download.read_digest_record(path, algorithm)
    return record.digest if record is not None and record.current else None


def volumes(client, pool):
    return sorted(client.find_pool(pool).listVolumes())


def exists(client, pool, name):
    return client.find_volume(client.find_pool(pool), name) is not None


def apply(wanted):
    return run(wanted, check_mode=False, diff=False)


@pytest.fixture
def file_backed(monkeypatch):
    """Volumes of a directory pool with files, as libvirt's dir backend keeps them: created empty with
    the volume, written by upload_volume, grown by resize_volume and removed with the volume."""
    create_volume, delete_volume = Client.create_volume, Client.delete_volume

    def path_of(client, volume):
        return client.describe_volume(volume).path

    def create_with_file(self, pool, xml, flags=0):
        volume = create_volume(self, pool, xml, flags)
        open(path_of(self, volume), "wb").close()
        return volume

    def delete_with_file(self, volume):
        path = path_of(self, volume)
        delete_volume(self, volume)
        if os.path.exists(path):
            os.remove(path)

    def upload_volume(self, volume, chunks, length):
        with open(path_of(self, volume), "r+b") as image:
            for chunk in chunks:
                image.write(chunk)

    def resize_volume(self, volume, capacity, shrink=False, allocate=False):
        with open(path_of(self, volume), "r+b") as image:
            image.truncate(capacity)

    monkeypatch.setattr(Client, "create_volume", create_with_file)
    monkeypatch.setattr(Client, "delete_volume", delete_with_file)
    monkeypatch.setattr(Client, "upload_volume", upload_volume)
    monkeypatch.setattr(Client, "resize_volume", resize_volume)


@pytest.fixture
def image_server(scripted_http):
    from scripted_http import Route

    scripted_http.routes["/d.img"] = Route(IMAGE)
    return scripted_http


# -- each verb ------------------------------------------------------------------------------------------
def test_create_makes_the_volume(test_client, file_pool, unique_name):
    name = unique_name(".img")
    result = apply(params(pool=file_pool, name=name, capacity="1M", format="raw"))
    assert [step["action"] for step in result["plan"]] == ["create"]
    described = test_client.describe_volume(test_client.find_volume(test_client.find_pool(file_pool), name))
    assert (described.capacity, described.format) == (1 << 20, "raw")


def test_clone_copies_the_source(test_client, unique_name):
    source, clone = unique_name(), unique_name()
    apply(params(name=source, capacity="2M"))
    result = apply(params(name=clone, clone_from=source))
    assert [step["action"] for step in result["plan"]] == ["clone"]
    assert exists(test_client, "default-pool", clone) and exists(test_client, "default-pool", source)
    assert result["volume"]["capacity"] == 2 << 20


def test_delete_removes_the_volume(test_client, unique_name):
    name = unique_name()
    apply(params(name=name, capacity="1M"))
    result = apply(params(name=name, state="absent"))
    assert [step["action"] for step in result["plan"]] == ["delete"]
    assert not exists(test_client, "default-pool", name)


def private_raw_volume(client, pool, name):
    """A raw file volume with content, readable by its owner only; its path."""
    apply(params(pool=pool, name=name, capacity="1M", format="raw"))
    path = volume_path(client, pool, name)
    with open(path, "wb") as image:
        image.write(b"\0" * 512)
    os.chmod(path, 0o600)
    return path


def test_chmod_sets_mode_of_the_file(test_client, file_pool, unique_name):
    name = unique_name(".img")
    path = private_raw_volume(test_client, file_pool, name)
    result = apply(params(pool=file_pool, name=name, mode="0640", owner=str(os.getuid()), group=str(os.getgid())))
    assert [step["action"] for step in result["plan"]] == ["chmod"]
    info = os.stat(path)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640, os.getuid(), os.getgid())


def test_chmod_never_follows_a_link_swapped_in_after_the_plan(tmp_path):
    """Whoever may write a pool's directory can rename a link over the volume's file between the
    plan and the chmod: the file it leads to keeps its mode."""
    victim = tmp_path / "root-only"
    victim.write_bytes(b"secret")
    os.chmod(victim, 0o600)
    volume = tmp_path / "disk.img"
    volume.symlink_to(victim)
    action = Action(CHMOD, "volume", "p/disk.img", "chmod 0644 ...", ChmodPayload(path=str(volume), mode="0644"))
    with pytest.raises(RemotevirtError, match="became a symbolic link since it was planned"):
        VolumeHandlers(None, True).chmod(action)
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o600
    volume.unlink()
    os.link(victim, volume)  # a hard link: the same file under the volume's name
    with pytest.raises(RemotevirtError, match="is another file than planned"):
        VolumeHandlers(None, True).chmod(action)
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o600


def test_a_made_volume_gets_its_name_through_its_descriptor_never_through_a_link_swapped_in(tmp_path):
    """Between libvirt making the staging file and its naming, a link renamed over the staging name
    is never what the volume's name is given, and stays (it is not the run's to remove)."""
    staged = tmp_path / ".disk.img.part"
    staged.write_bytes(b"made")
    descriptor = os.open(staged, os.O_RDONLY)
    try:
        made = os.fstat(descriptor)
        os.rename(staged, tmp_path / "kept")
        staged.symlink_to(tmp_path / "victim")
        handlers._link_open_file(descriptor, str(tmp_path), "disk.img", ".disk.img.part")
    finally:
        os.close(descriptor)
    named = os.lstat(tmp_path / "disk.img")
    assert (named.st_dev, named.st_ino) == (made.st_dev, made.st_ino) and stat.S_ISREG(named.st_mode)
    assert os.path.islink(staged)


def test_a_made_volume_replaced_before_its_naming_gives_nothing_its_name(tmp_path):
    staged = tmp_path / ".disk.img.part"
    staged.write_bytes(b"made")
    descriptor = os.open(staged, os.O_RDONLY)
    try:
        (tmp_path / "swap").symlink_to(tmp_path / "victim")
        os.rename(tmp_path / "swap", staged)
        with pytest.raises(RemotevirtError, match=r"\.disk\.img\.part, the file libvirt made for volume disk\.img, was replaced"):
            handlers._link_open_file(descriptor, str(tmp_path), "disk.img", ".disk.img.part")
    finally:
        os.close(descriptor)
    assert not os.path.lexists(tmp_path / "disk.img") and os.path.islink(staged)


def test_a_made_volume_never_replaces_a_file_that_took_its_name_meanwhile(tmp_path):
    staged = tmp_path / ".disk.img.part"
    staged.write_bytes(b"made")
    (tmp_path / "disk.img").write_bytes(b"theirs")
    descriptor = os.open(staged, os.O_RDONLY)
    try:
        with pytest.raises(FileExistsError):
            handlers._link_open_file(descriptor, str(tmp_path), "disk.img", ".disk.img.part")
    finally:
        os.close(descriptor)
    assert (tmp_path / "disk.img").read_bytes() == b"theirs" and staged.read_bytes() == b"made"


def test_a_made_volume_leaves_no_staging_name(tmp_path):
    staged = tmp_path / ".disk.img.part"
    staged.write_bytes(b"made")
    descriptor = os.open(staged, os.O_RDONLY)
    try:
        handlers._link_open_file(descriptor, str(tmp_path), "disk.img", ".disk.img.part")
    finally:
        os.close(descriptor)
    assert sorted(os.listdir(tmp_path)) == ["disk.img"] and os.stat(tmp_path / "disk.img").st_nlink == 1


def test_the_test_driver_refuses_resize_and_nothing_is_changed(test_client, unique_name):
    """A real libvirt refusal of a resize: the failure names the call and the volume stays as it was."""
    name = unique_name()
    apply(params(name=name, capacity="1M"))
    with pytest.raises(RunError) as error:
        apply(params(name=name, capacity="2M"))
    assert "resize volume %s" % name in str(error.value) and "not supported" in str(error.value)
    assert not error.value.changed
    assert apply(params(name=name))["volume"]["capacity"] == 1 << 20


def test_resize_grows_the_file(test_client, file_pool, unique_name, file_backed):
    name = unique_name(".img")
    apply(params(pool=file_pool, name=name, capacity="1M", format="raw"))
    assert os.path.getsize(volume_path(test_client, file_pool, name)) == 0
    result = apply(params(pool=file_pool, name=name, capacity="2M", format="raw"))
    assert [step["action"] for step in result["plan"]] == ["resize"]
    assert os.path.getsize(volume_path(test_client, file_pool, name)) == 2 << 20


def test_resize_keeps_the_digest_of_the_download(test_client, file_pool, unique_name, file_backed):
    """Growing a downloaded raw image keeps its remembered digest, now of the first bytes only."""
    name = unique_name(".img")
    apply(params(pool=file_pool, name=name, capacity="1M", format="raw"))
    path = volume_path(test_client, file_pool, name)
    with open(path, "wb") as image:
        image.write(IMAGE)
    digest = hashlib.sha256(IMAGE).hexdigest()
    download.remember_digest(path, "sha256", digest, len(IMAGE))
    apply(params(pool=file_pool, name=name, capacity="2M", format="raw"))
    record = download.read_digest_record(path, "sha256")
    assert (record.digest, record.length, record.current) == (digest, len(IMAGE), True)


def test_upload_fills_the_volume_and_remembers_its_digest(
    test_client, file_pool, unique_name, file_backed, image_server, monkeypatch
):
    name = unique_name(".img")
    digest = hashlib.sha256(IMAGE).hexdigest()
    marked_while_filling = []
    write_file = download.write_file

    def watched_write(path, chunks):  # the volume's file is on this host: written straight into
        marked_while_filling.append(os.getxattr(path, INCOMPLETE_XATTR))
        write_file(path, chunks)

    monkeypatch.setattr(download, "write_file", watched_write)
    result = apply(
        params(pool=file_pool, name=name, format="raw", source_url=image_server.url("/d.img"), checksum="sha256:" + digest)
    )
    assert [step["action"] for step in result["plan"]] == ["create", "upload"]
    path = volume_path(test_client, file_pool, name)
    with open(path, "rb") as image:
        assert image.read() == IMAGE
    assert marked_while_filling == [b"1"]
    with pytest.raises(OSError):
        os.getxattr(path, INCOMPLETE_XATTR)
    assert remembered(path, "sha256") == digest


# BREAK (fixed): the mark of an unfinished download went before the digests were recorded; a run
# killed in between left a compressed download refused forever as content other than its checksum.
def test_the_digests_are_recorded_while_the_download_is_still_marked_unfinished(
    test_client, file_pool, unique_name, file_backed, image_server, monkeypatch
):
    name = unique_name(".img")
    digest = hashlib.sha256(IMAGE).hexdigest()
    marked_when_recorded = []
    remember_digest = download.remember_digest

    def watched_remember(path, *args, **kwargs):
        marked_when_recorded.append(os.getxattr(path, INCOMPLETE_XATTR))
        remember_digest(path, *args, **kwargs)

    monkeypatch.setattr(download, "remember_digest", watched_remember)
    apply(params(pool=file_pool, name=name, format="raw", source_url=image_server.url("/d.img"), checksum="sha256:" + digest))
    assert marked_when_recorded == [b"1"]
    with pytest.raises(OSError):
        os.getxattr(volume_path(test_client, file_pool, name), INCOMPLETE_XATTR)


def test_upload_without_a_checksum_hashes_nothing(test_client, file_pool, unique_name, file_backed, image_server, monkeypatch):
    name = unique_name(".img")

    def no_hashing(*args, **kwargs):
        raise AssertionError("a download without a checksum was hashed")

    monkeypatch.setattr(hashlib, "new", no_hashing)
    apply(params(pool=file_pool, name=name, format="raw", source_url=image_server.url("/d.img")))
    path = volume_path(test_client, file_pool, name)
    with open(path, "rb") as image:
        assert image.read() == IMAGE
    with pytest.raises(OSError):
        os.getxattr(path, INCOMPLETE_XATTR)
    assert remembered(path, "sha256") is None


def test_upload_with_the_wrong_checksum_rolls_back_the_new_volume(test_client, file_pool, unique_name, file_backed, image_server):
    name = unique_name(".img")
    wrong = "sha256:" + "00" * 32
    with pytest.raises(RunError) as error:
        apply(params(pool=file_pool, name=name, format="raw", source_url=image_server.url("/d.img"), checksum=wrong))
    assert "checksum mismatch" in str(error.value)
    assert "rolled back: create %s/%s" % (file_pool, name) in str(error.value)
    assert not error.value.changed
    assert not exists(test_client, file_pool, name) and not os.path.exists(
        os.path.join(test_client.describe_pool(test_client.find_pool(file_pool)).target_path, name)
    )


def test_the_test_driver_refuses_upload_and_the_new_volume_is_rolled_back(test_client, unique_name, image_server):
    name = unique_name(".img")
    with pytest.raises(RunError) as error:
        apply(params(name=name, format="raw", source_url=image_server.url("/d.img")))
    assert "start upload to volume %s" % name in str(error.value)
    assert not error.value.changed and not exists(test_client, "default-pool", name)


# -- the undo of the creating verbs ---------------------------------------------------------------------
class _Exploded(Exception):
    pass


def _explode(_action):
    raise _Exploded("a later step failed")


def _apply_then_fail(client, wanted):
    """The plan the runner would apply for ``wanted``, followed by an action that fails."""
    request = VolumeRequest.from_params(wanted, resolve_permissions(wanted))
    plan = plan_volume(request, read_state(client, client.find_pool(request.pool), request, True))
    plan.add(Action("explode", "volume", "elsewhere", "false"))
    handlers = dict(VolumeHandlers(client, True).as_mapping(), explode=_explode)
    verbs = dict(VERBS, explode=Verb("explode", Payload, KEPT))
    with pytest.raises(ExecutionError) as error:
        Executor(handlers, verbs, AuditLog("user", context=client.uri)).apply(plan)
    return error.value


def test_create_is_undone_by_deleting_the_volume(test_client, unique_name):
    name = unique_name()
    error = _apply_then_fail(test_client, params(name=name, capacity="1M"))
    assert error.rolled_back == ["create default-pool/%s" % name] and not error.left_changes
    assert not exists(test_client, "default-pool", name)


def test_clone_is_undone_by_deleting_the_clone_only(test_client, unique_name):
    source, clone = unique_name(), unique_name()
    apply(params(name=source, capacity="1M"))
    error = _apply_then_fail(test_client, params(name=clone, clone_from=source))
    assert error.rolled_back == ["clone default-pool/%s" % clone] and not error.left_changes
    assert not exists(test_client, "default-pool", clone) and exists(test_client, "default-pool", source)


def test_delete_has_no_undo_and_leaves_changes(test_client, unique_name):
    name = unique_name()
    apply(params(name=name, capacity="1M"))
    error = _apply_then_fail(test_client, params(name=name, state="absent"))
    assert error.rolled_back == [] and error.left_changes
    assert not exists(test_client, "default-pool", name)


def test_chmod_has_no_undo_and_leaves_changes(test_client, file_pool, unique_name):
    name = unique_name(".img")
    path = private_raw_volume(test_client, file_pool, name)
    error = _apply_then_fail(test_client, params(pool=file_pool, name=name, mode="0644"))
    assert error.rolled_back == [] and error.left_changes
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


# -- compressed downloads ------------------------------------------------------------------------------
XZ_IMAGE = lzma.compress(IMAGE)
# A qcow2 header naming no backing file, then any bytes.
QCOW2_IMAGE = qcow2_header(1 << 30) + bytes(range(256)) * 40


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _gets(server, path):
    return sum(1 for method, seen, _headers in server.requests if method == "GET" and seen == path)


@pytest.fixture
def compressed_server(scripted_http):
    from scripted_http import Route

    scripted_http.routes["/d.raw.xz"] = Route(XZ_IMAGE, content_type="application/x-xz")
    scripted_http.routes["/d.qcow2.gz"] = Route(gzip.compress(QCOW2_IMAGE))
    scripted_http.routes["/notes.gz"] = Route(gzip.compress(b"plain text, not an image\n" * 100))
    scripted_http.routes["/short.raw.xz"] = Route(XZ_IMAGE[: len(XZ_IMAGE) // 2])
    scripted_http.routes["/page.raw.xz"] = Route(b"<!DOCTYPE html><p>mirror down</p>" * 10, content_type="text/html")
    scripted_http.routes["/unnamed"] = Route(XZ_IMAGE)
    return scripted_http


def _compressed_raw(pool, name, server, **extra):
    return params(pool=pool, name=name, format="raw", capacity="64K", source_url=server.url("/d.raw.xz"), **extra)


def test_compressed_raw_image_fills_its_volume_and_a_rerun_downloads_nothing(
    test_client, file_pool, unique_name, file_backed, compressed_server
):
    name = unique_name(".img")
    wanted = _compressed_raw(file_pool, name, compressed_server, checksum="sha256:" + _sha(XZ_IMAGE))
    result = apply(wanted)
    assert [step["action"] for step in result["plan"]] == ["create", "upload"]
    assert "| xz -dc | virsh -c test:///default vol-upload" in result["plan"][1]["command"]
    path = volume_path(test_client, file_pool, name)
    with open(path, "rb") as image:
        assert image.read(len(IMAGE)) == IMAGE
    record = download.read_digest_record(path, "sha256")
    assert (record.digest, record.download_digest, record.length, record.current) == (
        _sha(IMAGE),
        _sha(XZ_IMAGE),
        len(IMAGE),
        True,
    )
    with pytest.raises(OSError):
        os.getxattr(path, INCOMPLETE_XATTR)
    # The plan read the first bytes, the upload the body.
    assert [seen for method, seen, _headers in compressed_server.requests if method == "GET"] == ["/d.raw.xz"] * 2
    again = apply(wanted)
    assert not again["changed"] and again["plan"] == []
    assert _gets(compressed_server, "/d.raw.xz") == 2


def test_changed_file_with_the_same_decompressed_bytes_still_verifies(
    test_client, file_pool, unique_name, file_backed, compressed_server
):
    """The record is stale (mtime changed): the decompressed bytes are read and compared instead."""
    name = unique_name(".img")
    wanted = _compressed_raw(file_pool, name, compressed_server, checksum="sha256:" + _sha(XZ_IMAGE))
    apply(wanted)
    path = volume_path(test_client, file_pool, name)
    os.utime(path, ns=(1, 1))
    assert not download.read_digest_record(path, "sha256").current
    assert not apply(wanted)["changed"]
    with open(path, "r+b") as image:
        image.write(b"guest wrote here")
    with pytest.raises(RunError, match="exists with different content"):
        apply(wanted)


def test_checksum_of_the_decompressed_image(test_client, file_pool, unique_name, file_backed, compressed_server):
    name = unique_name(".img")
    wanted = _compressed_raw(file_pool, name, compressed_server, checksum="sha256:" + _sha(IMAGE), checksum_of="content")
    result = apply(wanted)
    assert result["plan"][1]["command"].endswith("of the decompressed image")
    assert not apply(wanted)["changed"]


@pytest.mark.parametrize("checksum_of, digest_of", [("download", IMAGE), ("content", XZ_IMAGE)])
def test_checksum_of_the_other_bytes_is_a_mismatch(
    test_client, file_pool, unique_name, file_backed, compressed_server, checksum_of, digest_of
):
    name = unique_name(".img")
    with pytest.raises(RunError, match="checksum mismatch") as error:
        apply(_compressed_raw(file_pool, name, compressed_server, checksum="sha256:" + _sha(digest_of), checksum_of=checksum_of))
    assert not error.value.changed and not exists(test_client, file_pool, name)


@pytest.mark.parametrize(
    "case, wanted, message",
    [
        ("truncated", dict(source_url="/short.raw.xz"), "ends before its xz-compressed data does (truncated)"),
        ("html", dict(source_url="/page.raw.xz"), "an HTML page, not xz-compressed data"),
        ("larger than the volume", dict(capacity="8K"), "decompresses to more than the 8192 bytes the volume takes"),
        ("not a qcow2 image", dict(source_url="/notes.gz", format="qcow2", capacity=None), "the content is not a qcow2 image"),
        ("compressed without a suffix", dict(source_url="/unnamed"), "xz-compressed, not a raw image: set compression: xz"),
    ],
)
def test_bad_compressed_downloads_leave_nothing(
    test_client, file_pool, unique_name, file_backed, compressed_server, case, wanted, message
):
    name = unique_name(".img")
    if "source_url" in wanted:
        wanted = dict(wanted, source_url=compressed_server.url(wanted["source_url"]))
    with pytest.raises(RunError) as error:
        apply(dict(_compressed_raw(file_pool, name, compressed_server), **wanted))
    assert message in str(error.value)
    assert not error.value.changed and not exists(test_client, file_pool, name)
    assert os.listdir(test_client.describe_pool(test_client.find_pool(file_pool)).target_path) == []


def test_compression_named_for_a_url_without_a_suffix(test_client, file_pool, unique_name, file_backed, compressed_server):
    name = unique_name(".img")
    apply(
        dict(_compressed_raw(file_pool, name, compressed_server), source_url=compressed_server.url("/unnamed"), compression="xz")
    )
    with open(volume_path(test_client, file_pool, name), "rb") as image:
        assert image.read(len(IMAGE)) == IMAGE


def test_compression_none_stores_the_body_as_served(test_client, file_pool, unique_name, file_backed, compressed_server):
    name = unique_name(".img")
    apply(params(pool=file_pool, name=name, format="raw", source_url=compressed_server.url("/d.raw.xz"), compression="none"))
    with open(volume_path(test_client, file_pool, name), "rb") as image:
        assert image.read() == XZ_IMAGE


def test_compressed_qcow2_is_sized_by_its_download(test_client, file_pool, unique_name, file_backed, compressed_server):
    name = unique_name(".qcow2")
    url = compressed_server.url("/d.qcow2.gz")
    result = apply(params(pool=file_pool, name=name, format="qcow2", source_url=url))
    compressed_length = len(gzip.compress(QCOW2_IMAGE))
    assert result["plan"][0]["command"].startswith(
        "virsh -c test:///default vol-create-as --pool %s --name %s --capacity %d " % (file_pool, name, compressed_length)
    )
    assert "| gzip -dc |" in result["plan"][1]["command"]
    with open(volume_path(test_client, file_pool, name), "rb") as image:
        assert image.read(len(QCOW2_IMAGE)) == QCOW2_IMAGE


def test_remote_uri_writes_nothing_through_a_local_path(test_client, file_pool, unique_name, file_backed, monkeypatch):
    """Over a remote URI the volume's path names a file of the hypervisor: a file with that path here
    (the same one in a test bed sharing its disk, another one elsewhere) gets no digest or mark."""
    name = unique_name(".img")
    apply(params(pool=file_pool, name=name, capacity="1M", format="raw"))
    path = volume_path(test_client, file_pool, name)
    download.remember_digest(path, "sha256", "ab" * 32, 1 << 20)
    monkeypatch.setattr(test_client, "uri", "qemu+ssh://root@hv1/system")
    handlers = VolumeHandlers(test_client, validate_certs=True).as_mapping()
    handlers["resize"](Action("resize", "volume", name, "", ResizePayload(pool=file_pool, volume=name, capacity=2 << 20)))
    assert os.path.getsize(path) == 2 << 20
    assert remembered(path, "sha256") is None  # the record of the old file was not carried over


def test_a_failed_allocated_growth_sets_the_file_back(test_client, file_pool, unique_name, file_backed, monkeypatch):
    """libvirt grows the file, then fails to allocate the new part (a full disk): the file is cut back
    to its size before, the task fails saying so, and a re-run plans the same growth again."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LibvirtError

    name = unique_name(".img")
    apply(params(pool=file_pool, name=name, capacity="1M", format="raw"))
    path = volume_path(test_client, file_pool, name)

    def grows_then_fails(self, volume, capacity, shrink=False, allocate=False):
        with open(path, "r+b") as image:
            image.truncate(capacity - 4096)
        raise LibvirtError("resize volume", volume.name(), "Failed to pre-allocate space: No space left on device")

    monkeypatch.setattr(Client, "resize_volume", grows_then_fails)
    wanted = params(pool=file_pool, name=name, capacity="2M", format="raw", preallocation="full")
    with pytest.raises(RunError) as error:
        apply(wanted)
    assert str(error.value).endswith("No space left on device; it was set back to its size before")
    assert os.path.getsize(path) == 1 << 20 and not error.value.changed

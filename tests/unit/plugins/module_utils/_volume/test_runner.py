"""virt_pool_volume's flow through libvirt's embedded test driver (no daemon, real libvirt calls)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import changing, file_key, volume_key
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
from ansible_collections.remotevirt.install.plugins.module_utils._volume import runner as volume_runner
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import (
    RunError,
    existing_digest,
    is_incomplete,
    recorded_format,
    refuse_reprobed,
    resolve_permissions,
    run,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import (
    INCOMPLETE_XATTR,
    STAGED_FOREIGN,
    STAGED_SECOND_NAME,
    STAGING_TOKEN_XATTR,
    staging_xattr,
)
from qcow2_headers import qcow2_header
from runner_params import POOL, half_made_download, volume_path, volumes
from runner_params import volume_params as params


def test_check_then_apply_then_converged(unique_name, test_client):
    name = unique_name()
    wanted = params(name=name, capacity="1G")
    check = run(wanted, check_mode=True, diff=True)
    assert check["changed"] and [step["action"] for step in check["plan"]] == ["create"]
    assert check["diff"]["before"] == "" and "1073741824" in check["diff"]["after"]
    assert check["volume"]["path"] == "/default-pool/" + name
    real = run(wanted, check_mode=False, diff=True)
    assert real["plan"] == check["plan"] and real["diff"] == check["diff"]
    assert real["volume"]["capacity"] == 1 << 30 and real["volume"]["key"] == "/default-pool/" + name
    again = run(wanted, check_mode=False, diff=False)
    assert not again["changed"] and again["plan"] == [] and "diff" not in again
    asserted = run(params(name=name), check_mode=False, diff=False)
    assert asserted["volume"] == real["volume"]
    gone = run(params(name=name, state="absent"), check_mode=False, diff=False)
    assert gone["changed"] and gone["plan"][0]["destructive"] and gone["volume"] == {}
    assert not run(params(name=name, state="absent"), check_mode=False, diff=False)["changed"]


def test_results_stay_small_without_diff(unique_name):
    result = run(params(name=unique_name(), capacity="1M"), check_mode=True, diff=False)
    assert "diff" not in result
    assert "<" not in repr(result)


def test_clone_in_the_test_driver(unique_name, test_client):
    source, clone = unique_name(), unique_name()
    run(params(name=source, capacity="2M"), check_mode=False, diff=False)
    result = run(params(name=clone, clone_from=source), check_mode=False, diff=False)
    assert [step["action"] for step in result["plan"]] == ["clone"]
    assert result["volume"]["capacity"] == 2 << 20
    for name in (clone, source):
        run(params(name=name, state="absent"), check_mode=False, diff=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(pool="no-such-pool", name="x", capacity="1M"), "storage pool 'no-such-pool' does not exist"),
        (dict(name="x", clone_from="no-such-volume"), "clone_from volume default-pool/no-such-volume does not exist"),
        (dict(name="x"), "does not exist; set capacity"),
        (dict(name="x", capacity="1P"), "free in pool default-pool"),
        (dict(name="x/y", capacity="1M"), "may only contain"),
        (dict(name="x", capacity="1M", owner="no-such-user-here"), "user 'no-such-user-here' does not exist"),
        (dict(name="x", capacity="1M", mode="0999"), "mode must be octal"),
        (dict(uri="qemu+unix:///system?socket=/nonexistent", name="x"), "connect to"),
    ],
)
def test_refusals_leave_nothing(overrides, message, test_client):
    before = sorted(test_client.find_pool("default-pool").listVolumes())
    with pytest.raises(RunError) as error:
        run(params(**overrides), check_mode=False, diff=False)
    assert message in str(error.value)
    assert sorted(test_client.find_pool("default-pool").listVolumes()) == before


@pytest.fixture
def public_dir():
    """A directory every user may search (pytest's own tmp_path is under a private one)."""
    path = tempfile.mkdtemp(prefix="rv-public-")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path)


def test_failed_step_rolls_back_the_new_volume(unique_name, test_client, public_dir):
    # source_url + grow: the test driver cannot upload, so the new volume must be removed again.
    name, image = unique_name(".img"), public_dir / "image.img"
    image.write_bytes(b"\0" * 512)
    image.chmod(0o644)
    with pytest.raises(RunError) as error:
        run(params(name=name, format="raw", source_url="file://%s" % image, capacity="1M"), check_mode=False, diff=False)
    assert "rolled back: create default-pool/%s" % name in str(error.value)
    assert not error.value.changed
    assert test_client.find_volume(test_client.find_pool("default-pool"), name) is None


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/hostname", "source_url: /etc/hostname is one of the host's own files"),
        ("file:///%65tc/shadow", "source_url: /etc/shadow is one of the host's own files"),
        ("file:///proc/self/environ", "is one of the host's own files"),
    ],
)
def test_file_urls_of_the_host_files_are_refused(unique_name, test_client, check_mode, url, message):
    with pytest.raises(RunError, match=message):
        run(params(name=unique_name(".img"), format="raw", source_url=url, capacity="1M"), check_mode=check_mode, diff=False)


@pytest.mark.parametrize("check_mode", [True, False])
def test_file_urls_of_files_others_may_not_read_are_refused(unique_name, test_client, public_dir, check_mode):
    key = public_dir / "id_ed25519"
    key.write_bytes(b"private key")
    key.chmod(0o600)
    with pytest.raises(RunError, match="not every user of the host may read"):
        run(
            params(name=unique_name(".img"), format="raw", source_url="file://%s" % key, capacity="1M"),
            check_mode=check_mode,
            diff=False,
        )
    key.chmod(0o644)
    public_dir.chmod(0o700)
    with pytest.raises(RunError, match="not every user of the host may read"):
        run(
            params(name=unique_name(".img"), format="raw", source_url="file://%s" % key, capacity="1M"),
            check_mode=check_mode,
            diff=False,
        )


def test_resolve_permissions_accepts_yaml_octal_numbers_and_names():
    assert resolve_permissions({"uri": "qemu+ssh://root@hv1/system", "owner": "107", "group": "0"}).owner == 107
    perms = resolve_permissions({"mode": 0o640, "owner": "root", "group": "0"})
    assert (perms.mode, perms.owner, perms.group) == ("0640", 0, 0)


def define_user(test_client, guest_name, path):
    xml = (
        "<domain type='test'><name>%s</name><memory>262144</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk></devices></domain>" % (guest_name, path)
    )
    return test_client.conn.defineXML(xml)


def test_a_volume_a_guest_uses_is_deleted_only_with_delete_in_use(unique_name, test_client):
    name = unique_name()
    run(params(name=name, capacity="1M"), check_mode=False, diff=False)
    domain = define_user(test_client, unique_name(""), "/default-pool/" + name)
    try:
        with pytest.raises(RunError, match="is used by guest.*set delete_in_use: true"):
            run(params(name=name, state="absent"), check_mode=True, diff=False)
        assert run(params(name=name, state="absent", delete_in_use=True), check_mode=False, diff=False)["changed"]
    finally:
        domain.undefine()


def test_a_volume_that_backs_another_is_kept(unique_name, test_client):
    base, overlay = unique_name(), unique_name()
    run(params(name=base, capacity="1M"), check_mode=False, diff=False)
    run(params(name=overlay, backing_volume=base), check_mode=False, diff=False)
    with pytest.raises(RunError, match="backs volume\\(s\\) default-pool/%s" % overlay):
        run(params(name=base, state="absent"), check_mode=False, diff=False)
    for name in (overlay, base):
        run(params(name=name, state="absent"), check_mode=False, diff=False)


@pytest.mark.parametrize(
    "given, message",
    [
        ({"mode": "07777"}, "between 0000 and 0777"),
        ({"mode": "4755"}, "between 0000 and 0777"),
        ({"mode": 0o4755}, "between 0000 and 0777"),
        ({"mode": True}, "octal text"),
        ({"owner": "\u0661\u0660\u0660"}, "owner: user '\u0661\u0660\u0660' is neither a numeric id"),
        ({"owner": "root\x00"}, "owner: user 'root\\x00' is neither"),
        ({"group": "4294967295"}, "group: group id 4294967295 is larger than"),
        # Over a remote URI, names would be looked up on the wrong machine.
        ({"uri": "qemu+ssh://root@hv1/system", "owner": "root"}, "owner: give the numeric user id over a remote uri"),
        ({"uri": "qemu+tls://hv1:16514/system", "group": "kvm"}, "group: give the numeric group id over a remote uri"),
    ],
)
def test_resolve_permissions_refuses(given, message):
    """Modes beyond 0777 (setuid, setgid, sticky), non-ASCII ids and odd names are refused at plan time."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError

    with pytest.raises(PlanError) as error:
        resolve_permissions(given)
    assert message in str(error.value)


# -- what a download left on the host ----------------------------------------------------------------
def _image(tmp_path, content=b"downloaded bytes" * 64):
    path = tmp_path / "d.img"
    path.write_bytes(content)
    return str(path), Volume(name="d.img", capacity=len(content), format="raw", path=str(path))


def test_incomplete_mark_is_read_on_local_files_only(tmp_path):
    path, described = _image(tmp_path)
    assert not is_incomplete(described, local=True)
    os.setxattr(path, INCOMPLETE_XATTR, b"1")
    assert is_incomplete(described, local=True)
    assert not is_incomplete(described, local=False)  # a remote host's path says nothing about this one
    assert not is_incomplete(described.with_changes(path=str(tmp_path / "gone")), local=True)


def test_existing_digest_of_a_grown_download_verifies_its_prefix(tmp_path):
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    digest = hashlib.sha256(content).hexdigest()
    download.remember_digest(path, "sha256", digest, len(content))
    assert existing_digest(None, None, described, "sha256") == digest
    with open(path, "ab") as grown:  # what capacity does to a raw download
        grown.truncate(4 << 20)
    assert existing_digest(None, None, described, "sha256") == digest
    with open(path, "r+b") as changed:
        changed.write(b"X")
    assert existing_digest(None, None, described, "sha256") != digest


def test_existing_digest_without_a_record_reads_everything(tmp_path):
    content = b"abc" * 1000
    _path, described = _image(tmp_path, content)
    assert existing_digest(None, None, described, "md5") == hashlib.md5(content).hexdigest()


# == hostile and careless inputs (each a way found to break a promise) =========================
def test_a_half_made_download_is_refused_when_asserted(test_client, file_pool):
    """What holds: the volume itself, asserted or grown."""
    half_made_download(test_client, file_pool, "half.img")
    for extra in ({}, {"capacity": "2M"}):
        with pytest.raises(RunError, match="never finished"):
            run(params(pool=file_pool, name="half.img", **extra), check_mode=True, diff=False)


def test_a_half_made_download_is_not_cloned(test_client, file_pool):
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(params(pool=file_pool, name="copy.img", clone_from="half.img"), check_mode=True, diff=False)


def test_a_half_made_download_does_not_back_an_overlay(test_client, file_pool):
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(params(pool=file_pool, name="overlay.qcow2", backing_volume="half.img"), check_mode=True, diff=False)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_a_backing_file_named_through_a_link_and_dot_dot_is_found_where_the_kernel_finds_it(test_client, tmp_path):
    # pool/linked -> elsewhere/deeper: the overlay's 'linked/../base.qcow2' is elsewhere/base.qcow2.
    # Folding the '..' as text named pool/base.qcow2 instead: the real base could be deleted under
    # its overlay, and an unrelated pool/base.qcow2 was held.
    (tmp_path / "elsewhere" / "deeper").mkdir(parents=True)
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "linked").symlink_to(tmp_path / "elsewhere" / "deeper")
    for base in (tmp_path / "elsewhere" / "base.qcow2", tmp_path / "pool" / "base.qcow2"):
        subprocess.run(["qemu-img", "create", "-f", "qcow2", str(base), "1M"], check=True, capture_output=True)
    overlay = str(tmp_path / "pool" / "overlay.qcow2")
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-F", "qcow2", "-b", "linked/../base.qcow2", overlay],
        check=True,
        capture_output=True,
    )
    pool = str(tmp_path / "pool")
    assert _files_backed_by(test_client, pool, str(tmp_path / "elsewhere" / "base.qcow2")) == ["overlay.qcow2"]
    assert _files_backed_by(test_client, pool, str(tmp_path / "pool" / "base.qcow2")) == []


def _files_backed_by(client, directory, path):
    """The files of a pool's ``directory`` whose backing file (or data file) is the file at ``path``."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common import usage

    return usage._files_naming(client, None, directory, usage.path_test(path, usage.same_file_as(path)))


# -- the digest remembered on a downloaded file ---------------------------------------------------------
# A digest no content has: returned only when existing_digest took it from the record, not from the bytes.
REMEMBERED = "ab" * 32


def _remember(path, digest=REMEMBERED, length=None, algorithm="sha256"):
    download.remember_digest(path, algorithm, digest, length)


@pytest.mark.parametrize("length", [None, len(b"downloaded bytes" * 64)])
def test_remembered_digest_is_reused_while_size_and_mtime_are_unchanged(tmp_path, length):
    path, described = _image(tmp_path)
    _remember(path, length=length)
    assert existing_digest(None, None, described, "sha256") == REMEMBERED


def test_remembered_digest_is_not_reused_after_the_content_changed(tmp_path):
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    _remember(path)
    changed = b"X" + content[1:]
    with open(path, "r+b") as image:  # same size: only the mtime tells
        image.write(changed[:1])
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1))
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(changed).hexdigest()


def test_remembered_digest_is_not_reused_after_the_mtime_moved(tmp_path):
    """A touched file may have been rewritten with equal size: its bytes are read again."""
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    _remember(path)
    info = os.stat(path)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - 10**9))
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(content).hexdigest()


def test_remembered_digest_without_length_is_not_reused_after_growth(tmp_path):
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    _remember(path)
    with open(path, "ab") as grown:
        grown.write(b"\0" * 512)
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(content + b"\0" * 512).hexdigest()


def test_remembered_digest_of_another_algorithm_is_not_used(tmp_path):
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    _remember(path, algorithm="md5", digest="cd" * 16)
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"garbage",
        b"sha256:12:34",  # too few fields
        b"sha256:1:2:3:4:5:" + REMEMBERED.encode(),  # too many
        b"sha256:\xff\xfe:1:" + REMEMBERED.encode(),  # not ASCII
        b"sha256:size:mtime:" + REMEMBERED.encode(),  # stamp of no file
    ],
    ids=["empty", "garbage", "short", "long", "binary", "words"],
)
def test_a_corrupt_record_is_ignored(tmp_path, record):
    content = b"downloaded bytes" * 64
    path, described = _image(tmp_path, content)
    os.setxattr(path, download.DIGEST_XATTR, record)
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(content).hexdigest()


def test_a_missing_record_reads_the_file(tmp_path):
    content = b"downloaded bytes" * 64
    _path, described = _image(tmp_path, content)
    assert existing_digest(None, None, described, "sha256") == hashlib.sha256(content).hexdigest()


def test_a_remembered_digest_matching_the_checksum_converges_without_the_network(test_client, file_pool, unique_name):
    """The run reads the record, not the server (the URL points at a closed port) and not the bytes."""
    name = unique_name(".img")
    run(params(pool=file_pool, name=name, capacity="1M", format="raw"), check_mode=False, diff=False)
    path = volume_path(test_client, file_pool, name)
    with open(path, "wb") as image:
        image.write(b"downloaded bytes" * 64)
    _remember(path)
    wanted = params(
        pool=file_pool, name=name, format="raw", source_url="http://127.0.0.1:9/d.img", checksum="sha256:" + REMEMBERED
    )
    assert not run(wanted, check_mode=False, diff=False)["changed"]
    with open(path, "ab") as grown:  # no longer what was verified: the bytes are read and differ
        grown.write(b"more")
    with pytest.raises(RunError, match="exists with different content"):
        run(wanted, check_mode=True, diff=False)


def test_a_volume_a_guest_boots_as_kernel_or_initrd_is_kept(unique_name, test_client):
    kernel, initrd = unique_name(".img"), unique_name(".img")
    for name in (kernel, initrd):
        run(params(name=name, capacity="1M", format="raw"), check_mode=False, diff=False)
    guest = unique_name("")
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>262144</memory><os><type>hvm</type><kernel>/default-pool/%s</kernel>"
        "<initrd>/default-pool/%s</initrd></os><devices/></domain>" % (guest, kernel, initrd)
    )
    try:
        for name in (kernel, initrd):
            with pytest.raises(RunError, match="is used by guest\\(s\\) %s" % guest):
                run(params(name=name, state="absent"), check_mode=False, diff=False)
    finally:
        domain.undefine()
    for name in (kernel, initrd):
        run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_a_pool_is_refreshed_only_for_a_volume_missing_from_its_list(unique_name, test_client, file_pool, tmp_path, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    refreshed = []
    refresh = Client.refresh_pool_unless_busy

    def counted_refresh(self, pool):
        refreshed.append(pool.name())
        refresh(self, pool)

    monkeypatch.setattr(Client, "refresh_pool_unless_busy", counted_refresh)
    name = unique_name()
    run(params(pool=file_pool, name=name, capacity="1M"), check_mode=False, diff=False)
    assert not run(params(pool=file_pool, name=name, capacity="1M"), check_mode=False, diff=False)["changed"]
    assert run(params(pool=file_pool, name=name, capacity="2M"), check_mode=True, diff=False)["changed"]
    assert refreshed == []  # no file of a new volume's name in the pool's directory: nothing to list
    # A file another tool put there: the pool is refreshed once so libvirt lists it.
    (tmp_path / "unlisted.img").write_bytes(b"")
    run(params(pool=file_pool, name="unlisted.img", capacity="1M"), check_mode=True, diff=False)
    assert refreshed == [file_pool]
    run(params(pool=file_pool, name=name, state="absent"), check_mode=False, diff=False)


def test_a_local_directory_pool_is_sized_from_its_file_system(test_client, file_pool, tmp_path, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
    from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import pool_space

    monkeypatch.setattr(Client, "refresh_pool_unless_busy", lambda self, pool: pytest.fail("refreshed"))
    described = pool_space(test_client, test_client.find_pool(file_pool))
    fs = os.statvfs(str(tmp_path))
    assert described.capacity == fs.f_blocks * fs.f_frsize
    # Others write to the same file system meanwhile.
    assert abs(described.available - fs.f_bfree * fs.f_frsize) < 256 << 20


def test_an_overlay_file_in_a_directory_pool_keeps_its_backing_volume(test_client, file_pool, tmp_path, unique_name):
    import struct

    base = unique_name()
    run(params(pool=file_pool, name=base, capacity="1M"), check_mode=False, diff=False)
    backing = str(tmp_path / base).encode()
    # An overlay another tool made (qemu-img): libvirt has not listed it yet, its header names the base.
    (tmp_path / "overlay.qcow2").write_bytes(struct.pack(">4sIQI", b"QFI\xfb", 3, 64, len(backing)) + b"\0" * 44 + backing)
    with pytest.raises(RunError, match="backs volume\\(s\\) %s/overlay.qcow2" % file_pool):
        run(params(pool=file_pool, name=base, state="absent"), check_mode=False, diff=False)
    (tmp_path / "overlay.qcow2").unlink()
    run(params(pool=file_pool, name=base, state="absent"), check_mode=False, diff=False)


def test_the_data_file_of_an_image_is_kept_while_the_image_or_its_guest_needs_it(test_client, file_pool, tmp_path, unique_name):
    """QEMU reads and writes a qcow2 image's external data file (qemu-img create -o data_file=):
    deleting it would lose the image's data, whether a guest uses the image or not."""
    data, guest = unique_name(), unique_name("")
    run(params(pool=file_pool, name=data, capacity="1M"), check_mode=False, diff=False)
    front = tmp_path / "front.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (tmp_path / data), str(front), "1M"], check=True
    )
    for check_mode in (True, False):
        with pytest.raises(
            RunError, match="backs volume\\(s\\) %s/front.qcow2 \\(their backing file or data file\\)" % file_pool
        ):
            run(params(pool=file_pool, name=data, state="absent"), check_mode=check_mode, diff=False)
    moved = tmp_path.parent / ("%s-front.qcow2" % guest)
    front.rename(moved)  # out of every pool: only the guest that uses it needs the data file now
    domain = define_user(test_client, guest, str(moved))
    try:
        with pytest.raises(RunError, match="is used by guest\\(s\\) %s" % guest):
            run(params(pool=file_pool, name=data, state="absent"), check_mode=False, diff=False)
    finally:
        domain.undefine()
        moved.unlink()
    assert run(params(pool=file_pool, name=data, state="absent"), check_mode=False, diff=False)["changed"]


# -- the format a volume was made with ---------------------------------------------------------------
def _made_as(path, fmt):
    try:
        os.setxattr(str(path), "user.remotevirt.format", fmt.encode("ascii"))
    except OSError:
        pytest.skip("no user extended attributes here")


@pytest.mark.parametrize("probed", ["qcow2", "qed", "vmdk"])
def test_a_raw_volume_libvirt_reads_as_another_format_is_refused(tmp_path, probed):
    """libvirt probes a directory pool's files from their content: a guest that writes a qcow2
    header into its raw disk would have it read as qcow2, its backing file any host file."""
    image = tmp_path / "base.img"
    image.write_bytes(b"QFI\xfb")
    _made_as(image, "raw")
    described = Volume(name="base.img", capacity=1, format=probed, path=str(image))
    with pytest.raises(PlanError, match="volume p/base.img was made as raw, but its content now reads as %s" % probed):
        refuse_reprobed(described, True, "volume p/base.img")
    refuse_reprobed(described, False, "volume p/base.img")  # over a remote URI the file is not this host's


def test_a_raw_volume_that_reads_as_qcow2_converges_as_made_and_is_left_as_it_is(
    test_client, file_pool, unique_name, monkeypatch
):
    """Its own re-run (format raw, or none) converges and reports it as made, without the backing
    file its header names; a change (libvirt would make it as qcow2) and a use as qcow2 are refused,
    in check mode as in the real run; a deletion goes through."""
    from runner_params import file_volume

    name = unique_name(".img")
    path = file_volume(test_client, file_pool, name)
    _made_as(path, "raw")
    monkeypatch.setattr(Client, "files_here", lambda self: True)
    described = Client.describe_volume

    def probed(self, volume):  # as libvirt reads the file once its pool is refreshed
        found = described(self, volume)
        return (
            found.with_changes(format="qcow2", backing_path="/etc/shadow", backing_format="raw") if found.name == name else found
        )

    monkeypatch.setattr(Client, "describe_volume", probed)
    for fmt in ("raw", None):
        for check_mode in (True, False):
            result = run(params(pool=file_pool, name=name, capacity="4K", format=fmt), check_mode=check_mode, diff=True)
            assert not result["changed"] and "/etc/shadow" not in str(result)
            assert (result["volume"]["format"], result["volume"]["capacity"]) == ("raw", 4096)
    for check_mode in (True, False):
        with pytest.raises(RunError, match="now reads as qcow2: .* used only as it is. Ask for it as it is .capacity 4096 bytes"):
            run(params(pool=file_pool, name=name, capacity="8K", format="raw"), check_mode=check_mode, diff=False)
        with pytest.raises(RunError, match="was made as raw, but its content now reads as qcow2: .* not used as qcow2"):
            run(params(pool=file_pool, name=name, capacity="4K", format="qcow2"), check_mode=check_mode, diff=False)
    assert os.path.getsize(path) == 4096
    for check_mode in (True, False):
        deleted = run(params(pool=file_pool, name=name, state="absent"), check_mode=check_mode, diff=True)
        assert deleted["changed"] and "/etc/shadow" not in str(deleted) and 'qcow2"' not in deleted["diff"]["before"]


@pytest.mark.parametrize("made, probed", [("raw", "raw"), ("raw", "iso"), ("qcow2", "qcow2"), ("qcow2", "raw"), (None, "qcow2")])
def test_other_volumes_are_read_as_libvirt_describes_them(tmp_path, made, probed):
    image = tmp_path / "disk.img"
    image.write_bytes(b"")
    if made is not None:
        _made_as(image, made)
    assert recorded_format(str(image)) == made
    refuse_reprobed(Volume(name="disk.img", capacity=1, format=probed, path=str(image)), True, "volume p/disk.img")


def test_a_deletion_takes_turns_on_the_volumes_file_with_a_guest_that_names_it_otherwise(
    unique_name, test_client, file_pool, monkeypatch
):
    """A guest's run names the file by any path (a hard link, a bind mount) and locks the file by
    its identity; a deletion of the volume locks it too, and waits."""
    name = unique_name(".img")
    run(params(pool=file_pool, name=name, capacity="1M", format="raw"), check_mode=False, diff=False)
    path = volume_path(test_client, file_pool, name)
    with open(path, "wb") as out:  # the test driver makes no file
        out.write(b"\0" * 4096)
    monkeypatch.setattr(Client, "files_here", lambda self: True)  # as for a local qemu URI
    monkeypatch.setattr(volume_runner, "VOLUME_LOCK_SECONDS", 0.3)
    info = os.stat(path)
    with changing("test:///default", [file_key((info.st_dev, info.st_ino))], 1, check_mode=False):
        with pytest.raises(RunError, match="another run is still changing a file it uses"):
            run(params(pool=file_pool, name=name, state="absent"), check_mode=False, diff=False)
    assert test_client.find_volume(test_client.find_pool(file_pool), name) is not None


def test_a_deletion_of_a_volume_made_while_it_waited_stops(unique_name, test_client, file_pool, tmp_path, monkeypatch):
    """The deletion looks its volume's file up before it locks; a volume missing then (another run
    was making it) and there once the locks are held is not deleted unlocked: the run stops."""
    volume = unique_name(".img")
    made = []
    real = volume_runner.changing

    def made_meanwhile(uri, keys, timeout, check_mode):
        if not made:
            made.append(True)
            with monkeypatch.context() as making:  # made by libvirt alone: the test driver makes no file to rename
                making.setattr(Client, "files_here", lambda self: False)
                run(params(pool=file_pool, name=volume, capacity="1M", format="raw"), check_mode=False, diff=False)
            with open(volume_path(test_client, file_pool, volume), "wb") as out:  # the test driver makes no file
                out.write(b"\0" * 4096)
        return real(uri, keys, timeout, check_mode)

    monkeypatch.setattr(Client, "files_here", lambda self: True)  # as for a local qemu URI
    monkeypatch.setattr(volume_runner, "changing", made_meanwhile)
    with pytest.raises(RunError, match="was made again while this run waited"):
        run(params(pool=file_pool, name=volume, state="absent"), check_mode=False, diff=False)
    assert test_client.find_volume(test_client.find_pool(file_pool), volume) is not None


def test_an_overlay_is_refused_on_a_volume_whose_data_file_a_guest_writes(test_client, file_pool, tmp_path, unique_name):
    """An overlay reads its base and, through it, the base's data file: a guest writing that data
    file directly (a raw disk on it) would corrupt the overlay."""
    base, guest = unique_name(), unique_name("")
    data = tmp_path.parent / ("%s-data.raw" % guest)
    run(params(pool=file_pool, name=base, capacity="1M", format="qcow2"), check_mode=False, diff=False)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % data, str(tmp_path / base), "1M"], check=True
    )
    domain = define_user(test_client, guest, str(data))
    try:
        for check_mode in (True, False):
            with pytest.raises(RunError, match="is a writable disk of guest %s" % guest):
                run(params(pool=file_pool, name=unique_name(), backing_volume=base), check_mode=check_mode, diff=False)
    finally:
        domain.undefine()
        data.unlink()


# -- a download whose end the server does not mark ---------------------------------------------------------
@pytest.mark.parametrize("check_mode", [True, False])
def test_a_download_served_without_a_length_needs_a_checksum(unique_name, test_client, scripted_http, check_mode):
    """Cut short, such a body looks complete: check mode refuses it as the real run would, and no
    volume is made."""
    from scripted_http import Route

    scripted_http.routes["/d.img"] = Route(b"\x01" * 4096, length=None)
    name = unique_name(".img")
    wanted = params(name=name, format="raw", source_url=scripted_http.url("/d.img"), capacity="1M")
    with pytest.raises(RunError, match=r"d\.img: served without a length .*give checksum"):
        run(wanted, check_mode=check_mode, diff=False)
    assert name not in test_client.find_pool(POOL).listVolumes()


def test_a_download_served_without_a_length_is_planned_with_a_checksum(unique_name, scripted_http):
    from scripted_http import Route

    body = b"\x01" * 4096
    scripted_http.routes["/d.img"] = Route(body, length=None)
    checksum = "sha256:" + hashlib.sha256(body).hexdigest()
    wanted = params(
        name=unique_name(".img"), format="raw", source_url=scripted_http.url("/d.img"), checksum=checksum, capacity="1M"
    )
    assert run(wanted, check_mode=True, diff=False)["changed"]


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_compressed_download_served_without_a_length_needs_a_checksum(unique_name, test_client, scripted_http, check_mode):
    """Two bzip2 members (as pbzip2 writes) cut after the first decompress cleanly: the end must be marked."""
    import bz2

    from scripted_http import Route

    first = bz2.compress(b"\x01" * 65536)
    scripted_http.routes["/d.img.bz2"] = Route(first + bz2.compress(b"\x02" * 65536), length=None, send=len(first))
    name = unique_name(".img")
    wanted = params(name=name, format="raw", source_url=scripted_http.url("/d.img.bz2"), capacity="1M")
    with pytest.raises(RunError, match=r"d\.img\.bz2: served without a length .*give checksum"):
        run(wanted, check_mode=check_mode, diff=False)
    assert name not in test_client.find_pool(POOL).listVolumes()


# -- what check mode predicts of a download ----------------------------------------------------------------
def test_check_mode_predicts_a_qcow2_downloads_capacity_from_its_header(unique_name, scripted_http):
    """libvirt reports the disk size the image's header gives once the image is in the volume."""
    import lzma

    from qcow2_headers import qcow2_header
    from scripted_http import Route

    image = qcow2_header(3 << 30) + b"\0" * 70000
    scripted_http.routes["/i.qcow2"] = Route(image)
    scripted_http.routes["/i.qcow2.xz"] = Route(lzma.compress(image))
    for path in ("/i.qcow2", "/i.qcow2.xz"):
        wanted = params(name=unique_name(".qcow2"), format="qcow2", source_url=scripted_http.url(path))
        result = run(wanted, check_mode=True, diff=True)
        assert result["volume"]["capacity"] == 3 << 30
        assert '<capacity unit="bytes">%d</capacity>' % (3 << 30) in result["diff"]["after"]


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_compressed_download_that_is_no_image_is_refused_when_planning(unique_name, test_client, scripted_http, check_mode):
    """An error page behind a .xz URL, or xz data that is no qcow2 image: refused by check mode as by
    the real run, before any volume is made."""
    import lzma

    from scripted_http import Route

    scripted_http.routes["/page.qcow2.xz"] = Route(b"<html>sign in</html>", content_type="text/html")
    scripted_http.routes["/text.qcow2.xz"] = Route(lzma.compress(b"not an image\n" * 4000))
    for path, message in [("/page.qcow2.xz", "an HTML page, not xz-compressed data"), ("/text.qcow2.xz", "not a qcow2 image")]:
        name = unique_name(".qcow2")
        with pytest.raises(RunError, match=message):
            run(params(name=name, format="qcow2", source_url=scripted_http.url(path)), check_mode=check_mode, diff=False)
        assert name not in test_client.find_pool(POOL).listVolumes()


def test_a_raw_clone_of_raw_content_that_is_an_image_header_is_refused(test_client, file_pool):
    """A guest wrote a qcow2 header naming a host file into its raw disk: a raw copy of it would be
    listed by libvirt as that qcow2 image, backed by the host file. A qcow2 copy keeps the bytes as data."""
    run(params(pool=file_pool, name="src.img", capacity="1M", format="raw"), check_mode=False, diff=False)
    with open(volume_path(test_client, file_pool, "src.img"), "wb") as image:
        image.write(qcow2_header(1 << 20, backing=b"/etc/shadow"))
    for check_mode in (True, False):
        with pytest.raises(RunError, match="clone_from volume .*src.img is raw, but its content reads as an image"):
            run(params(pool=file_pool, name="copy.img", clone_from="src.img", format="raw"), check_mode=check_mode, diff=False)
    planned = run(params(pool=file_pool, name="copy.qcow2", clone_from="src.img", format="qcow2"), check_mode=True, diff=False)
    assert [step["action"] for step in planned["plan"]] == ["clone"]


def test_a_file_under_a_staging_name_is_a_runs_leftover_only_while_the_mark_names_it(tmp_path):
    """The mark set before libvirt makes the volume ('1'), or the device, inode and token of the file
    made (which carries the token); a file made later under the name is somebody's volume, even with
    the inode number of the one cut off (file systems reuse them at once)."""
    staging = ".copy.img.part"
    leftover = tmp_path / staging
    leftover.write_bytes(b"half")
    assert not volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())
    os.setxattr(tmp_path, staging_xattr(staging), b"1")
    assert volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())
    info = leftover.stat()
    os.setxattr(tmp_path, staging_xattr(staging), b"%d:%d:c0ffee" % (info.st_dev, info.st_ino))
    assert not volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())  # the file has no token
    os.setxattr(leftover, STAGING_TOKEN_XATTR, b"bad")
    assert not volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())
    os.setxattr(leftover, STAGING_TOKEN_XATTR, b"c0ffee")
    assert volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())
    leftover.unlink()
    leftover.write_bytes(b"somebody's volume")  # the same inode number, as often as not
    assert not volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())
    os.setxattr(tmp_path, staging_xattr(staging), b"%d:%d" % (info.st_dev, info.st_ino))  # no token at all
    assert not volume_runner._marked_as_staged(str(tmp_path), staging, leftover.stat())


@pytest.mark.parametrize("source_option", ["clone_from", "backing_volume"])
def test_a_clone_or_an_overlay_takes_turns_with_a_run_that_changes_its_source(
    unique_name, test_client, monkeypatch, source_option
):
    """A deletion of the source while the clone copies it would be refused halfway by libvirt (a guest's
    removal would stop after undefining it), and an overlay would lose its backing file: the clone and
    the overlay hold the source's lock, so such a run waits; here the source is held, and the clone waits."""
    source, made = unique_name(".qcow2"), unique_name(".qcow2")
    run(params(name=source, capacity="1M", format="qcow2"), check_mode=False, diff=False)
    monkeypatch.setattr(volume_runner, "VOLUME_LOCK_SECONDS", 0.3)
    with changing("test:///default", [volume_key(POOL, source)], 1, check_mode=False):
        with pytest.raises(RunError, match="another run"):
            run(params(name=made, format="qcow2", **{source_option: source}), check_mode=False, diff=False)
    assert made not in volumes(test_client)
    assert run(params(name=made, format="qcow2", **{source_option: source}), check_mode=False, diff=False)["changed"]


def test_check_mode_waits_for_another_run_on_the_volume_and_plans_from_what_it_made(unique_name, test_client):
    """A check-mode run while another run makes the volume (a download) waits for it, as the real
    run would, and plans from the whole volume: nothing to do, not a deletion of the half-made one."""
    name = unique_name(".qcow2")
    ready = threading.Event()

    def other_run():
        with changing("test:///default", [volume_key(POOL, name)], 1, check_mode=False):
            ready.set()
            time.sleep(0.3)
            volume = (
                "<volume><name>%s</name><capacity unit='bytes'>1048576</capacity><target><format type='qcow2'/></target></volume>"
            )
            test_client.find_pool(POOL).createXML(volume % name, 0)  # what that run makes, under its lock

    made = threading.Thread(target=other_run)
    made.start()
    assert ready.wait(2)
    try:
        assert run(params(name=name, capacity="1M"), check_mode=True, diff=False)["plan"] == []
    finally:
        made.join()


def test_check_mode_gives_up_waiting_as_the_real_run_does(unique_name, test_client, monkeypatch):
    name = unique_name(".qcow2")
    monkeypatch.setattr(volume_runner, "VOLUME_LOCK_SECONDS", 0.3)
    with changing("test:///default", [volume_key(POOL, name)], 1, check_mode=False):
        for check_mode in (True, False):
            with pytest.raises(RunError, match="another run is still changing volume %s/%s on this host" % (POOL, name)):
                run(params(name=name, capacity="1M"), check_mode=check_mode, diff=False)
    assert name not in volumes(test_client)


def test_a_second_name_of_the_volume_is_a_runs_leftover_only_while_the_directory_marks_it(tmp_path):
    """An admin's own hard link under the staging name is theirs: refused by a new volume's run, never
    deleted; a second name left between the link and the removal of a run's staging name carries the mark."""
    volume = tmp_path / "disk.img"
    volume.write_bytes(b"data")
    os.link(volume, tmp_path / ".disk.img.part")
    existing = Volume(name="disk.img", capacity=4, path=str(volume))
    assert volume_runner.staged_leftover(None, None, str(tmp_path), "disk.img", existing) == STAGED_FOREIGN
    info = os.stat(volume)
    os.setxattr(volume, STAGING_TOKEN_XATTR, b"c0ffee")
    os.setxattr(tmp_path, staging_xattr(".disk.img.part"), b"%d:%d:c0ffee" % (info.st_dev, info.st_ino))
    assert volume_runner.staged_leftover(None, None, str(tmp_path), "disk.img", existing) == STAGED_SECOND_NAME


@pytest.mark.parametrize(
    "pool_type, mode, owner, refused",
    [
        ("dir", 0o755, 0, False),
        ("dir", 0o777, 0, True),
        ("dir", 0o775, 0, True),
        ("dir", 0o1777, 0, True),
        ("dir", 0o755, 65534, True),
        ("netfs", 0o755, 65534, False),  # an export's owner is the admin's choice (root squashed to it)
        ("netfs", 0o777, 65534, True),
        ("fs", 0o757, 0, True),
    ],
)
def test_a_new_volume_is_not_made_where_another_user_may_put_a_link_under_its_name(tmp_path, pool_type, mode, owner, refused):
    directory = tmp_path / "pool"
    directory.mkdir()
    os.chmod(directory, mode)
    os.chown(directory, owner, 0)
    problem = volume_runner._new_volume_directory_problem(
        Pool(name="p", type=pool_type, target_path=str(directory)), str(directory)
    )
    assert (problem is not None) == refused
    if refused:
        assert problem.startswith("the directory of pool p %s" % directory)


def test_a_new_volume_is_not_made_where_another_user_could_make_the_way_lead_elsewhere(tmp_path):
    """A pool's directory reached through a directory of another user (who could point a link on the way
    at a directory of theirs once the run has judged the path)."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "real").mkdir()
    (theirs / "pool").symlink_to(theirs / "real")
    os.chown(theirs, 65534, 65534)
    directory = str(theirs / "pool")
    for pool_type in ("dir", "fs", "netfs"):
        problem = volume_runner._new_volume_directory_problem(Pool(name="p", type=pool_type, target_path=directory), directory)
        assert problem is not None and "belongs to uid 65534" in problem

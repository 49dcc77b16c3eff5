"""virt_pool_volume_info's flow through libvirt's embedded test driver (no daemon, real libvirt calls)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import FORMAT_XATTR
from ansible_collections.remotevirt.install.plugins.module_utils._info.volumes import as_made, run
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume_info

POOL = "default-pool"  # the test driver's own pool, under /default-pool

VOLUME_XML = """<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>
<target><format type='{format}'/></target>{backing}</volume>"""
BACKING_XML = "<backingStore><path>{path}</path><format type='qcow2'/></backingStore>"
GUEST_XML = """<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os><devices>{disks}</devices></domain>"""
VOLUME_DISK = "<disk type='volume' device='disk'><source pool='{pool}' volume='{volume}'/><target dev='{target}'/></disk>"
FILE_CDROM = "<disk type='file' device='cdrom'><source file='{path}'/><target dev='{target}' bus='sata'/><readonly/></disk>"


def params(**overrides):
    """Every key of virt_pool_volume_info's argument_spec, as AnsibleModule passes them."""
    base = {name: option.get("default") for name, option in virt_pool_volume_info.argument_spec().items()}
    base.update(uri="test:///default")
    base.update(overrides)
    return base


@pytest.fixture
def host(test_client, unique_name):
    """A base image, an overlay on it, an ISO and an unused volume, with one guest using the overlay
    as a pool volume and the ISO by path; everything removed after."""
    prefix = "rvinfo-" + unique_name("")[-12:].lstrip("-") + "-"
    pool = test_client.find_pool(POOL)
    made = []

    def volume(name, fmt="qcow2", capacity=1 << 30, backing=""):
        made.append(pool.createXML(VOLUME_XML.format(name=prefix + name, capacity=capacity, format=fmt, backing=backing), 0))
        return made[-1].path()

    base = volume("base.qcow2")
    volume("overlay.qcow2", backing=BACKING_XML.format(path=base))
    iso = volume("install.iso", fmt="raw", capacity=4096)
    volume("spare.raw", fmt="raw", capacity=1 << 20)
    disks = VOLUME_DISK.format(pool=POOL, volume=prefix + "overlay.qcow2", target="vda") + FILE_CDROM.format(
        path=iso, target="sda"
    )
    guest = test_client.conn.defineXML(GUEST_XML.format(name=prefix + "guest", disks=disks))
    yield prefix
    guest.undefine()
    for made_volume in made:
        made_volume.delete(0)


def by_name(result, prefix):
    return {volume["name"][len(prefix) :]: volume for volume in result["volumes"] if volume["name"].startswith(prefix)}


def test_volumes_with_their_formats_sizes_and_users(host):
    result = run(params(pool=POOL, name_pattern=host + "*"), False, False)
    assert result["changed"] is False and result["inactive_pools"] == []
    volumes = by_name(result, host)
    assert sorted(volumes) == ["base.qcow2", "install.iso", "overlay.qcow2", "spare.raw"]
    base = volumes["base.qcow2"]
    assert (base["pool"], base["format"], base["capacity"], base["path"]) == (
        POOL,
        "qcow2",
        1 << 30,
        "/default-pool/" + host + "base.qcow2",
    )
    assert isinstance(base["allocation"], int)
    assert base["used_by"] == [{"kind": "volume", "name": "%s/%soverlay.qcow2" % (POOL, host)}]
    overlay = volumes["overlay.qcow2"]
    assert (overlay["backing_path"], overlay["backing_format"]) == (base["path"], "qcow2")
    assert overlay["used_by"] == [{"kind": "guest", "name": host + "guest", "device": "disk", "target": "vda"}]
    assert volumes["install.iso"]["used_by"] == [{"kind": "guest", "name": host + "guest", "device": "cdrom", "target": "sda"}]
    assert volumes["spare.raw"]["used_by"] == []


def test_exact_name_and_check_mode(host):
    result = run(params(name=host + "spare.raw"), False, False)
    assert [volume["name"] for volume in result["volumes"]] == [host + "spare.raw"]
    assert run(params(name=host + "spare.raw"), True, False) == result


def test_without_used_by_reads_no_guest(host, monkeypatch):
    read = []
    monkeypatch.setattr(Client, "domain_xml_if_present", lambda self, domain: read.append(domain.name()))
    result = run(params(pool=POOL, name=host + "base.qcow2", used_by=False), False, False)
    assert read == [] and "used_by" not in result["volumes"][0]


def test_each_guest_is_read_once_however_many_volumes(host, test_client, monkeypatch):
    guests = len(test_client.conn.listAllDomains(0))
    reads = []
    original = Client.domain_xml_if_present
    monkeypatch.setattr(
        Client, "domain_xml_if_present", lambda self, domain: reads.append(domain.name()) or original(self, domain)
    )
    result = run(params(), False, False)
    assert len(result["volumes"]) >= 4
    assert len(reads) == guests and len(set(reads)) == guests


def test_inactive_pools_are_named(test_client, unique_name, tmp_path):
    name = "rvinfo-" + unique_name("")[-20:].lstrip("-")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path), 0
    )
    try:
        assert name in run(params(), False, False)["inactive_pools"]
        with pytest.raises(RunError, match="is not active"):
            run(params(pool=name), False, False)
    finally:
        pool.undefine()


def test_a_missing_pool_is_refused():
    with pytest.raises(RunError, match="does not exist"):
        run(params(pool="rvinfo-missing"), False, False)


def test_refresh_is_accepted(host):
    assert by_name(run(params(pool=POOL, refresh=True, name_pattern=host + "*"), False, False), host)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(pool="../etc"), "pool: "),
        (dict(name="a\nb"), "control character"),
        (dict(name="a", name_pattern="a*"), "mutually exclusive"),
    ],
)
def test_bad_input_is_refused_before_libvirt(overrides, message):
    with pytest.raises(RunError, match=message):
        run(params(uri="qemu+ssh://unreachable.invalid/system", **overrides), False, False)


# -- a volume made raw whose content now reads as another format -------------------------------------
def _made_as(path, fmt):
    try:
        os.setxattr(str(path), FORMAT_XATTR, fmt.encode("ascii"))
    except OSError:
        pytest.skip("no user extended attributes here")


@pytest.mark.parametrize("made", ["raw", "iso"])
def test_a_volume_made_plain_that_reads_as_qcow2_is_reported_as_made(tmp_path, made):
    """libvirt probes the content a guest wrote (a qcow2 header naming a host file): the report keeps
    the format the volume was made with and its file's size, names no backing file, and warns."""
    image = tmp_path / "disk.img"
    image.write_bytes(b"QFI\xfb" + bytes(4092))
    _made_as(image, made)
    probed = Volume(
        name="disk.img", capacity=1 << 40, format="qcow2", path=str(image), backing_path="/etc/shadow", backing_format="raw"
    )
    warnings = []
    reported = as_made(probed, True, "p/disk.img", warnings)
    assert (reported.format, reported.capacity, reported.backing_path, reported.backing_format) == (made, 4096, None, None)
    assert warnings == [
        "volume p/disk.img was made as %s, but its content now reads as qcow2 (a header whoever writes it can write): "
        "reported as %s, without the backing file that header names" % (made, made)
    ]


@pytest.mark.parametrize("made, probed", [("iso", "raw"), ("raw", "iso")])
def test_a_volume_made_plain_that_reads_as_the_other_plain_format_is_reported_as_made(tmp_path, made, probed):
    """An iso volume not filled yet reads as raw, a raw one holding an ISO 9660 image as iso: the bytes
    are read alike, so the report keeps the format it was made with, without a warning."""
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(4096))
    _made_as(image, made)
    described = Volume(name="disk.img", capacity=4096, format=probed, path=str(image))
    warnings = []
    assert as_made(described, True, "p/disk.img", warnings) == described.with_changes(format=made) and warnings == []
    assert as_made(described, False, "p/disk.img", warnings) is described


@pytest.mark.parametrize(
    "made, probed, local", [("raw", "raw", True), ("qcow2", "qcow2", True), (None, "qcow2", True), ("raw", "qcow2", False)]
)
def test_other_volumes_are_reported_as_libvirt_describes_them(tmp_path, made, probed, local):
    image = tmp_path / "disk.img"
    image.write_bytes(b"")
    if made is not None:
        _made_as(image, made)
    described = Volume(
        name="disk.img", capacity=1, format=probed, path=str(image), backing_path="/b" if probed == "qcow2" else None
    )
    warnings = []
    assert as_made(described, local, "p/disk.img", warnings) is described and warnings == []

"""Which guests use a volume: references of definitions, and the host cache that reads each guest once per change."""

from __future__ import annotations

import os
import struct

import pytest
from lxml import etree

from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header, usage
from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import (
    Exclusive,
    References,
    StampedCache,
    domains_using,
    image_headers,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import definition_path


def definition(devices="", os_extra=""):
    return etree.fromstring(
        "<domain type='test'><name>g</name><memory>1024</memory><os><type>hvm</type>%s</os><devices>%s</devices></domain>"
        % (os_extra, devices)
    )


DISKS = (
    "<disk type='volume' device='disk'><source pool='p' volume='v.qcow2'/><target dev='vda'/></disk>"
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/raw.img'/><target dev='vdb'/></disk>"
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/top.qcow2'/>"
    "<backingStore type='file'><source file='/img/base.qcow2'/></backingStore><target dev='vdc'/></disk>"
    "<disk type='file' device='cdrom'><source file='/iso/seed.iso'/><target dev='sda'/><readonly/></disk>"
    "<disk type='block' device='disk'><source dev='/dev/vg/lv'/><target dev='vdd'/></disk>"
)


def test_references_of_a_definition():
    references = References.of_definition(
        definition(DISKS, "<kernel>/boot/k//vmlinuz</kernel><initrd>/boot/k/initrd.img</initrd>")
    )
    assert references.volumes == [("p", "v.qcow2")]
    assert references.images == [
        ("/dev/vg/lv", True),
        ("/img/base.qcow2", True),
        ("/img/raw.img", False),
        ("/img/top.qcow2", True),
        ("/iso/seed.iso", True),
    ]
    assert references.boot == ["/boot/k/initrd.img", "/boot/k/vmlinuz"]
    # What the guest writes: its disks' own sources; neither the cdrom nor a backing store.
    assert references.written_volumes == [("p", "v.qcow2")]
    assert references.written_images == ["/dev/vg/lv", "/img/raw.img", "/img/top.qcow2"]


def test_macs_logs_and_fixed_graphics_ports_of_a_definition():
    references = References.of_definition(
        definition(
            "<interface type='network'><mac address='52:54:00:AA:00:01'/><source network='n'/></interface>"
            "<interface type='network'><source network='n'/></interface>"
            "<serial type='file'><source path='/var/log//g.log'/><target port='0'/></serial>"
            "<console type='file'><source path='/var/log/g-console.log'/><target type='serial'/></console>"
            "<serial type='pty'><log file='/var/log/g-pty.log'/><target port='1'/></serial>"
            "<graphics type='vnc' port='5901' autoport='no'/>"
            "<graphics type='spice' port='5902' tlsPort='5903'/>"
            "<graphics type='vnc' port='5904' autoport='yes'/>"  # a running guest's picked port
            "<graphics type='vnc' port='-1'/><graphics type='vnc' port='²'/>"
        )
    )
    assert references.macs == ["52:54:00:aa:00:01"]
    assert references.logs == ["/var/log/g-console.log", "/var/log/g-pty.log", "/var/log/g.log"]
    assert references.graphics_ports == [5901, 5902, 5903]
    assert References.from_json(references.as_json()).as_json() == references.as_json()


def test_what_a_change_adds_is_read_as_for_every_other_guest():
    """A guest's own definitions, before and after a change, are read by the same rules as the
    host's other guests: a MAC in another case, a log through a console or a pty's log file, and a
    port libvirt picked are what they are for those."""
    had = Exclusive.of_xml(
        etree.tostring(
            definition(
                "<interface type='network'><mac address='52:54:00:AA:00:01'/><source network='n'/></interface>"
                "<console type='file'><source path='/var/log/kept.log'/><target type='serial'/></console>"
                "<graphics type='vnc' port='5910' autoport='yes'/>"
            )
        ).decode()
    )
    wanted = Exclusive.of_xml(
        etree.tostring(
            definition(
                "<interface type='network'><mac address='52:54:00:aa:00:01'/><source network='n'/></interface>"
                "<interface type='network'><mac address='52:54:00:aa:00:02'/><source network='n'/></interface>"
                "<serial type='file'><source path='/var/log//kept.log'/><target port='0'/></serial>"
                "<serial type='pty'><log file='/var/log/new.log'/><target port='1'/></serial>"
                "<graphics type='vnc' port='5910' autoport='no'/>"
            )
        ).decode()
    )
    assert wanted.beyond(had) == Exclusive(frozenset({"52:54:00:aa:00:02"}), frozenset({"/var/log/new.log"}), frozenset({5910}))
    assert not any(Exclusive.of_xml(None)) and not any(had.beyond(had))


def test_a_fixed_websocket_port_is_taken_and_one_libvirt_picked_is_not():
    references = References.of_definition(
        definition(
            "<graphics type='vnc' port='5905' autoport='no' websocket='5906'/>"
            "<graphics type='vnc' autoport='yes' websocket='5907'/>"  # autoport picks the display's port only
            "<graphics type='vnc' port='5908' autoport='yes' websocket='5909' websocketGenerated='yes'/>"
            "<graphics type='vnc' autoport='yes' websocket='-1'/>"
        )
    )
    assert references.graphics_ports == [5905, 5906, 5907]


def test_files_a_parallel_port_or_a_channel_writes_are_logs_too():
    references = References.of_definition(
        definition(
            "<parallel type='file'><source path='/var/log/g-parallel.log'/><target port='0'/></parallel>"
            "<channel type='file'><source path='/var/log/g-channel.log'/><target type='virtio' name='c'/></channel>"
            "<channel type='unix'><source mode='bind' path='/run/g.sock'/><log file='/var/log/g-agent.log'/>"
            "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
        )
    )
    assert references.logs == ["/var/log/g-agent.log", "/var/log/g-channel.log", "/var/log/g-parallel.log"]


def test_a_read_only_disk_or_a_cdrom_is_not_written():
    references = References.of_definition(
        definition(
            "<disk type='file' device='disk'><source file='/img/golden.qcow2'/><target dev='vda'/><readonly/></disk>"
            "<disk type='volume' device='cdrom'><source pool='p' volume='install.iso'/><target dev='sda'/></disk>"
        )
    )
    assert references.written_volumes == [] and references.written_images == []
    assert not usage.writes_to(references.as_json(), "p", "golden.qcow2", "/img/golden.qcow2")


@pytest.mark.parametrize(
    "pool, volume, path, written",
    [
        ("p", "v.qcow2", None, True),
        ("p", "other", "/img//top.qcow2", True),
        ("p", "other", "/img/base.qcow2", False),  # only a backing store of the guest's disk
        ("p", "other", "/iso/seed.iso", False),  # a cdrom
        ("q", "v.qcow2", None, False),
    ],
)
def test_writes_to(pool, volume, path, written):
    references = References.of_definition(definition(DISKS)).as_json()
    assert usage.writes_to(references, pool, volume, path) is written


@pytest.mark.parametrize(
    "pool, volume, path, used",
    [
        ("p", "v.qcow2", None, True),
        ("p", "other", "/img/base.qcow2", True),  # a backing store libvirt shows
        ("p", "other", "/iso/seed.iso", True),  # a cdrom
        ("p", "other", "/dev/vg/lv", True),
        ("p", "other", "/boot/k/vmlinuz", True),  # a kernel
        ("p", "other", "/boot/k/initrd.img", True),
        ("p", "other", "/img/chained.qcow2", True),  # found by following top.qcow2's chain on the host
        ("p", "other", "/img/under-raw.qcow2", False),  # a raw disk is never followed
        ("q", "v.qcow2", "/elsewhere", False),
    ],
)
def test_refer_to(pool, volume, path, used):
    chain = backings({"/img/base.qcow2": "/img/chained.qcow2", "/img/raw.img": "/img/under-raw.qcow2"})
    references = References.of_definition(
        definition(DISKS, "<kernel>/boot/k/vmlinuz</kernel><initrd>/boot/k/initrd.img</initrd>")
    )
    assert references.refer_to(pool, volume, path, chain) is used
    # The cached form (as JSON gives it back) answers the same.
    assert usage.refers_to(references.as_json(), pool, volume, path, chain) is used


def backings(chain, data_files=None):
    """An image reader (see usage.ImageReader) of images whose headers name ``chain[path]`` as
    backing file and ``data_files[path]`` as data file."""
    return lambda path: (chain.get(path), (data_files or {}).get(path))


def test_a_backing_loop_ends():
    references = References(images=[("/a", True)])
    assert not references.refer_to("p", "v", "/z", backings({"/a": "/b", "/b": "/a"}))


@pytest.mark.parametrize(
    "path, used",
    [
        ("/img/data-of-top.raw", True),  # the disk's own data file
        ("/img/data-of-base.raw", True),  # the data file of an image on its backing chain
        ("/img/base.qcow2", True),
        ("/img/unrelated.raw", False),
    ],
)
def test_a_data_file_on_the_way_is_used(path, used):
    """QEMU reads and writes a qcow2 image's external data file: a guest uses it as it uses the image."""
    read = backings(
        {"/img/top.qcow2": "/img/base.qcow2"},
        {"/img/top.qcow2": "/img/data-of-top.raw", "/img/base.qcow2": "/img/data-of-base.raw"},
    )
    assert References(images=[("/img/top.qcow2", True)]).refer_to("p", "v", path, read) is used
    # A raw disk's content is not read as a header: it names nothing.
    assert not References(images=[("/img/top.qcow2", False)]).refer_to("p", "v", "/img/data-of-top.raw", read)


def test_the_data_file_of_a_disk_a_guest_writes_is_written_too():
    """An overlay on it would be corrupt after the guest's next write; a backing file's data file is only read."""
    references = References(images=[("/img/top.qcow2", True)], written_images=["/img/top.qcow2"]).as_json()
    read = backings({"/img/top.qcow2": "/img/base.qcow2"}, {"/img/top.qcow2": "/img/top.raw", "/img/base.qcow2": "/img/base.raw"})
    assert usage.writes_to(references, "p", "v", "/img/top.raw", read_image=read)
    assert not usage.writes_to(references, "p", "v", "/img/top.raw")  # remote: headers are not read
    assert not usage.writes_to(references, "p", "v", "/img/base.raw", read_image=read)


def test_a_disk_made_raw_writes_no_data_file_its_header_names(tmp_path):
    """Its guest wrote the header: naming another volume as data file there must not make that volume
    one the guest writes (refused as an overlay's base or an install ISO)."""
    disk = tmp_path / "made-raw.img"
    disk.write_bytes(b"QFI\xfb")
    try:
        os.setxattr(str(disk), "user.remotevirt.format", b"raw")
    except OSError:
        pytest.skip("no user extended attributes here")
    references = References(images=[(str(disk), True)], written_images=[str(disk)]).as_json()
    read = backings({}, {str(disk): "/img/other.img"})
    assert not usage.writes_to(references, "p", "v", "/img/other.img", read_image=read)
    assert usage.writes_to(references, "p", "v", str(disk), read_image=read)


def test_files_opened_through_an_image():
    read = backings({"/a.qcow2": "/b.qcow2"}, {"/a.qcow2": "/a.raw", "/b.qcow2": "/b/../b.raw"})
    assert list(usage.files_opened_through("/a.qcow2", read)) == ["/a.qcow2", "/a.raw", "/b.qcow2", "/b/../b.raw"]
    assert list(usage.files_opened_through("/a.qcow2", None)) == ["/a.qcow2"]


def test_a_file_named_through_a_link_is_the_file(tmp_path):
    """A guest on a link in a pool's directory (or with a link as backing file) uses the file it leads to."""
    (tmp_path / "real.img").write_bytes(b"")
    (tmp_path / "alias.img").symlink_to(tmp_path / "real.img")
    real, alias = str(tmp_path / "real.img"), str(tmp_path / "alias.img")
    by_path = References(images=[(alias, True)])
    assert not by_path.refer_to("p", "real.img", real, None)  # by spelling (remote hosts)
    assert by_path.refer_to("p", "real.img", real, None, usage.same_file_as(real))
    by_volume = References(volumes=[("p", "alias.img")])
    assert not by_volume.refer_to("p", "real.img", real, None, usage.same_file_as(real))
    assert by_volume.refer_to("p", "real.img", real, None, usage.same_file_as(real), [("p", "alias.img")])


def test_a_hard_link_or_a_linked_directory_is_the_file_too(tmp_path):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "real.img").write_bytes(b"")
    os.link(str(tmp_path / "pool" / "real.img"), str(tmp_path / "hard.img"))
    (tmp_path / "linked-pool").symlink_to(tmp_path / "pool")
    real = str(tmp_path / "pool" / "real.img")
    for spelling in (str(tmp_path / "hard.img"), str(tmp_path / "linked-pool" / "real.img")):
        assert References(images=[(spelling, True)]).refer_to("p", "real.img", real, None, usage.same_file_as(real))
    assert not References(images=[(str(tmp_path / "other.img"), True)]).refer_to(
        "p", "real.img", real, None, usage.same_file_as(real)
    )
    assert usage.same_file_as(str(tmp_path / "missing.img")) is None


def test_pool_names_are_the_file_and_the_links_to_it(tmp_path):
    pool, other = tmp_path / "pool", tmp_path / "other"
    pool.mkdir()
    other.mkdir()
    (pool / "real.img").write_bytes(b"")
    (pool / "unrelated.img").write_bytes(b"")
    (pool / "alias.img").symlink_to(pool / "real.img")
    (other / "far.img").symlink_to("../pool/real.img")
    (other / "dangling.img").symlink_to(tmp_path / "gone")
    os.link(str(pool / "real.img"), str(other / "hard.img"))
    directories = [("p", str(pool)), ("o", str(other)), ("missing", str(tmp_path / "missing"))]
    expected = [("o", "far.img"), ("o", "hard.img"), ("p", "alias.img"), ("p", "real.img")]
    for name in (str(pool / "real.img"), str(other / "far.img")):
        names = usage.pool_names_of(directories, name)
        assert sorted(names.volumes) == expected
        assert names.directories == {str(pool), str(other)}  # the missing one was not read
        assert names.paths == {
            os.path.join(str(tmp_path), pool_dir, volume)
            for pool_dir, volume in [("other", "far.img"), ("other", "hard.img"), ("pool", "alias.img"), ("pool", "real.img")]
        }
    assert usage.pool_names_of(directories, str(tmp_path / "gone")) == usage.PoolNames((), frozenset(), frozenset())


def test_a_path_in_a_pool_directory_is_answered_from_its_names_without_a_stat(tmp_path, monkeypatch):
    (tmp_path / "real.img").write_bytes(b"")
    (tmp_path / "alias.img").symlink_to(tmp_path / "real.img")
    (tmp_path / "other.img").write_bytes(b"")
    real = str(tmp_path / "real.img")
    same = usage.same_file_as(real, usage.pool_names_of([("p", str(tmp_path))], real))
    monkeypatch.setattr(usage, "_identity", lambda path: pytest.fail("stat of %s" % path))
    assert same(str(tmp_path / "alias.img")) and not same(str(tmp_path / "other.img"))


def test_stamped_cache_answers_only_while_the_stamp_holds(tmp_path):
    path = str(tmp_path / "cache.json")
    cache = StampedCache(path)
    cache.put("g", [1, 2], {"x": 1})
    cache.save()
    again = StampedCache(path)
    assert again.get("g", [1, 2]) == {"x": 1}
    assert again.get("g", [1, 3]) is None
    assert again.get("g", None) is None
    assert again.get("h", [1, 2]) is None
    again.keep_only([])
    again.save()
    assert StampedCache(path).entries == {}


@pytest.mark.parametrize("content", ["", "{", "[]", '{"version": 1, "entries": []}', '{"version": 99, "entries": {}}'])
def test_a_broken_cache_is_read_as_empty(tmp_path, content):
    path = tmp_path / "cache.json"
    path.write_text(content)
    assert StampedCache(str(path)).entries == {}


def test_a_cache_without_a_file_keeps_nothing():
    cache = StampedCache(None)
    cache.put("g", [1], {"x": 1})
    cache.save()
    assert cache.get("g", [1]) is None


@pytest.fixture
def stamped(monkeypatch, tmp_path):
    """Stamps under the test's control (the test driver keeps no definition files) and a cache in tmp_path."""
    stamps = {}

    def enabled(self, uri):
        self.enabled = True
        self.cache_name = "test"

    monkeypatch.setattr(usage.DefinitionStamps, "__init__", enabled)
    monkeypatch.setattr(usage.DefinitionStamps, "of", lambda self, name, active: stamps.get(name, [name, active]))
    monkeypatch.setattr(usage, "cache_path", lambda what: str(tmp_path / "cache.json"))
    return stamps


def user_xml(name, path):
    return (
        "<domain type='test'><name>%s</name><memory>1024</memory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk></devices></domain>" % (name, path)
    )


def test_each_guest_is_read_once_per_change_whatever_their_number(test_client, stamped, monkeypatch, unique_name):
    names = [unique_name("") for _index in range(12)]
    domains = [test_client.conn.defineXML(user_xml(name, "/img/%s.qcow2" % name)) for name in names]
    reads = []
    read = test_client.domain_definitions
    monkeypatch.setattr(test_client, "domain_definitions", lambda name, active: reads.append(name) or read(name, active))
    try:
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % names[3], None) == [names[3]]
        assert set(names) <= set(reads)
        reads.clear()
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % names[3], None) == [names[3]]
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % names[5], None) == [names[5]]
        assert reads == []
        # A guest defined again (libvirt rewrites its files) is read again, and only that one.
        domains[5].undefine()
        domains[5] = test_client.conn.defineXML(user_xml(names[5], "/img/moved.qcow2"))
        stamped[names[5]] = ["rewritten"]
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % names[5], None) == []
        assert domains_using(test_client, "p", "v", "/img/moved.qcow2", None) == [names[5]]
        assert reads == [names[5]]
    finally:
        for domain in domains:
            domain.undefine()


@pytest.mark.parametrize(
    "field, broken",
    [
        ("macs", [["52:54:00:aa:00:31"]]),
        ("graphics_ports", ["5931"]),
        ("graphics_ports", [True]),
        ("logs", [None]),
        ("images", [["/x"]]),
    ],
)
def test_a_cached_item_of_another_kind_is_read_again(test_client, stamped, unique_name, tmp_path, field, broken):
    """Never a Python error, nor a MAC or port missed, from a damaged cache whose stamps still hold."""
    name = unique_name("")
    devices = "<interface type='network'><mac address='52:54:00:aa:00:31'/><source network='default'/></interface>"
    devices += "<graphics type='vnc' port='5931' autoport='no'/>"
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>1024</memory><os><type>hvm</type></os><devices>%s</devices></domain>"
        % (name, devices)
    )
    try:
        right = dict(usage.guest_references(test_client))[name]
        cache = StampedCache(str(tmp_path / "cache.json"))
        assert cache.entries[name][1] == right
        cache.entries[name][1] = dict(right, **{field: broken})
        cache.changed = True
        cache.save()
        assert dict(usage.guest_references(test_client))[name] == right
    finally:
        domain.undefine()


def test_a_guest_without_a_stamp_is_read_every_time(test_client, stamped, monkeypatch, unique_name):
    name = unique_name("")
    domain = test_client.conn.defineXML(user_xml(name, "/img/x.qcow2"))
    monkeypatch.setattr(usage.DefinitionStamps, "of", lambda self, guest, active: None)
    reads = []
    read = test_client.domain_definitions
    monkeypatch.setattr(test_client, "domain_definitions", lambda name, active: reads.append(name) or read(name, active))
    try:
        for _round in range(2):
            assert domains_using(test_client, "p", "v", "/img/x.qcow2", None) == [name]
        assert reads.count(name) == 2
    finally:
        domain.undefine()


def test_definition_stamps_follow_libvirts_files(monkeypatch, tmp_path):
    config, state = tmp_path / "etc", tmp_path / "run"
    config.mkdir()
    state.mkdir()
    monkeypatch.setattr(usage, "SYSTEM_CONFIG_DIR", str(config))
    monkeypatch.setattr(usage, "SYSTEM_STATE_DIR", str(state))
    monkeypatch.setattr(usage.os, "geteuid", lambda: 0)
    stamps = usage.DefinitionStamps("qemu:///system")
    assert stamps.enabled and not usage.DefinitionStamps("test:///default").enabled
    (config / "g.xml").write_text("<domain/>")
    first = stamps.of("g", False)
    assert first is not None and stamps.of("g", True) is None  # running without a state file: unknown
    (state / "g.xml").write_text("<domain/>")
    running = stamps.of("g", True)
    (tmp_path / "new.xml").write_text("<domain><name>g</name></domain>")
    (tmp_path / "new.xml").replace(config / "g.xml")  # how libvirt saves a definition
    assert stamps.of("g", False) != first and stamps.of("g", True) != running
    assert stamps.of("missing", False) is None and stamps.of("../g", False) is None


def qcow2_overlay(path, backing):
    """A qcow2 header naming ``backing`` (the first bytes qcow2_backing_file reads)."""
    name = backing.encode()
    path.write_bytes(struct.pack(">4sIQI", b"QFI\xfb", 3, 64, len(name)) + b"\0" * 44 + name)


def test_image_headers_are_read_once_per_change_of_the_file(monkeypatch, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    qcow2_overlay(pool / "over.qcow2", "/base.qcow2")
    (pool / "raw.img").write_bytes(b"\0" * 64)
    monkeypatch.setattr(usage, "cache_path", lambda what: str(tmp_path / "cache.json"))
    monkeypatch.setattr(usage.os, "geteuid", lambda: 0)
    opened = []
    kind = image_header.backing_kind
    monkeypatch.setattr(image_header, "backing_kind", lambda path: opened.append(path) or kind(path))
    assert sorted((name, backing) for name, _path, _kind, backing, _data in image_headers(str(pool))) == [
        ("over.qcow2", "/base.qcow2"),
        ("raw.img", None),
    ]
    assert len(opened) == 2
    opened.clear()
    list(image_headers(str(pool)))
    assert opened == []
    qcow2_overlay(pool / "over.qcow2", "/other-base.qcow2")  # rebased in place
    assert (
        dict((name, backing) for name, _path, _kind, backing, _data in image_headers(str(pool)))["over.qcow2"]
        == "/other-base.qcow2"
    )
    assert opened == [str(pool / "over.qcow2")]


def test_a_volume_made_raw_names_no_file_whatever_header_its_guest_wrote(monkeypatch, tmp_path):
    """Its header is the guest's data: a guest could otherwise keep any volume from being deleted
    by naming it, and its removal would be refused; the record's change is a change of the file."""
    pool = tmp_path / "pool"
    pool.mkdir()
    qcow2_overlay(pool / "disk.img", str(pool / "other.img"))
    monkeypatch.setattr(usage, "cache_path", lambda what: str(tmp_path / "cache.json"))
    monkeypatch.setattr(usage.os, "geteuid", lambda: 0)
    wanted = str(pool / "other.img")
    assert usage._files_naming_here(str(pool), lambda path: path == wanted) == ["disk.img"]
    try:
        os.setxattr(str(pool / "disk.img"), "user.remotevirt.format", b"raw")
    except OSError:
        pytest.skip("no user extended attributes here")
    assert usage._files_naming_here(str(pool), lambda path: path == wanted) == []
    assert [kind for _name, _path, kind, _backing, _data in image_headers(str(pool))] == [image_header.NO_BACKING]


def test_a_floppy_is_written_too():
    """QEMU writes a floppy image unless it is read-only: only a cdrom never is."""
    references = References.of_definition(
        definition("<disk type='file' device='floppy'><source file='/img/golden.img'/><target dev='fda'/></disk>")
    )
    assert usage.writes_to(references.as_json(), "p", "golden.img", "/img/golden.img")


def test_a_dot_dot_after_a_linked_directory_leads_where_the_kernel_goes(tmp_path):
    """'pool/linked/../base.img' is the base.img beside the link's target, not the pool's: the kernel
    resolves '..' after following the link, so a path read from a definition keeps its '..'."""
    pool, other = tmp_path / "pool", tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    pool.mkdir()
    (other / "base.img").write_bytes(b"")
    (pool / "base.img").write_bytes(b"")
    (pool / "linked").symlink_to(other / "sub")
    base = str(other / "base.img")
    references = References.of_definition(
        definition("<disk type='file' device='disk'><source file='%s/linked/../base.img'/><target dev='vda'/></disk>" % pool)
    )
    in_pools = usage.pool_names_of([("p", str(pool)), ("o", str(other))], base)
    assert usage.writes_to(references.as_json(), "o", "base.img", base, usage.same_file_as(base, in_pools))
    assert references.refer_to("o", "base.img", base, None, usage.same_file_as(base, in_pools))


def test_a_cache_file_this_user_did_not_write_is_not_believed(test_client, stamped, unique_name, tmp_path):
    """A cache that says a guest uses nothing, put in place by another user (who could rename a
    directory on the way to the private one), never lets an in-use volume look free."""
    name = unique_name("")
    domain = test_client.conn.defineXML(user_xml(name, "/img/%s.qcow2" % name))
    try:
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % name, None) == [name]
        cache = StampedCache(str(tmp_path / "cache.json"))
        cache.entries[name][1] = dict(cache.entries[name][1], images=[])
        cache.changed = True
        cache.save()
        os.chown(str(tmp_path / "cache.json"), 65534, 65534)
        assert StampedCache(str(tmp_path / "cache.json")).entries == {}
        assert domains_using(test_client, "p", "v", "/img/%s.qcow2" % name, None) == [name]
    finally:
        domain.undefine()


def test_a_volume_disk_is_followed_as_its_file():
    """A guest's disk named by pool and volume opens that volume's file, and through it what its
    header names: found with the volume's path, as a file disk is (not for a raw disk)."""
    read = backings({"/img/ov.qcow2": "/img/base.qcow2"}, {"/img/ov.qcow2": "/img/ov.raw"})
    paths = {("p", "ov.qcow2"): "/img/ov.qcow2"}.get
    references = References(volumes=[("p", "ov.qcow2")], followed_volumes=[("p", "ov.qcow2")]).as_json()
    for wanted in ("/img/ov.raw", "/img/base.qcow2"):
        assert usage.reaches(
            references, lambda path, wanted=wanted: path == wanted, read, lambda pool, volume: paths((pool, volume))
        )
        assert not usage.reaches(references, lambda path, wanted=wanted: path == wanted, read)  # no way to find its file
    raw = References(volumes=[("p", "ov.qcow2")]).as_json()  # a raw disk: nothing followed
    assert not usage.reaches(raw, lambda path: path == "/img/ov.raw", read, lambda pool, volume: paths((pool, volume)))
    written = References(written_volumes=[("p", "ov.qcow2")]).as_json()
    assert usage.writes(written, lambda path: path == "/img/ov.raw", read, lambda pool, volume: paths((pool, volume)))
    assert not usage.writes(written, lambda path: path == "/img/base.qcow2", read, lambda pool, volume: paths((pool, volume)))


def test_volume_disks_are_read_from_definitions():
    references = References.of_definition(
        definition(
            "<disk type='volume' device='disk'><driver type='qcow2'/>"
            "<source pool='p' volume='q.qcow2'/><target dev='vda'/></disk>"
            "<disk type='volume' device='disk'><driver type='raw'/><source pool='p' volume='r.img'/><target dev='vdb'/></disk>"
        )
    )
    assert references.followed_volumes == [("p", "q.qcow2")]
    assert references.volumes == [("p", "q.qcow2"), ("p", "r.img")]
    assert References.from_json(references.as_json()).as_json() == references.as_json()


def test_a_long_chain_is_followed_and_a_loop_ends():
    chain = {"/c/%d.qcow2" % step: "/c/%d.qcow2" % (step + 1) for step in range(40)}
    assert list(usage.files_opened_through("/c/0.qcow2", backings(chain)))[-1] == "/c/40.qcow2"
    looped = backings({"/a": "/b", "/b": "/a"})
    assert list(usage.files_opened_through("/a", looped)) == ["/a", "/b"]


def test_relative_paths_and_firmware_in_definitions():
    """libvirt passes a relative path on to QEMU, which opens it from its working directory (/)."""
    references = References.of_definition(
        definition(
            "<disk type='file' device='disk'><source file='srv/img/rel.qcow2'/><target dev='vda'/></disk>",
            "<loader readonly='yes' type='pflash'>/srv/fw/code.fd</loader><nvram>srv/fw/vars.fd</nvram>",
        )
    )
    assert ("/srv/img/rel.qcow2", True) in [tuple(image) for image in references.images]
    assert set(references.boot) == {"/srv/fw/code.fd", "/srv/fw/vars.fd"}
    assert definition_path("a//b/./c") == "/a/b/c" and definition_path(None) is None


def test_a_pool_directory_reached_through_a_link_holds_what_is_under_its_real_path(tmp_path):
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "inner.raw").write_bytes(b"")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    is_in = usage.in_files_test([], str(tmp_path / "real"), True)
    assert is_in(str(tmp_path / "linked" / "sub" / "inner.raw"))
    assert not is_in(str(tmp_path / "elsewhere.raw"))
    assert not is_in("/srv/with\0nul")
    assert not usage.in_files_test([], str(tmp_path / "real"), False)(str(tmp_path / "linked" / "sub" / "inner.raw"))


def test_a_directory_a_guest_has_as_a_disk_holds_what_is_in_it():
    """QEMU shows a directory's files to the guest as a disk (vvfat)."""
    references = References.of_definition(
        definition("<disk type='dir' device='disk'><driver type='fat'/><source dir='/srv/share'/><target dev='vdz'/></disk>")
    )
    assert references.directories == ["/srv/share"]
    assert references.refer_to("p", "v", "/srv/share/data.raw", None)
    assert not references.refer_to("p", "v", "/srv/shared.raw", None)
    assert usage.reaches(references.as_json(), lambda path: path == "/srv/share", None)


def test_a_volume_disk_of_an_inactive_directory_pool_is_followed(test_client, tmp_path, unique_name):
    name = unique_name("")
    test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path), 0
    )
    try:
        assert test_client.volume_path_of(name, "over.qcow2") == str(tmp_path / "over.qcow2")
        assert test_client.volume_path_of(name, "../x") is None
        assert test_client.volume_path_of(unique_name(""), "over.qcow2") is None
    finally:
        test_client.find_pool(name).undefine()


def test_whole_files_and_shared_directories_a_guest_opens_are_used():
    """Files QEMU opens for a guest besides its disks, and host directories it mounts."""
    references = References.of_definition(
        definition(
            "<interface type='network'><source network='n'/><rom file='/srv/p/rom.bin'/></interface>"
            "<memory model='nvdimm'><source><path>/srv/p/nvd.bin</path></source><target><size>1</size></target></memory>"
            "<filesystem type='mount'><source dir='/srv/p'/><target dir='share'/></filesystem>",
            "<dtb>/srv/p/dtb.bin</dtb><acpi><table type='slic'>/srv/p/acpi.bin</table></acpi>"
            "<nvram template='/srv/p/tmpl.fd'>/var/lib/libvirt/qemu/nvram/g_VARS.fd</nvram>",
        )
    )
    for used in ("rom.bin", "nvd.bin", "dtb.bin", "acpi.bin", "tmpl.fd", "inside.raw"):
        assert references.refer_to("p", "x", "/srv/p/" + used, None), used
    assert references.directories == ["/srv/p"]

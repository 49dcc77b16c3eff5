"""Differential property: virt_pool_volume's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for runs that follow each other on the
same few volumes: each meets what the earlier ones left."""

from __future__ import annotations

import os
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume
from differential import assert_check_predicts_real_run, remove_named_volumes, runs_of
from strategies import twisted

POOL = "default-pool"
SIZES = ("1G", "1GB", "1 GiB", "1.5G", "1024M", "1073741824", "512KiB", "2g", "0", "1\u0660G", " 1G")
NAMES = ("dp-a.qcow2", "dp-b.img", "dp-c.qcow2", "dp-" + "n" * 246 + ".qcow2", "dp-" + "n" * 247 + ".qcow2")

CAPACITY = st.sampled_from(SIZES).flatmap(twisted)
ORIGIN = st.sampled_from(NAMES[:2])
# Each option now and then: a run is mostly one way to make (or remove) a volume, some careless.
EXTRAS = dict(
    format=st.sampled_from(["raw", "qcow2"]),
    preallocation=st.sampled_from(["sparse", "metadata", "full"]),
    allocation=st.sampled_from(["0", "1M", "1 MiB"]),
    overcommit=st.booleans(),
    allow_shrink=st.booleans(),
    delete_in_use=st.booleans(),
    replace_content=st.booleans(),
)
SHAPES = (
    dict(capacity=CAPACITY),
    dict(capacity=CAPACITY, format=st.sampled_from(["raw", "qcow2"])),
    dict(clone_from=ORIGIN),
    dict(backing_volume=ORIGIN, format=st.just("qcow2")),
    dict(state=st.just("absent")),
    dict(),
)
# Mostly the short names, which meet each other.
RUN = runs_of(NAMES[:3] * 4 + NAMES[3:], SHAPES, EXTRAS)
# Earlier runs that make the volumes the later ones meet.
MAKE = st.fixed_dictionaries(
    dict(name=st.sampled_from(NAMES[:2]), capacity=st.sampled_from(SIZES[:8])),
    optional=dict(format=st.sampled_from(["raw", "qcow2"])),
)


def remove_volumes(conn):
    remove_named_volumes(conn, POOL)


@settings(derandomize=True)
@given(st.lists(MAKE, max_size=2), st.lists(RUN, min_size=1, max_size=4))
def test_check_mode_predicts_the_real_run(capsys, test_client, makes, runs):
    try:
        for run in makes + runs:
            args = dict(run, uri="test:///default", pool=POOL)
            if "clone_from" in args and "backing_volume" in args:
                del args["backing_volume"]
            if "preallocation" in args and "allocation" in args:
                del args["allocation"]
            assert_check_predicts_real_run(capsys, test_client.conn, virt_pool_volume, args)
    finally:
        remove_volumes(test_client.conn)


# The same runs on a directory pool whose volumes are files under the test's directory, with a file
# mode, owner or group now and then; a chain of volumes backed by volumes, and the removal of one
# that backs another, as above. The test driver makes no files: each run is followed by the files
# a real one would have made.
FILE_POOL = "dq-files"
OWNERSHIP = dict(
    mode=st.sampled_from(["0640", "0600", "644", 416, "0755"]),
    owner=st.sampled_from([str(os.getuid()), "root", "dq-nobody"]),
    group=st.sampled_from([str(os.getgid()), "root"]),
)
FILE_RUN = st.tuples(RUN, st.fixed_dictionaries({}, optional=OWNERSHIP)).map(lambda parts: dict(parts[0], **parts[1]))
CHAIN = st.lists(st.sampled_from(NAMES[:3]), min_size=2, max_size=3, unique=True)


def make_files(conn, pool_name):
    """The file of each volume the test driver made without one, as libvirt makes it: sparse,
    owner-only, and a qcow2 volume's with a qcow2 header naming its backing file (which the module
    reads to find the volumes backed by another)."""
    for volume in conn.storagePoolLookupByName(pool_name).listAllVolumes(0):
        path = volume.path()
        if os.path.exists(path):
            continue
        described = etree.fromstring(volume.XMLDesc(0))
        header = b""
        if described.findtext("target/format[@type='qcow2']") is not None:
            backing = (described.findtext("backingStore/path") or "").encode()
            header = struct.pack(">4sIQI", b"QFI\xfb", 3, 64 if backing else 0, len(backing)) + b"\0" * 44 + backing
        with open(path, "wb") as image:
            image.write(header)
            image.truncate(1 << 20)
        os.chmod(path, 0o600)


@settings(derandomize=True)
@given(CHAIN, st.lists(FILE_RUN, min_size=1, max_size=4))
def test_check_mode_predicts_the_real_run_on_files(capsys, test_client, tmp_path, chain, runs):
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (FILE_POOL, tmp_path), 0
    )
    pool.create(0)
    try:
        # A chain the later runs meet: the first volume, then each backed by the one before.
        made = [dict(name=chain[0], capacity="1M", format="qcow2")]
        made += [dict(name=name, backing_volume=below, format="qcow2") for below, name in zip(chain, chain[1:])]
        for run in made + runs:
            args = dict(run, uri="test:///default", pool=FILE_POOL)
            if "clone_from" in args and "backing_volume" in args:
                del args["backing_volume"]
            if "preallocation" in args and "allocation" in args:
                del args["allocation"]
            # The test driver keeps the mode, owner and group a volume was made with, whatever its
            # file has since (libvirt reads them from the file): a change of an existing volume's is
            # planned again on every run there.
            converges = not (set(args) & set(OWNERSHIP) and args["name"] in pool.listVolumes())
            assert_check_predicts_real_run(capsys, test_client.conn, virt_pool_volume, args, converges=converges)
            make_files(test_client.conn, FILE_POOL)
    finally:
        for volume in pool.listAllVolumes(0):
            volume.delete(0)
        pool.destroy()
        pool.undefine()

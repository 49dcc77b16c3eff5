"""Differential property: virt_pool_volume's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for runs that follow each other on the
same few volumes: each meets what the earlier ones left."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume
from differential import assert_check_predicts_real_run
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
RUN = st.tuples(
    st.sampled_from(NAMES[:3] * 4 + NAMES[3:]),  # mostly the short names, which meet each other
    st.sampled_from(SHAPES).flatmap(st.fixed_dictionaries),
    st.lists(st.sampled_from(sorted(EXTRAS)), max_size=2, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({key: EXTRAS[key] for key in keys})
    ),
).map(lambda parts: dict(parts[2], name=parts[0], **parts[1]))
# Earlier runs that make the volumes the later ones meet.
MAKE = st.fixed_dictionaries(
    dict(name=st.sampled_from(NAMES[:2]), capacity=st.sampled_from(SIZES[:8])),
    optional=dict(format=st.sampled_from(["raw", "qcow2"])),
)


def remove_volumes(conn):
    pool = conn.storagePoolLookupByName(POOL)
    for volume in pool.listAllVolumes(0):
        if volume.name().startswith("dp-"):
            volume.delete(0)


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

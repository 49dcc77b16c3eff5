"""Differential property: virt_pool's check mode predicts the real run on libvirt's test driver,
and the re-run converges (see differential.py), for runs that follow each other on the same few
pools: each meets what the earlier ones left."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_pool
from differential import assert_check_predicts_real_run, remove_named, runs_of, with_places
from strategies import twisted

NAMES = ("dp-p1", "dp-p2", "dp-" + "p" * 252, "dp-" + "p" * 253)
STATES = st.sampled_from(["present", "active", "inactive", "absent"])
# Target paths under {root}, a directory that exists: the test driver's pool-build makes none, and
# a pool whose directory is missing is built again (a run that stopped after its define).
DIR = dict(
    type=st.just("dir"),
    target_path=st.sampled_from(["/dp-p", "/dp-p/", "/dp-q", "//dp-p"]).flatmap(twisted).map(lambda path: "{root}" + path),
)
SHAPES = (
    DIR,
    dict(DIR, state=STATES),
    dict(DIR, autostart=st.booleans()),
    dict(type=st.just("fs"), source_devices=st.just(["/dev/dp-sdb"]), target_path=st.just("{root}/dp-fs")),
    dict(type=st.just("logical"), source_name=st.sampled_from(["dp_vg", "dp_vg0"])),
    dict(
        type=st.just("netfs"),
        source_host=st.sampled_from(["nas.example", "10.0.0.5"]),
        source_path=st.just("/export"),
        target_path=st.just("{root}/dp-nfs"),
    ),
    dict(state=STATES),
    dict(state=st.just("absent"), delete_volumes=st.booleans()),
    dict(autostart=st.booleans()),
    dict(xml=st.just("<pool type='dir'><name>{name}</name><target><path>{root}/dp-x</path></target></pool>")),
)
EXTRAS = dict(build=st.booleans(), recreate=st.booleans(), autostart=st.booleans(), state=STATES)
# Mostly the short names, which meet each other.
RUN = runs_of(NAMES[:2] * 4 + NAMES[2:], SHAPES, EXTRAS)


def placed(run, name, root):
    """``run`` with its paths under ``root`` (and its xml naming the pool it is for)."""
    return with_places(run, root=root, name=name)


def make_target(path, root):
    """The directory a pool-build would make: the test driver's makes none, and a pool whose
    directory is missing is built again on every run."""
    if path and path.startswith(root):
        try:
            os.makedirs(path, exist_ok=True)
        except (OSError, ValueError):  # a name no file system takes (a NUL): the run refuses it
            pass


def remove_pools(conn):
    remove_named(conn.listAllStoragePools(0))


@settings(derandomize=True)
@given(st.lists(RUN, min_size=1, max_size=5))
def test_check_mode_predicts_the_real_run(capsys, test_client, tmp_path, runs):
    for directory in ("dp-p", "dp-q", "dp-fs", "dp-nfs", "dp-x"):
        (tmp_path / directory).mkdir(exist_ok=True)
    try:
        for run in runs:
            args = dict(placed(run, run["name"], str(tmp_path)), uri="test:///default")
            make_target(args.get("target_path"), str(tmp_path))
            assert_check_predicts_real_run(capsys, test_client.conn, virt_pool, args)
    finally:
        remove_pools(test_client.conn)


def test_recreate_as_another_type_is_predicted(capsys, test_client, tmp_path):
    """A dir pool recreated as netfs: check mode reports the pool the real run leaves."""
    for directory in ("dp-p", "dp-nfs"):
        (tmp_path / directory).mkdir()
    runs = [
        dict(name="dp-p1", type="dir", target_path="{root}/dp-p"),
        dict(
            name="dp-p1",
            recreate=True,
            type="netfs",
            source_host="nas.example",
            source_path="/export",
            target_path="{root}/dp-nfs",
        ),
    ]
    try:
        for run in runs:
            args = dict(placed(run, run["name"], str(tmp_path)), uri="test:///default")
            assert_check_predicts_real_run(capsys, test_client.conn, virt_pool, args)
    finally:
        remove_pools(test_client.conn)

"""Differential property: virt_guest_install's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for import installs (the method that needs
no boot media) that follow each other on the same guests and disks: each meets what the earlier
ones left."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install
from differential import assert_check_predicts_real_run, remove_named, remove_named_volumes, with_places
from strategies import twisted

POOL = "default-pool"
# The longest names: a guest's, and its first disk's volume (name-disk0.qcow2), at 255 bytes.
NAMES = ("dp-i1", "dp-i2", "dp-" + "i" * 60, "dp-" + "i" * 240, "dp-" + "i" * 241, "dp-" + "i" * 252)
SIZES = ("1G", "1GB", "1 GiB", "1.5G", "1024M", "2g", "0", "1\u0660G")
NEW_DISK = st.fixed_dictionaries(
    dict(pool=st.just(POOL), size=st.sampled_from(SIZES).flatmap(twisted)),
    optional=dict(
        format=st.sampled_from(["qcow2", "raw"]),
        bus=st.sampled_from(["virtio", "sata", "scsi"]),
        volume=st.sampled_from(["dp-shared.qcow2", "dp-other.img"]),
    ),
)
# A disk on a volume an earlier run made (or none did: a refusal).
OLD_DISK = st.fixed_dictionaries(dict(pool=st.just(POOL), volume=st.sampled_from(["dp-shared.qcow2", "dp-i1-disk0.qcow2"])))
SAME_DISK = st.just(dict(pool=POOL, size="1G"))  # the disk the guest that MAKE installs has
DISK = st.one_of(SAME_DISK, NEW_DISK, OLD_DISK)
RUN = st.fixed_dictionaries(
    dict(
        name=st.sampled_from(NAMES[:2] * 3 + NAMES[2:]),
        install=st.just(dict(method="import")),
        disks=st.lists(DISK, min_size=1, max_size=2),
    ),
    optional=dict(
        state=st.sampled_from(["present", "running", "absent"]),
        memory=st.sampled_from(["512M", "512 MiB", "0.5G", "536870912", "512", "1G"]).flatmap(twisted),
        vcpus=st.sampled_from([1, 2, "2", "\u0662"]),
        # Guests of these runs that take one MAC address or fixed port from each other: refused alike.
        networks=st.lists(
            st.fixed_dictionaries(
                dict(network=st.sampled_from(["default", "dp-none"])),
                optional=dict(mac=st.sampled_from(["52:54:00:d1:00:01", "52:54:00:D1:00:01", "52:54:00:d1:00:02"])),
            ),
            max_size=1,
        ),
        graphics=st.fixed_dictionaries(
            dict(type=st.sampled_from(["none", "vnc"])), optional=dict(port=st.sampled_from([5931, 5932]))
        ),
        autostart=st.booleans(),
        reinstall=st.booleans(),
        remove_storage=st.booleans(),
        domain_type=st.just("qemu"),
    ),
)

# An earlier run that makes the guest (and its disk volume) the later ones meet.
MAKE = st.fixed_dictionaries(
    dict(
        name=st.just("dp-i1"),
        install=st.just(dict(method="import")),
        disks=st.just([dict(pool=POOL, size="1G")]),
        state=st.sampled_from(["present", "running"]),
    )
)


def remove_guests_and_volumes(conn, prefix="dp-"):
    remove_named(conn.listAllDomains(0), prefix)
    remove_named_volumes(conn, POOL, prefix)


@settings(derandomize=True)
@given(st.lists(MAKE, max_size=1), st.lists(RUN, min_size=1, max_size=4))
def test_check_mode_predicts_the_real_run(capsys, test_client, makes, runs):
    try:
        for run in makes + runs:
            args = dict(run, uri="test:///default")
            # reinstall: true installs an existing guest again on every run, by design.
            converges = not run.get("reinstall")
            assert_check_predicts_real_run(capsys, test_client.conn, virt_guest_install, args, converges=converges)
    finally:
        remove_guests_and_volumes(test_client.conn)


# Installs with boot media and devices the test driver defines without booting anything: a pxe or
# cdrom install (an ISO volume an earlier run made, or a file), disks on files, more disks and
# interfaces, graphics and tuning, then a reinstall or a removal with its storage. {tmp} is the
# test's directory.
ISO_VOLUME = "dq-boot.iso"
METHOD = st.one_of(
    st.just(dict(method="pxe")),
    st.just(dict(method="cdrom", cdrom=dict(pool=POOL, volume=ISO_VOLUME))),
    st.just(dict(method="cdrom", cdrom=dict(path="{tmp}/dq-boot.iso"))),
    st.just(dict(method="cdrom", cdrom=dict(pool=POOL, volume="dq-missing.iso"))),
    st.just(dict(method="import")),
)
# Driver modes, mostly ones QEMU takes together (io native needs cache none or directsync).
MODES = st.sampled_from(
    [
        {},
        dict(cache="none", io="native", discard="unmap"),
        dict(cache="writeback", io="threads", detect_zeroes="unmap", discard="unmap"),
        dict(detect_zeroes="off", bus="sata"),
        dict(bus="scsi"),
    ]
)
FILE_DISK = st.builds(
    lambda path, modes: dict(modes, path=path),
    st.sampled_from(["{tmp}/dq-d1.img", "{tmp}/dq-d2.img"] * 3 + ["{tmp}/dq-boot.iso", "{tmp}/dq-none.img"]),
    MODES,
)
POOL_DISK = st.builds(
    lambda disk, modes: dict(modes, **disk),
    st.fixed_dictionaries(
        dict(pool=st.just(POOL), size=st.sampled_from(["1G", "2G"])),
        optional=dict(
            format=st.sampled_from(["qcow2", "raw"]), volume=st.sampled_from(["dq-e1.qcow2", "dq-e1.qcow2", ISO_VOLUME])
        ),
    ),
    MODES,
)
NIC = st.fixed_dictionaries(
    dict(network=st.sampled_from(["default"] * 4 + ["dq-none"])),
    optional=dict(model=st.sampled_from(["virtio", "e1000"]), mac=st.sampled_from(["52:54:00:dd:00:01", "52:54:00:dd:00:02"])),
)
INSTALL = st.fixed_dictionaries(
    dict(
        name=st.sampled_from(["dq-m1", "dq-m1", "dq-m2"]),
        install=METHOD,
        disks=st.lists(st.one_of(POOL_DISK, FILE_DISK), min_size=1, max_size=3),
        networks=st.lists(st.one_of(st.just(dict(type="user")), NIC), min_size=1, max_size=2),
    ),
    optional=dict(
        state=st.sampled_from(["present", "running", "absent"]),
        graphics=st.one_of(
            st.fixed_dictionaries(dict(type=st.sampled_from(["none", "vnc", "spice"]))), st.just(dict(type="vnc", port=5951))
        ),
        rng=st.one_of(st.booleans(), st.just(dict(backend="/dev/random", rate_bytes=1024, rate_period=1000))),
        guest_agent=st.booleans(),
        cpu_pinning=st.sampled_from([{}, dict(vcpus={"0": "0"}), dict(emulator="0")]),
        numa=st.sampled_from([{}, dict(nodeset="0")]),
        vcpus=st.sampled_from([1, 2]),
        serial_log=st.just("{tmp}/dq-serial.log"),
        autostart=st.booleans(),
        domain_type=st.just("qemu"),
    ),
)
# What a later run does to the guest an install made: install it again, or remove it (with its
# storage or without).
AFTER = st.sampled_from(
    [dict(reinstall=True), dict(state="absent", remove_storage=True), dict(state="absent", disks=None, networks=None), {}]
)


def placed(value, tmp):
    """``value`` with {tmp} made the test's directory, however deep."""
    return with_places(value, tmp=tmp)


def make_iso_volume(capsys, conn):
    """The ISO volume an earlier virt_pool_volume run makes, as the differential runs of that
    module do."""
    from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume

    args = dict(uri="test:///default", pool=POOL, name=ISO_VOLUME, capacity="1M", format="raw")
    assert_check_predicts_real_run(capsys, conn, virt_pool_volume, args)


@settings(derandomize=True)
@given(st.lists(st.tuples(INSTALL, AFTER), min_size=1, max_size=3))
def test_check_mode_predicts_the_real_run_of_installs_with_media_and_devices(capsys, test_client, tmp_path, installs):
    for name in ("dq-d1.img", "dq-d2.img", "dq-boot.iso"):
        (tmp_path / name).write_bytes(b"\0" * 4096)
    try:
        make_iso_volume(capsys, test_client.conn)
        for install, after in installs:
            for run in (install, dict(install, **after)):
                args = dict(placed(run, str(tmp_path)), uri="test:///default")
                converges = not run.get("reinstall")
                assert_check_predicts_real_run(capsys, test_client.conn, virt_guest_install, args, converges=converges)
    finally:
        remove_guests_and_volumes(test_client.conn, "dq-")

"""Differential property: virt_guest_install's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for import installs (the method that needs
no boot media) that follow each other on the same guests and disks: each meets what the earlier
ones left."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install
from differential import assert_check_predicts_real_run
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
        networks=st.lists(st.fixed_dictionaries(dict(network=st.sampled_from(["default", "dp-none"]))), max_size=1),
        graphics=st.fixed_dictionaries(dict(type=st.sampled_from(["none", "vnc"]))),
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


def remove_guests_and_volumes(conn):
    for domain in conn.listAllDomains(0):
        if domain.name().startswith("dp-"):
            persistent = domain.isPersistent()  # a transient guest is gone once destroyed
            if domain.isActive():
                domain.destroy()
            if persistent:
                domain.undefine()
    for volume in conn.storagePoolLookupByName(POOL).listAllVolumes(0):
        if volume.name().startswith("dp-"):
            volume.delete(0)


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

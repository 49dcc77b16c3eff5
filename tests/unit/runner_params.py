"""Module parameters as AnsibleModule hands them to the runners, and volumes in odd states."""

from __future__ import annotations

import os

from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import run as run_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import INCOMPLETE_XATTR

POOL = "default-pool"


def install(**overrides):
    """``install`` as AnsibleModule hands it over: every suboption, defaults filled in."""
    base = dict(
        method="import",
        cdrom=None,
        location=None,
        kickstart=None,
        kickstart_content=None,
        extra_args=None,
        boot_dir="/var/lib/libvirt/boot",
    )
    base.update(overrides)
    return base


def disk(**overrides):
    base = dict(
        pool=POOL,
        volume=None,
        size=None,
        format=None,
        preallocation=None,
        path=None,
        bus="virtio",
        target=None,
        allow_in_use=False,
    )
    base.update(overrides)
    return base


def network(**overrides):
    base = dict(network="default", bridge=None, type=None, model="virtio", mac=None)
    base.update(overrides)
    return base


def params(**overrides):
    """Every key of virt_guest_install's argument_spec, as AnsibleModule passes them."""
    base = dict(
        uri="test:///default",
        log_facility="user",
        name=None,
        state="present",
        domain_type="test",
        memory=None,
        vcpus=None,
        cpu=None,
        machine=None,
        arch=None,
        firmware=None,
        secure_boot=False,
        install=install(),
        disks=None,
        networks=None,
        graphics=None,
        serial_log=None,
        autostart=None,
        wait=False,
        wait_timeout=3600,
        reinstall=False,
        remove_storage=False,
        keep_serial_log=False,
        validate_certs=True,
    )
    base.update(overrides)
    return base


def guest(name, **overrides):
    """An imported guest on a new 1 MiB volume and the test driver's network."""
    overrides.setdefault("disks", [disk(size="1M")])
    overrides.setdefault("networks", [network()])
    overrides.setdefault("memory", 256)
    return params(name=name, **overrides)


def volume_params(**overrides):
    base = dict(
        uri="test:///default",
        log_facility="user",
        pool="default-pool",
        name=None,
        state="present",
        capacity=None,
        format=None,
        preallocation=None,
        allocation=None,
        overcommit=False,
        clone_from=None,
        backing_volume=None,
        source_url=None,
        compression="auto",
        checksum=None,
        checksum_of="download",
        validate_certs=True,
        allow_shrink=False,
        delete_in_use=False,
        replace_content=False,
        mode=None,
        owner=None,
        group=None,
    )
    base.update(overrides)
    return base


def volume_path(client, pool, name):
    return client.describe_volume(client.find_volume(client.find_pool(pool), name)).path


def half_made_download(client, pool, name):
    """A volume whose file still carries the mark of a download that was killed mid-way."""
    run_volume(volume_params(pool=pool, name=name, capacity="1M", format="raw"), check_mode=False, diff=False)
    path = volume_path(client, pool, name)
    with open(path, "wb") as image:
        image.write(b"\0" * 4096)
    os.setxattr(path, INCOMPLETE_XATTR, b"1")
    return path

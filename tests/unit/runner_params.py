"""Module parameters as AnsibleModule hands them to the runners, and volumes in odd states."""

from __future__ import annotations

import os

from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import run as run_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import INCOMPLETE_XATTR
from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install, virt_pool_volume

POOL = "default-pool"


def as_passed(spec, **overrides):
    """Parameters as AnsibleModule hands them over for ``spec``: every option with its default or None,
    then ``overrides``."""
    base = {name: option.get("default") for name, option in spec.items()}
    base.update(overrides)
    return base


def install(**overrides):
    """``install`` as AnsibleModule hands it over: every suboption, defaults filled in."""
    return as_passed(guest_argument_spec()["install"]["options"], **{"method": "import", **overrides})


def disk(**overrides):
    return as_passed(guest_argument_spec()["disks"]["options"], **{"pool": POOL, **overrides})


def network(**overrides):
    return as_passed(guest_argument_spec()["networks"]["options"], **{"network": "default", **overrides})


def params(**overrides):
    """Every key of virt_guest_install's argument_spec, as AnsibleModule passes them (the test driver's URI
    and domain type, an import)."""
    return as_passed(
        virt_guest_install.argument_spec(), **{"uri": "test:///default", "domain_type": "test", "install": install(), **overrides}
    )


def guest(name, **overrides):
    """An imported guest on a new 1 MiB volume and the test driver's network."""
    overrides.setdefault("disks", [disk(size="1M")])
    overrides.setdefault("networks", [network()])
    overrides.setdefault("memory", 256)
    return params(name=name, **overrides)


def volume_params(**overrides):
    """Every key of virt_pool_volume's argument_spec, as AnsibleModule passes them (the test driver's URI and pool)."""
    return as_passed(virt_pool_volume.argument_spec(), **{"uri": "test:///default", "pool": POOL, **overrides})


def volumes(client):
    """The names of the volumes in the test driver's pool."""
    return sorted(client.find_pool(POOL).listVolumes())


def file_volume(client, pool, name):
    """A new 1 MiB raw volume of ``pool`` with a file of its own (the test driver makes none), made
    by libvirt alone: a run that takes the pool's files as this host's would give the volume its name
    by renaming a file the test driver never made."""
    xml = "<volume><name>%s</name><capacity>1048576</capacity><target><format type='raw'/></target></volume>" % name
    client.create_volume(client.find_pool(pool), xml)
    path = volume_path(client, pool, name)
    with open(path, "wb") as out:
        out.write(b"\0" * 4096)
    return path


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

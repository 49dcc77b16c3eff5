"""Previews made on the controller over a remote URI, pasted where the module ran.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import shlex

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions, Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import plan_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import VolumeRequest
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState

GiB = 1 << 30
POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
BASE = Volume(name="base.qcow2", capacity=GiB, format="qcow2", allocation=GiB, path="/srv/p/base.qcow2")
URI = "qemu+ssh://root@hv1:22/system?keyfile=/k"
PERMISSIONS = Permissions(mode="0640", owner=64055, group=64055)


def remote_request(**params):
    params.setdefault("uri", URI)
    params.update(pool="p", name="v.qcow2", mode="0640")
    return VolumeRequest.from_params(params, PERMISSIONS)


def words(command):
    return shlex.split(command, comments=True)


def test_remote_create_with_mode_pastes_as_virsh_alone():
    """Was: "virsh -c URI vol-create-as ... && chmod 0640 /srv/p/v.qcow2 && chown 64055:64055
    /srv/p/v.qcow2": pasted on the controller, as the preview promises, it changed the mode and
    owner of the controller's own file of that path (libvirt set them on the host already)."""
    command = plan_volume(remote_request(capacity="1G"), VolumeState(POOL, local=False)).commands()[0]
    assert words(command)[:3] == ["virsh", "-c", URI]
    assert "chmod" not in words(command) and "chown" not in words(command) and "&&" not in command
    assert command.endswith("# libvirt sets mode 0640, owner 64055, group 64055 on the host")


def test_remote_clone_with_mode_pastes_as_virsh_alone():
    state = VolumeState(POOL, origin=BASE, local=False)
    command = plan_volume(remote_request(clone_from="base.qcow2"), state).commands()[0]
    assert words(command)[:4] == ["virsh", "-c", URI, "vol-create-from"] and "chmod" not in words(command)


def test_local_create_keeps_its_shell_steps():
    command = plan_volume(remote_request(capacity="1G", uri="qemu:///system"), VolumeState(POOL)).commands()[0]
    assert command.endswith("&& chmod 0640 /srv/p/v.qcow2 && chown 64055:64055 /srv/p/v.qcow2")

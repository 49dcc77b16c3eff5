"""Pool previews made on the controller over a remote URI, pasted where the module ran.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import shlex

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition
from ansible_collections.remotevirt.install.plugins.module_utils._pool.plan import plan_pool
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import PoolRequest
from ansible_collections.remotevirt.install.plugins.module_utils._pool.state import PoolState

URI = "qemu+tls://hv1:16514/system?pkipath=/etc/pki/hv1"
EXISTING = PoolDefinition(name="rvre-data", type="dir", target_path="/srv/rvre-data")


def test_every_command_of_a_remote_pool_removal_names_the_uri():
    """Was: 'virsh vol-delete --pool rvre-data v1', 'virsh pool-destroy', 'virsh pool-delete',
    'virsh pool-undefine': pasted on the controller, as previews over a remote URI are meant to
    be, they deleted the controller's own pool of that name and its files."""
    request = PoolRequest.from_params(dict(name="rvre-data", state="absent", delete_volumes=True, uri=URI))
    state = PoolState(uri=URI, existing=EXISTING, active=True, volumes=("v1",))
    commands = plan_pool(request, state).commands()
    assert len(commands) == 4
    assert all(shlex.split(command)[:3] == ["virsh", "-c", URI] for command in commands), commands


def test_every_command_of_a_remote_pool_definition_names_the_uri():
    request = PoolRequest.from_params(
        dict(name="rvre-data", type="dir", target_path="/srv/rvre-data", state="active", autostart=True, uri=URI)
    )
    commands = plan_pool(request, PoolState(uri=URI)).commands()
    assert [shlex.split(command)[3] for command in commands] == ["pool-define-as", "pool-build", "pool-start", "pool-autostart"]
    assert all(shlex.split(command)[:3] == ["virsh", "-c", URI] for command in commands), commands

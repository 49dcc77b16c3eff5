"""Network previews made on the controller over a remote URI, pasted where the module ran.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import shlex

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import Network
from ansible_collections.remotevirt.install.plugins.module_utils._network.plan import plan_network
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest
from ansible_collections.remotevirt.install.plugins.module_utils._network.state import NetworkState

URI = "qemu+ssh://root@hv1:22/system?keyfile=/k"


def test_every_command_of_a_remote_network_removal_names_the_uri():
    """Was: 'virsh net-destroy rvre-lab', 'virsh net-undefine rvre-lab': pasted on the controller,
    as previews over a remote URI are meant to be, they removed the controller's own network."""
    request = NetworkRequest.from_params(dict(name="rvre-lab", state="absent", uri=URI))
    state = NetworkState(existing=Network(name="rvre-lab", forward="nat"), persistent=True, active=True)
    commands = plan_network(request, state).commands()
    assert [shlex.split(command)[3] for command in commands] == ["net-destroy", "net-undefine"]
    assert all(shlex.split(command)[:3] == ["virsh", "-c", URI] for command in commands), commands


def test_the_default_uri_keeps_plain_virsh():
    request = NetworkRequest.from_params(dict(name="rvre-lab", state="absent"))
    state = NetworkState(existing=Network(name="rvre-lab", forward="nat"), persistent=True, active=False)
    assert plan_network(request, state).commands() == ["virsh net-undefine rvre-lab"]

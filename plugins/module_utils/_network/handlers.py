# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying network actions: one handler per plan verb of virt_network.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import (
    ADD_LAST,
    AUTOSTART,
    DEFINE,
    DELETE,
    DHCP_HOST,
    DHCP_RANGE,
    START,
    STOP,
    UNDEFINE,
    UPDATE,
    AutostartPayload,
    DefinePayload,
    NetworkTarget,
    UpdatePayload,
)

try:
    import libvirt
except ImportError:  # the module reports the missing library before anything here runs
    libvirt = None


def _commands() -> Dict[str, int]:
    return {ADD_LAST: libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, DELETE: libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE}


def _sections() -> Dict[str, int]:
    return {DHCP_HOST: libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, DHCP_RANGE: libvirt.VIR_NETWORK_SECTION_IP_DHCP_RANGE}


# What reverses a net-update command.
_INVERSE = {ADD_LAST: DELETE, DELETE: ADD_LAST}


class NetworkHandlers:
    """One handler per plan verb; each returns the undo that reverses it where rollback does.

    Each reads only its action's payload (see ``actions.VERBS``)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def as_mapping(self) -> Dict[str, Handler]:
        return {
            DEFINE: self.define,
            UPDATE: self.update,
            START: self.start,
            STOP: self.stop,
            UNDEFINE: self.undefine,
            AUTOSTART: self.autostart,
        }

    def _network(self, name: str) -> Any:
        network = self.client.find_network(name)
        if network is None:
            raise LibvirtError("look up network", name, "network disappeared")
        return network

    def define(self, action: Action) -> Optional[Undo]:
        payload: DefinePayload = action.payload
        network = self.client.define_network(payload.xml)
        previous = payload.previous
        if previous is None:
            return lambda: self.client.undefine_network(network)
        return lambda: self.client.define_network(previous)

    def update(self, action: Action) -> Optional[Undo]:
        payload: UpdatePayload = action.payload
        network = self._network(payload.network)
        section = _sections()[payload.section]
        commands = _commands()

        def apply(command: str) -> None:
            self.client.update_network(
                network, commands[command], section, payload.parent_index, payload.xml, payload.live, payload.config
            )

        apply(payload.command)
        return lambda: apply(_INVERSE[payload.command])

    def start(self, action: Action) -> Optional[Undo]:
        payload: NetworkTarget = action.payload
        network = self._network(payload.network)
        self.client.start_network(network)
        return lambda: self.client.destroy_network(network)

    def stop(self, action: Action) -> Optional[Undo]:
        payload: NetworkTarget = action.payload
        network = self._network(payload.network)
        self.client.destroy_network(network)
        return lambda: self.client.start_network(network)

    def undefine(self, action: Action) -> Optional[Undo]:
        payload: NetworkTarget = action.payload
        self.client.undefine_network(self._network(payload.network))
        return None

    def autostart(self, action: Action) -> Optional[Undo]:
        payload: AutostartPayload = action.payload
        self.client.set_network_autostart(self._network(payload.network), payload.enable)
        return None

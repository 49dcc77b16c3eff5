# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs of a network plan: what each handler is given, and what rollback does with it."""

from __future__ import annotations

from typing import Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, UNDONE, Payload, Verb

DEFINE = "define"
UPDATE = "update"
START = "start"
STOP = "stop"
UNDEFINE = "undefine"
AUTOSTART = "autostart"

# net-update's commands and sections, by virsh's names.
ADD_LAST = "add-last"
DELETE = "delete"
DHCP_HOST = "ip-dhcp-host"
DHCP_RANGE = "ip-dhcp-range"


class NetworkTarget(Payload):
    """The network an action changes, by name."""

    network: str


class DefinePayload(Payload):
    """A definition to write; ``previous`` is the one it replaces (None for a new network), which
    rollback writes back."""

    network: str
    xml: str
    previous: Optional[str] = None


class UpdatePayload(Payload):
    """One net-update: ``command`` (add-last, delete) of one ``section`` entry (``xml``) under the
    <ip> at ``parent_index``, in the running network (``live``) and in the stored definition (``config``)."""

    network: str
    command: str
    section: str
    parent_index: int
    xml: str
    live: bool
    config: bool = True


class AutostartPayload(Payload):
    network: str
    enable: bool


# A definition, an update and a start are reversed by rollback (the previous definition written
# back, the inverse update, a stop); a stop is reversed by a start. Undefining is final, and
# autostart is the last step of every plan.
VERBS: Dict[str, Verb] = {
    DEFINE: Verb(DEFINE, DefinePayload, UNDONE),
    UPDATE: Verb(UPDATE, UpdatePayload, UNDONE),
    START: Verb(START, NetworkTarget, UNDONE),
    STOP: Verb(STOP, NetworkTarget, UNDONE),
    UNDEFINE: Verb(UNDEFINE, NetworkTarget, KEPT),
    AUTOSTART: Verb(AUTOSTART, AutostartPayload, KEPT),
}

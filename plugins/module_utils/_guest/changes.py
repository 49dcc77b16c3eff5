# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a plan would change in a guest that exists, said field by field, and the refusal of such a
change where updates are not allowed (``update_existing: false``): virt_preflight judges every
guest of its list so, and virt_guest_install judges its guest again when it runs, since another run
may have made a guest of that name after the preflight found none."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import in_unit, message_unit
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    AUTOSTART,
    DEFINE,
    DESTROY,
    REMOVE,
    START,
    UNDEFINE,
    WAIT,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import DELETE, RESIZE

# What a plan may do to a guest that exists without updating it: start it, wait for an earlier run's
# install to end, remove the seed ISO of a first boot that is over, and what state: absent asks for
# (stop it, undefine it, delete its volumes with remove_storage).
_NOT_UPDATES = (START, WAIT, REMOVE, DESTROY, UNDEFINE, DELETE)
# How a field of the definition that definition_changes does not word is named in a refusal.
_FIELD_NAMES = {
    "type": "domain_type",
    "os": "boot",
    "on_reboot": "on_reboot",
    "metadata": "this collection's record in it",
    "tuning": "tuning",
    "filesystems": "filesystems",
    "hostdevs": "host_devices",
    "shared_memory": "shared memory",
}


def update_refusal(name: str, reinstall: bool, state: GuestState, plan: Plan, update_hint: str) -> Optional[str]:
    """Why ``plan`` may not run where updates are not allowed: it changes guest ``name``, which
    exists (redefines it, grows or makes one of its volumes, changes its autostart: anything but a
    start or a removal); the name may belong to another guest than the one meant, so it is never changed unasked.
    None when it changes no existing guest, or installs it again."""
    if state.existing is None or reinstall:
        return None
    changes = []
    for action in plan.actions:
        if action.verb not in _NOT_UPDATES:
            changes.extend(_action_changes(action, state))
    if not changes:
        return None
    return (
        "guest %s exists with a different definition (%s); set %s to update it in place, reinstall: true to "
        "install it again, or rename the new guest" % (name, "; ".join(changes), update_hint)
    )


def _action_changes(action: Action, state: GuestState) -> List[str]:
    """What ``action`` changes in the existing guest, worded for a refusal."""
    payload = action.payload
    if action.verb == DEFINE:
        previous = getattr(payload, "previous", None)
        if previous is None:
            return ["the run would redefine it"]
        return definition_changes(previous, payload.domain) + other_definition_changes(previous, payload.domain)
    if action.verb == RESIZE:
        return [
            "volume %s/%s grows to %s" % (payload.pool, payload.volume, in_unit(payload.capacity, message_unit(payload.capacity)))
        ]
    if action.verb == AUTOSTART:
        return ["autostart: %s -> %s" % (_on_off(state.autostart), _on_off(not state.autostart))]
    return ["the run would %s %s %s" % (action.verb, action.kind, action.name)]


def _on_off(value: Optional[bool]) -> str:
    return "on" if value else "off"


def definition_changes(previous: Domain, wanted: Domain) -> List[str]:
    """What a redefinition changes, field by field, as ``field: before -> after``."""
    changes = []
    if previous.memory != wanted.memory:
        unit = message_unit(max(previous.memory or 0, wanted.memory or 0))
        changes.append("memory: %s -> %s" % (_shown_memory(previous.memory, unit), _shown_memory(wanted.memory, unit)))
    for field, label in (("vcpus", "vcpus"), ("cpu_mode", "cpu")):
        before, after = getattr(previous, field), getattr(wanted, field)
        if before != after:
            changes.append("%s: %s -> %s" % (label, before or "default", after or "default"))
    if previous.disks != wanted.disks:
        before, after = _disks_text(previous), _disks_text(wanted)
        # The same text on both sides: the disks differ in what it leaves out (a bus, cache, discard).
        changes.append("disks: %s -> %s" % (before, after) if before != after else "disks: %s" % _disk_details(previous, wanted))
    if previous.interfaces != wanted.interfaces:
        changes.append(
            "networks: %s -> %s" % (_networks_text(previous, wanted.interfaces), _networks_text(wanted, previous.interfaces))
        )
    if previous.graphics != wanted.graphics:
        changes.append("graphics: %s -> %s" % (_graphics_text(previous), _graphics_text(wanted)))
    if previous.serial_log != wanted.serial_log:
        changes.append(
            "serial_log: %s -> %s"
            % (
                previous.serial_log.path if previous.serial_log else "none",
                wanted.serial_log.path if wanted.serial_log else "none",
            )
        )
    return changes


def other_definition_changes(previous: Domain, wanted: Domain) -> List[str]:
    """The fields of a redefinition that definition_changes does not word, each named once
    (``tuning: rng, tpm``): a change is refused unasked even where it is not spelled out."""
    worded = ("memory", "vcpus", "cpu_mode", "disks", "interfaces", "graphics", "serial_log", "name", "uuid")
    changes = []
    for field in Domain._compared:
        before, after = getattr(previous, field), getattr(wanted, field)
        if field in worded or before == after:
            continue
        parts = [part for part in getattr(type(before), "_compared", ()) if getattr(before, part) != getattr(after, part, None)]
        label = _FIELD_NAMES.get(field, field)
        changes.append("%s: %s differ" % (label, ", ".join(parts)) if parts else "%s differs" % label)
    return changes


def _shown_memory(size: Optional[int], unit: Tuple[str, int]) -> str:
    return in_unit(size, unit) if size else "default"


def _disks_text(domain: Domain) -> str:
    disks = [disk for disk in domain.disks if disk.device == "disk"]
    return ", ".join("%s %s (%s)" % (disk.target, disk.source_label, disk.format) for disk in disks) or "none"


def _disk_details(previous: Domain, wanted: Domain) -> str:
    """'vda: bus, modes differ' for each disk whose other fields differ, by target."""
    before = {disk.target: disk for disk in previous.disks}
    details = []
    for disk in wanted.disks:
        old = before.get(disk.target)
        if old is None or old == disk:
            continue
        fields = [field for field in Disk._compared if getattr(old, field) != getattr(disk, field)]
        details.append("%s: %s differ" % (disk.target, ", ".join(fields)))
    return "; ".join(details) or "their devices differ"


def _networks_text(domain: Domain, other: Sequence[Any]) -> str:
    """Each card as 'network default (virtio)'; MACs only where the other side's cards differ in nothing else."""
    plain = [(card.type, card.source, card.model) for card in other]
    cards = []
    for card in domain.interfaces:
        text = "%s%s (%s)" % (card.type, " " + card.source if card.source else "", card.model)
        if (card.type, card.source, card.model) in plain and card.mac:
            text += " mac %s" % card.mac
        cards.append(text)
    return ", ".join(cards) or "none"


def _graphics_text(domain: Domain) -> str:
    if domain.graphics is None:
        return "default"
    # A password is never shown, only that one is set.
    return (
        ", ".join(
            "%s on %s%s%s"
            % (
                display.type,
                display.listen,
                ":%d" % display.port if display.port else "",
                " with a password" if display.password else "",
            )
            for display in domain.graphics
        )
        or "none"
    )

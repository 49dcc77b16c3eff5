# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_guest_install's result for a plan: the guest's facts (predicted in check mode), its media,
cloud-init and addresses, and the diff. virt_preflight reports the same for each guest it plans."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    AUTOSTART,
    DEFINE,
    DESTROY,
    INSTALL,
    START,
    WAIT,
    AutostartPayload,
    Reachable,
    WaitPayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import in_canonical_order
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import reboot_required
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain


def run_result(
    client: Client,
    request: GuestRequest,
    state: GuestState,
    plan: Plan,
    check_mode: bool,
    applied: bool,
    diff: bool,
    wait: bool = True,
) -> Dict[str, Any]:
    """The module's result for ``plan`` of ``request``: in check mode (or a run that changed nothing)
    what it predicts, else what the host has now. virt_preflight gives the check-mode one of each
    guest it plans, so a preview needs no module run per guest. Without ``wait``, a read-only wait
    (see waits_read_only) is left to await_reachable."""
    facts = _domain_facts(client, request, plan, state, check_mode)
    waited = applied and _waited_reachable(plan)
    addresses = _addresses(client, request, facts, check_mode, waited) if wait else []
    result: Dict[str, Any] = {
        "changed": plan.changed,
        "plan": plan.summaries(),
        "reboot_required": reboot_required(plan, state),
        "created": plan.changed and state.existing is None and not state.transient,
        "domain": facts,
    }
    if INSTALL in [action.verb for action in plan.actions] and request.cloud_init is None:
        result["media"] = _media_facts(request)
    if request.cloud_init is not None:
        result["cloud_init"] = _cloud_init_facts(request, state, plan)
        if result["cloud_init"]["changed"]:
            result["warnings"] = [
                "cloud_init of guest %s differs from the one it first booted with; cloud-init "
                "reads it only at a guest's first boot, so it is not applied (reinstall: true "
                "installs the guest again with it)" % request.name
            ]
    if request.wait_for is not None and request.wait_for.ip:
        result["addresses"] = addresses
    if diff:
        result["diff"] = _diff(request, state, plan)
    return result


def _diff(request: GuestRequest, state: GuestState, plan: Plan) -> Dict[str, str]:
    """The stored definition before and after, each closed by a comment with the guest's power
    state and autostart, which no definition holds: a run that only starts a guest or changes its
    autostart shows that too. The after side is the planned one in check mode and in the real run."""
    shown = plan.diff("guest %s" % request.name)
    if shown["before"] and shown["before"] == shown["after"] and any(action.verb == DEFINE for action in plan.actions):
        # Only what both sides mask changed (a console password): the diff says so, never what it is.
        shown["after"] = (
            shown["after"].rstrip("\n") + "\n<!-- changed: a value shown masked (a password, a URL's credentials) -->\n"
        )
    if shown["before"]:
        shown["before"] = _with_power(shown["before"], "running" if state.active else "shut off", state.autostart)
    if shown["after"]:
        shown["after"] = _with_power(shown["after"], _predicted_state(request, plan, state), _planned_autostart(plan, state))
    return shown


def _with_power(definition: str, power_state: str, autostart: bool) -> str:
    return "%s\n<!-- state: %s; autostart: %s -->\n" % (definition.rstrip("\n"), power_state, "on" if autostart else "off")


def _planned_autostart(plan: Plan, state: GuestState) -> bool:
    for action in plan.actions:
        if action.verb == AUTOSTART and isinstance(action.payload, AutostartPayload):
            return action.payload.enable
    return state.autostart and state.existing is not None


def _cloud_init_facts(request: GuestRequest, state: GuestState, plan: Plan) -> Dict[str, Any]:
    """The instance-id the guest gets (or got) and whether ``cloud_init`` differs from what it first booted with."""
    cloud_init = request.cloud_init
    if cloud_init is None:  # the caller reports cloud_init only when it is set
        return {}
    first_boot = any(action.verb == INSTALL for action in plan.actions)
    stored = state.existing.metadata if state.existing is not None else None
    changed = not first_boot and (stored is None or stored.cloud_init != cloud_init.fingerprint)
    # A changed cloud_init is not the one the guest booted with: its instance-id (kept by the guest,
    # not by its definition) cannot be told from the request.
    return {"instance_id": None if changed else cloud_init.instance_id(request.name), "changed": changed}


# Why libvirt pauses a guest for a moment of its own (a snapshot, a save, a migration): a wait goes on.
_PASSING_PAUSES = frozenset(("migration", "snapshot", "save", "dump", "starting up", "postcopy"))


def waits_read_only(request: GuestRequest, plan: Plan, check_mode: bool, applied: bool) -> bool:
    """Whether the run's result waits for ``wait_for`` without having started the guest (a re-run
    that found it running): a wait that changes nothing, which the guest's lock need not cover."""
    return request.wait_for is not None and not check_mode and not (applied and _waited_reachable(plan))


def await_reachable(client: Client, request: GuestRequest, result: Dict[str, Any]) -> None:
    """The read-only wait run_result left (see waits_read_only), into ``result``: after the run let
    go of the guest's lock, so that a run that stops or removes the guest need not wait for it."""
    addresses = _addresses(client, request, result["domain"], check_mode=False, waited=False)
    if request.wait_for is not None and request.wait_for.ip:
        result["addresses"] = addresses


def _addresses(
    client: Client, request: GuestRequest, facts: Mapping[str, Any], check_mode: bool, waited: bool
) -> List[Dict[str, Any]]:
    """The running guest's cards and addresses. A run that waited for it (its plan's wait) has them;
    any other real run, one that found the guest running, waits read-only for all of ``wait_for``
    (an address, the marker in what it wrote to its serial log since its QEMU started, the port) up to
    wait_for_timeout and fails as that wait would when they do not come; check mode only reads them."""
    wait_for = request.wait_for
    if wait_for is None or facts.get("state") != "running":
        return []
    domain = client.find_domain(request.name)
    if domain is None or not client.domain_active_if_present(domain):
        return []
    # Imported here: only runs with wait_for read addresses (import cost on every task).
    import time

    from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import boot_log_start
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import serial_log_path

    # The guest was started earlier: its marker counts in the log it runs with (a serial_log changed
    # since is its stored definition's, written from its next start on; a guest that runs without one
    # shows no marker), from where that start left its beginning in its live metadata, or in its
    # whole log without that mark.
    live = client.domain_live_definition_if_present(domain) if wait_for.marker is not None else None
    serial_log = serial_log_path(live) if live else None
    offset = boot_log_start(live, serial_log)
    signs = Reachable(
        ip=wait_for.ip,
        source=wait_for.source,
        marker=wait_for.marker,
        port=wait_for.port,
        serial_log=serial_log,
        log_offset=offset,
    )
    deadline = time.monotonic() + request.wait_for_timeout
    while True:
        if check_mode or waited:
            return reachable.read_addresses(client, domain, wait_for.source) if wait_for.ip else []
        missing, cards = reachable.missing_signs(client, domain, signs, deadline)
        if not missing:
            return cards
        run_state, reason = client.domain_state(domain)
        if run_state != "running" and reason not in _PASSING_PAUSES:  # paused by someone, or stopped: it shows nothing more
            raise LibvirtError(
                "wait for guest",
                request.name,
                "the guest is %s (reason: %s), not running: %s" % (run_state, reason, "; ".join(missing)),
            )
        if time.monotonic() >= deadline:
            raise LibvirtError(
                "wait for guest",
                request.name,
                "the guest is running but not reachable after %d s: %s; it goes on running, and a re-run waits for "
                "it again" % (request.wait_for_timeout, "; ".join(missing)),
            )
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _waited_reachable(plan: Plan) -> bool:
    """Whether ``plan`` waited until the guest was reachable (its addresses are then known)."""
    return any(isinstance(action.payload, WaitPayload) and action.payload.reachable is not None for action in plan.actions)


def _waits_for_install(action: Any) -> bool:
    """Whether ``action`` waits for an install to end (not for a running guest to be reachable)."""
    return action.verb == WAIT and isinstance(action.payload, WaitPayload) and action.payload.reachable is None


def _predicted_state(request: GuestRequest, plan: Plan, state: GuestState) -> str:
    verbs = [action.verb for action in plan.actions]
    if request.state == "absent":
        return "absent"
    if START in verbs:
        return "running"
    if INSTALL in verbs and request.cloud_init is not None:
        return "running"  # a cloud image's first boot goes on
    if any(_waits_for_install(action) for action in plan.actions):
        return "shut off"  # the installer's definition ends with the install
    if INSTALL in verbs:
        return "running"  # the installer goes on after the task (a wait for its marker or address included)
    return "running" if state.active and DESTROY not in verbs else "shut off"


def _domain_facts(client: Client, request: GuestRequest, plan: Plan, state: GuestState, check_mode: bool) -> Dict[str, Any]:
    if request.state == "absent":
        return {"name": request.name, "state": "absent"}
    sizes = _disk_sizes(request, state)
    if check_mode or not plan.changed:
        definition = Domain.from_xml(plan.after) if plan.after else state.existing
        if definition is None:  # not reached: a guest that does not exist is installed (a plan) or refused
            return {"name": request.name, "state": "absent"}
        # A guest that exists keeps its UUID, also through a reinstall; a new one's is not known yet.
        uuid = state.existing.uuid if state.existing is not None else None
        return _facts(definition.with_changes(uuid=uuid), _predicted_state(request, plan, state), sizes)
    domain = client.find_domain(request.name)
    if domain is None:
        return {"name": request.name, "state": "absent"}
    definition = Domain.from_xml(client.domain_definition(domain))
    return _facts(definition, "running" if client.domain_is_active(domain) else "shut off", sizes)


def _disk_sizes(request: GuestRequest, state: GuestState) -> Dict[str, int]:
    """Capacity in bytes of each pool disk the run read or creates, by ``pool/volume``: what a
    preview shows next to each disk (a host path's size is not read)."""
    sizes: Dict[str, int] = {}
    for disk, disk_state in zip(request.disks or (), state.disks):
        existing = disk_state.volume.existing if disk_state.volume else None
        size = existing.capacity if existing is not None else disk.size
        if disk.pool and size is not None:
            sizes["%s/%s" % (disk.pool, disk.volume)] = size
    return sizes


def _facts(domain: Domain, run_state: str, sizes: Mapping[str, int]) -> Dict[str, Any]:
    return {
        "name": domain.name,
        "uuid": domain.uuid,
        "state": run_state,
        "memory": domain.memory // (1024 * 1024) if domain.memory else None,
        "vcpus": domain.vcpus,
        "macs": [mac for mac in domain.macs if mac],
        # In one order whatever order libvirt stores them in: check mode reports the real run's.
        "disks": [_disk_facts(disk, sizes) for disk in in_canonical_order(domain.disks)],
        "networks": [interface.label for interface in domain.interfaces],
        "filesystems": [filesystem.label for filesystem in domain.filesystems],
        "hostdevs": [device.label for device in domain.hostdevs],
        "serial_log": domain.serial_log.path if domain.serial_log else None,
        "tuning": domain.tuning.summary(),
    }


def _disk_facts(disk: Disk, sizes: Mapping[str, int]) -> Dict[str, Any]:
    facts = {"target": disk.target, "source": disk.source_label, "device": disk.device, "size": sizes.get(disk.source_label)}
    if disk.modes.label:  # only disks with driver modes say so
        facts["modes"] = disk.modes.label
    return facts


def _media_facts(request: GuestRequest) -> Dict[str, Any]:
    """How an install boots the installer: method, source and kickstart, with URL credentials
    masked and an inline kickstart only named (its content is a secret)."""
    # Imported here: only runs that install need it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text

    install = request.install
    source: Optional[str] = None
    if install.method == "cdrom" and install.cdrom is not None:
        source = install.cdrom.label
    elif install.method == "location":
        source = redact_text(install.location or "", whole=True)
    kickstart: Optional[str] = None
    if install.kickstart_content is not None:
        kickstart = "inline"
    elif install.kickstart:
        kickstart = redact_text(install.kickstart, whole=True)
    return {"method": install.method, "source": source, "kickstart": kickstart}

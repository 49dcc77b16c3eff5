# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks a host before anything slow starts: every guest is planned exactly as
virt_guest_install would plan it (which reads pools, volumes, media, install trees and networks),
then what the guests need together is compared with what the host has. Nothing is changed."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import format_size
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import raw_problems, uri_problem
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import DEFINE, INSTALL, START
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DEFAULT_MEMORY, GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import read_state
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import (
    Client,
    LibvirtError,
    version_text,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import ClonePayload, CreatePayload


def problem(guest: Optional[str], check: str, message: str) -> Dict[str, Any]:
    return {"guest": guest, "check": check, "message": message}


class Preflight:
    def __init__(self, client: Client, validate_certs: bool = True, update_existing: bool = False) -> None:
        self.client = client
        self.validate_certs = validate_certs
        self.update_existing = update_existing
        self.problems: List[Dict[str, Any]] = []
        self.guests: List[Dict[str, Any]] = []
        self.libvirt_version: Optional[str] = None
        self._starting: List[Tuple[str, int]] = []  # (guest, memory) of guests this run starts

    def run(self, guests: List[Any]) -> Dict[str, Any]:
        if not self._check_libvirt():
            return self._result()
        checked = [self._checked_options(index, guest) for index, guest in enumerate(guests)]
        valid = [params for params in checked if params is not None]
        plans = [self._plan(params) for params in valid]
        planned = [(params, plan) for params, plan in zip(valid, plans) if plan is not None]
        self._check_space(planned)
        self._check_memory()
        return self._result()

    def _result(self) -> Dict[str, Any]:
        return {"ok": not self.problems, "problems": self.problems, "guests": self.guests,
                "libvirt_version": self.libvirt_version}

    def _check_libvirt(self) -> bool:
        bad_uri = uri_problem(self.client.uri)
        if bad_uri:
            self.problems.append(problem(None, "options", bad_uri))
            return False
        try:
            too_old = self.client.version_problem()
        except LibvirtError as error:
            self.problems.append(problem(None, "libvirt", "cannot reach libvirt at %s: %s; start libvirtd and check "
                                                          "uri" % (self.client.uri, error.message)))
            return False
        if too_old:
            self.problems.append(problem(None, "libvirt", too_old + "; upgrade it"))
            return False
        self.libvirt_version = version_text(self.client.version())
        return True

    def _checked_options(self, index: int, guest: Any) -> Optional[Dict[str, Any]]:
        """The guest's options as virt_guest_install's argument spec reads them (defaults filled in,
        types converted), or None with each of its problems listed."""
        name = guest_label(index, guest)
        if not isinstance(guest, Mapping):
            self.problems.append(problem(name, "options", "guests[%d] must be a dictionary of virt_guest_install "
                                                          "options, not %s" % (index, type(guest).__name__)))
            return None
        spec = guest_argument_spec()
        messages = list(raw_problems(spec, guest))
        if not messages:
            # Imported here: only virt_preflight checks options outside AnsibleModule.
            from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

            try:
                validated = ArgumentSpecValidator(spec).validate(guest)
            except (TypeError, ValueError, AttributeError) as error:  # Ansible's own failure on odd shapes
                messages = ["options cannot be read: %s" % error]
            else:
                messages = [_option_message(error) for error in validated.errors]
        for message in messages:
            self.problems.append(problem(name, "options", message))
        if messages:
            return None
        # The connection is the module's: a guest's own uri is not the host being checked.
        return dict(validated.validated_parameters, uri=self.client.uri)

    def _plan(self, params: Mapping[str, Any]) -> Optional[Plan]:
        name = params["name"]
        try:
            request = GuestRequest.from_params(params)
        except PlanError as error:
            self.problems.append(problem(name, "options", str(error)))
            return None
        try:
            state = read_state(self.client, request, self.validate_certs)
            plan = plan_guest(request, state)
        except (PlanError, LibvirtError, download.DownloadError, OSError) as error:
            self.problems.append(problem(name, "host", str(error)))
            return None
        redefines = any(action.verb == DEFINE for action in plan.actions)
        status = "new" if state.existing is None else ("differs" if redefines else "matches")
        if request.reinstall and state.existing is not None:
            status = "reinstall"
        elif status == "differs" and not self.update_existing:
            # The name may belong to another guest than the one meant: never change it unasked.
            self.problems.append(problem(name, "name", "guest %s exists with a different definition (the run would "
                                                       "redefine it); rename the new guest, set reinstall: true, or "
                                                       "allow updates of existing guests" % name))
        self.guests.append({"name": name, "status": status, "commands": plan.commands()})
        if any(action.verb in (INSTALL, START) for action in plan.actions):
            kept = state.existing.memory if state.existing is not None and not request.reinstall else None
            self._starting.append((name, request.memory or kept or DEFAULT_MEMORY))
        return plan

    def _check_space(self, planned: Sequence[Tuple[Mapping[str, Any], Plan]]) -> None:
        """New volumes of all guests together must fit their pools (each one alone was checked)."""
        needed: Dict[str, List[Tuple[str, int]]] = {}
        for params, plan in planned:
            for action in plan.actions:
                if isinstance(action.payload, (CreatePayload, ClonePayload)):
                    capacity = Volume.from_xml(action.payload.xml).capacity
                    needed.setdefault(action.payload.pool, []).append((params["name"], capacity))
        for pool_name, entries in sorted(needed.items()):
            total = sum(capacity for _name, capacity in entries)
            pool = self.client.find_pool(pool_name)
            if pool is None:
                continue
            available = self.client.describe_pool(pool).available
            if available is not None and total > available:
                guests = ", ".join(sorted({guest for guest, _capacity in entries}))
                self.problems.append(problem(guests, "space", "pool %s has %s free, but the new volumes of %s need %s "
                                                              "together; free space or use another pool"
                                             % (pool_name, format_size(available), guests, format_size(total))))

    def _check_memory(self) -> None:
        """Guests that this run starts must fit in the host's free memory together."""
        if not self._starting:
            return
        free = self.client.call("read free memory of", self.client.uri, self.client.conn.getFreeMemory)
        total = sum(memory for _name, memory in self._starting)
        if total > free:
            names = ", ".join(name for name, _memory in self._starting)
            self.problems.append(problem(names, "memory", "the host has %s free memory, but starting %s needs %s; "
                                                          "lower memory or install on another host"
                                         % (format_size(free), names, format_size(total))))


def _option_message(error: Any) -> str:
    """Ansible's text for one argument spec error; an unknown option's text starts with its name alone."""
    # Imported here: only virt_preflight checks options outside AnsibleModule.
    from ansible.module_utils.errors import UnsupportedError

    message = getattr(error, "msg", None) or str(error)
    return "unknown option(s) %s" % message if isinstance(error, UnsupportedError) else message


def guest_label(index: int, guest: Any) -> str:
    """How problems name a guest: its name, or its place in the list when it has no usable one."""
    name = guest.get("name") if isinstance(guest, Mapping) else None
    return name if isinstance(name, str) and name else "guests[%d]" % index


def run(params: Mapping[str, Any]) -> Dict[str, Any]:
    client = Client(params["uri"])
    guests = params.get("guests")
    try:
        return Preflight(client, params.get("validate_certs", True), params.get("update_existing", False)).run(
            guests if isinstance(guests, list) else [])
    finally:
        client.close()

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying power actions: one handler per plan verb of virt_guest_state.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo, Unfinished
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import log_position, mark_boot
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
    forget_install_mark,
    serial_log_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils._power.actions import (
    DESTROY,
    RESUME,
    SHUTDOWN,
    START,
    SUSPEND,
    DestroyPayload,
    GuestTarget,
    ShutdownPayload,
    StartPayload,
)

# How often a shutdown's wait reads the guest's state.
POLL_SECONDS = 1.0


class PowerHandlers:
    """One handler per plan verb; each reads only its action's payload (see ``actions.VERBS``).

    ``forced`` tells, after a run, whether a fallback destroy found the guest still running.
    """

    def __init__(self, client: Client, audit: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.audit = audit
        self.clock = clock
        self.forced = False

    def as_mapping(self) -> Dict[str, Handler]:
        return {START: self.start, SHUTDOWN: self.shutdown, DESTROY: self.destroy, SUSPEND: self.suspend, RESUME: self.resume}

    def _domain(self, name: str) -> Any:
        domain = self.client.find_domain(name)
        if domain is None:
            raise PlanError("guest %s disappeared while the plan ran" % name)
        return domain

    def start(self, action: Action) -> Optional[Undo]:
        payload: StartPayload = action.payload
        domain = self._domain(payload.guest)
        position = log_position(serial_log_path(self.client.domain_definition(domain))) if self.client.local else None
        self.client.start_domain(domain, paused=payload.paused)
        mark_boot(self.client, domain, position, self.audit)
        forget_install_mark(self.client, domain)
        return None

    def suspend(self, action: Action) -> Optional[Undo]:
        payload: GuestTarget = action.payload
        self.client.suspend_domain(self._domain(payload.guest))
        return None

    def resume(self, action: Action) -> Optional[Undo]:
        payload: GuestTarget = action.payload
        self.client.resume_domain(self._domain(payload.guest))
        return None

    def shutdown(self, action: Action) -> Optional[Undo]:
        payload: ShutdownPayload = action.payload
        domain = self._domain(payload.guest)
        self.client.shutdown_domain(domain)
        if self._wait_until_off(payload.guest, payload.timeout):
            return None
        if payload.fallback:
            self.audit.progress(
                "guest %s did not shut down within %d s; the plan's destroy follows" % (payload.guest, payload.timeout)
            )
            return None
        # The request stays with the guest, which may still power off later: the host may change.
        raise Unfinished(
            "guest %s did not shut down within %d s (its OS ignores or has not finished the ACPI shutdown, or "
            "it has no OS running); it is still running. Give more shutdown_timeout, set destroy_on_timeout: "
            "true to power it off after the wait, or use state: stopped to power it off at once"
            % (payload.guest, payload.timeout)
        )

    def _wait_until_off(self, name: str, timeout: int) -> bool:
        """True once the guest is shut off (or gone: a transient guest that shuts down), False after ``timeout`` s."""
        deadline = self.clock() + timeout
        while True:
            if self._is_off(name):
                return True
            if self.clock() >= deadline:
                return False
            time.sleep(POLL_SECONDS)

    def _is_off(self, name: str) -> bool:
        domain = self.client.find_domain(name)
        return domain is None or not self.client.domain_active_if_present(domain)

    def destroy(self, action: Action) -> Optional[Undo]:
        payload: DestroyPayload = action.payload
        if payload.fallback:
            if self._is_off(payload.guest):
                self.audit.progress("guest %s shut down by itself; not destroyed" % payload.guest)
                return None
            self.forced = True
        self.client.destroy_domain(self._domain(payload.guest))
        return None

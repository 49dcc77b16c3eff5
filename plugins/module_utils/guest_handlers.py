# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying guest actions: the handlers for virt_guest_install's plan verbs.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from typing import Any, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils import download, initrd, install_tree
from ansible_collections.remotevirt.install.plugins.module_utils.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils.executor import Handler, Undo, Unfinished
from ansible_collections.remotevirt.install.plugins.module_utils.guest_plan import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils.volume_handlers import VolumeHandlers
from ansible_collections.remotevirt.install.plugins.module_utils.xml.domain import Domain, patch_definition

WAIT_POLL_SECONDS = 1.0
WAIT_PROGRESS_SECONDS = 60.0


class GuestHandlers:
    """Handlers for the guest verbs; creating handlers return an undo."""

    def __init__(self, client: Client, request: GuestRequest, audit: AuditLog, validate_certs: bool) -> None:
        self.client = client
        self.request = request
        self.audit = audit
        self.validate_certs = validate_certs

    def as_mapping(self) -> Dict[str, Handler]:
        handlers = VolumeHandlers(self.client, self.validate_certs).as_mapping()
        handlers.update(fetch=self.fetch, install=self.install, define=self.define, autostart=self.autostart,
                        wait=self.wait, start=self.start, destroy=self.destroy, undefine=self.undefine)
        return handlers

    def _domain(self) -> Any:
        domain = self.client.find_domain(self.request.name)
        if domain is None:
            raise LibvirtError("look up guest", self.request.name, "guest disappeared")
        return domain

    def fetch(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        source, target = payload["source"], payload["target"]
        os.makedirs(os.path.dirname(target), mode=0o711, exist_ok=True)
        partial = target + ".part"
        if source.startswith("nfs://"):
            install_tree.copy_from_nfs(source, partial)
        elif "://" in source:
            with open(partial, "wb") as out:
                for chunk in download.stream(source, hashlib.sha256(), self.validate_certs):
                    out.write(chunk)
        else:
            shutil.copyfile(source, partial)
        if payload.get("inject_name"):
            initrd.append_file(partial, payload["inject_name"], self._kickstart())
        os.chmod(partial, 0o644)
        os.replace(partial, target)
        return lambda: _remove(target)

    def _kickstart(self) -> bytes:
        install = self.request.install
        if install.kickstart_content is not None:
            return install.kickstart_content.encode("utf-8")
        with open(install.kickstart, "rb") as source:
            return source.read()

    def install(self, action: Action) -> Optional[Undo]:
        definition: Domain = action.payload["domain"]
        domain = self.client.start_transient_domain(definition.to_xml())
        kernel = definition.os.kernel
        if kernel is not None:
            # QEMU read kernel and initrd when it started; the copies are not needed any more.
            _remove(kernel.kernel)
            _remove(kernel.initrd)
        return lambda: self.client.destroy_domain(domain)

    def define(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        wanted: Domain = payload["domain"]
        if payload["new"]:
            return self._define_new(wanted)
        xml = patch_definition(payload["previous_xml"], payload["previous"], wanted)
        self.client.define_domain(xml)
        previous_xml = payload["previous_xml"]
        return lambda: self.client.define_domain(previous_xml)

    def _define_new(self, wanted: Domain) -> Optional[Undo]:
        running = self.client.find_domain(wanted.name)
        if running is not None:
            # The install is running from the transient definition: the stored one must carry its
            # UUID (or libvirt refuses it) and its MACs (the installed system knows its cards by them).
            live = Domain.from_xml(self.client.domain_live_xml(running))
            interfaces = tuple(wanted_iface.with_changes(mac=wanted_iface.mac or live_iface.mac)
                               for wanted_iface, live_iface in zip(wanted.interfaces, live.interfaces))
            wanted = wanted.with_changes(uuid=live.uuid, interfaces=interfaces)
        domain = self.client.define_domain(wanted.to_xml())
        return lambda: self._undefine_quietly(domain)

    def _undefine_quietly(self, domain: Any) -> None:
        self.client.undefine_domain(domain)

    def autostart(self, action: Action) -> Optional[Undo]:
        self.client.set_domain_autostart(self._domain(), action.payload["enable"])
        return None

    def wait(self, action: Action) -> Optional[Undo]:
        timeout = action.payload["timeout"]
        started = time.monotonic()
        next_report = started + WAIT_PROGRESS_SECONDS
        while True:
            domain = self.client.find_domain(self.request.name)
            if domain is None:
                raise LibvirtError("wait for guest", self.request.name, "guest disappeared during the install")
            if not self.client.domain_is_active(domain):
                return None
            now = time.monotonic()
            if now - started >= timeout:
                raise Unfinished("install of %s still running after %d s; it goes on, and a later run with "
                                 "state: running starts the installed guest once it has powered off"
                                 % (self.request.name, timeout))
            if now >= next_report:
                self.audit.progress("install of %s running for %d s" % (self.request.name, now - started))
                next_report = now + WAIT_PROGRESS_SECONDS
            time.sleep(WAIT_POLL_SECONDS)

    def start(self, action: Action) -> Optional[Undo]:
        self.client.start_domain(self._domain())
        return None

    def destroy(self, action: Action) -> Optional[Undo]:
        self.client.destroy_domain(self._domain())
        return None

    def undefine(self, action: Action) -> Optional[Undo]:
        self.client.undefine_domain(self._domain())
        return None


def _remove(path: Optional[str]) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs of a guest plan: what each handler is given, and what rollback does with it.

A guest plan also carries the volume verbs of its new, grown or removed disks.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import DURABLE, KEPT, UNDONE, Payload, Verb
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import Mark
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import VERBS as VOLUME_VERBS

FETCH = "fetch"
SEED = "seed"
DEFINE = "define"
INSTALL = "install"
AUTOSTART = "autostart"
WAIT = "wait"
START = "start"
DESTROY = "destroy"
UNDEFINE = "undefine"
REMOVE = "remove"


class GuestTarget(Payload):
    """The guest an action changes."""

    guest: str


class FilePayload(Payload):
    """A file on the host that belonged to the guest (its serial log), removed with it."""

    path: str


class Kickstart(Payload):
    """Where a kickstart that travels inside the initrd comes from: inline ``content``, a ``url``
    the host fetches (it carries credentials), or a ``path`` on the host."""

    content: Optional[str] = Field(default=None, in_repr=False)
    url: Optional[str] = Field(default=None, in_repr=False)
    path: Optional[str] = None


class FetchPayload(Payload):
    """A kernel or initrd fetched into ``target``; an initrd may get the kickstart appended as
    ``inject_name``. ``boot_file`` ("kernel" or "initrd") is what the fetched bytes must be, for a
    guest of ``arch`` (None: the host's)."""

    source: str = Field(in_repr=False)
    target: str
    username: Optional[str] = None
    password: Optional[str] = Field(default=None, in_repr=False)
    inject_name: Optional[str] = None
    kickstart: Optional[Kickstart] = None
    boot_file: Optional[str] = None
    arch: Optional[str] = None


class SeedPayload(Payload):
    """The cloud-init seed ISO written to ``path`` (0600); ``image`` holds user-data, never shown."""

    path: str
    image: bytes = Field(default=b"", in_repr=False)


class DefinePayload(GuestTarget):
    """``domain`` stored as the guest's definition.

    ``new``: a new or reinstalled guest (the whole definition is written); otherwise the
    managed fields of ``previous`` change in ``previous_xml`` (libvirt's own additions stay).
    ``previous_xml`` is what rollback puts back (None: a new guest, undone by undefining it).
    ``installs``: an install (or a first boot) follows, so the stored definition carries the mark of
    an install not started until it has started (see domain.with_install_pending).
    ``mark``: what the running guest started from, left in its live metadata before the change (see
    definition_mark); None for no mark to leave (the guest does not run, or its mark says it already).
    ``records``: (file, format) of the existing volumes without a format record that the definition
    attaches, recorded once it is stored (see format_record).
    """

    domain: Domain
    new: bool
    previous: Optional[Domain] = None
    previous_xml: Optional[str] = Field(default=None, in_repr=False)
    installs: bool = False
    mark: Optional[Mark] = None
    records: Tuple[Tuple[str, str], ...] = ()


class InstallPayload(GuestTarget):
    """The install (or a cloud image's first boot) definition, started as the stored guest's live
    definition; ``fetched`` are the kernel and initrd fetched for it, removed once QEMU has read them."""

    domain: Domain
    fetched: Tuple[str, ...] = ()


class AutostartPayload(GuestTarget):
    enable: bool


class Reachable(Record):
    """What makes a started guest reachable: an address (read from ``source``), ``marker`` in its
    serial log after ``log_offset`` bytes, and ``port`` open on its address."""

    ip: bool = True
    source: str = "any"
    marker: Optional[str] = None
    port: Optional[int] = None
    serial_log: Optional[str] = None
    log_offset: int = 0


class WaitPayload(GuestTarget):
    """Wait until the install powers the guest off, or (``reachable``) until the running guest is reachable."""

    timeout: int
    reachable: Optional[Reachable] = None


# An install that started writes the new disks: from then on nothing the plan made is undone.
VERBS: Dict[str, Verb] = dict(VOLUME_VERBS)
VERBS.update(
    {
        FETCH: Verb(FETCH, FetchPayload, UNDONE),
        SEED: Verb(SEED, SeedPayload, UNDONE),
        DEFINE: Verb(DEFINE, DefinePayload, UNDONE),
        INSTALL: Verb(INSTALL, InstallPayload, DURABLE),
        AUTOSTART: Verb(AUTOSTART, AutostartPayload, KEPT),
        WAIT: Verb(WAIT, WaitPayload, KEPT),
        START: Verb(START, GuestTarget, KEPT),
        DESTROY: Verb(DESTROY, GuestTarget, KEPT),
        UNDEFINE: Verb(UNDEFINE, GuestTarget, KEPT),
        REMOVE: Verb(REMOVE, FilePayload, KEPT),
    }
)

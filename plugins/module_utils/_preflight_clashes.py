# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What guests of one preflight list take from each other: each guest is planned against the host
as it is, so a disk, an install ISO, a MAC address or a serial log that two guests of the list
both want is found only here. virt_guest_install, run guest by guest, meets the earlier guests'
objects on the host and refuses the later guest (a disk or ISO another guest uses), or lets both
fight over it (a MAC address, a serial log): either way the list must not pass the preflight."""

from __future__ import annotations

import os
from typing import Callable, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan
from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import same_file_as
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import seed_path, serial_log_of
from ansible_collections.remotevirt.install.plugins.module_utils._guest.host_clashes import added_by, libvirt_log_of
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain

# A host file as both ways of naming it: ("volume", pool, name) and ("path", path).
Keys = FrozenSet[Tuple[str, ...]]
# How a path is compared: as spelt (a remote host's files are out of reach), or with its symbolic
# links resolved where the host's files are this one's (a directory linked to a pool's or to the
# serial logs' directory names the same files).
Resolve = Callable[[str], str]


def as_spelt(path: str) -> str:
    return same_path(path) or path


def resolved(path: str) -> str:
    return os.path.realpath(as_spelt(path))


class Footprint:
    """What one guest of the list will have after its run that it does not have now."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refs: List[Tuple[Keys, bool]] = []  # (file, written): new disks written, new cdroms and seeds read
        self.attached: List[Tuple[str, str, Keys]] = []  # (label, shown, file) of new disks without allow_in_use
        self.media: Optional[Tuple[str, Keys]] = None  # (shown, file) of its install ISO
        self.seed: Optional[Tuple[str, Keys]] = None  # (path, file) of the cloud-init seed ISO its run writes
        self.macs: FrozenSet[str] = frozenset()
        self.serial_log: Optional[str] = None
        self.libvirt_log: Optional[str] = None  # libvirt's own log of a guest the run defines
        self.local = False  # its files are this host's: compared as files too (hard links)
        self.ports: FrozenSet[int] = frozenset()  # fixed graphics ports: QEMU listens on them


def clash_problems(
    planned: Sequence[Tuple[GuestRequest, GuestState, Plan]],
    pool_directories: Mapping[str, str],
    resolve: Resolve = as_spelt,
    uri: str = "",
) -> List[Tuple[str, str]]:
    """(guest, message) for each thing a guest of ``planned`` (in list order) takes that an earlier
    one takes too; the later guest is named, as virt_guest_install would refuse that one. ``uri``: the
    host's, which tells where libvirt keeps its own log of each guest."""
    found: List[Tuple[str, str]] = []
    earlier: List[Footprint] = []
    for request, state, plan in planned:
        footprint = footprint_of(request, state, plan, pool_directories, resolve, uri)
        if footprint is None:
            continue
        # Guests given the same name twice are one problem of their own (see _check_duplicates).
        for other in (other for other in earlier if other.name != footprint.name):
            found.extend((footprint.name, message) for message in _clashes(footprint, other))
        earlier.append(footprint)
    return found + removal_problems(planned, pool_directories, resolve)


def removal_problems(
    planned: Sequence[Tuple[GuestRequest, GuestState, Plan]], pool_directories: Mapping[str, str], resolve: Resolve = as_spelt
) -> List[Tuple[str, str]]:
    """(guest, message) for each guest removed with remove_storage whose volume another guest of the
    list takes as a disk or install ISO: earlier in the list, that guest's run would fail on a volume
    gone; later, the removal would be refused with the volume in use. Either way not both can run."""
    found: List[Tuple[str, str]] = []
    for request, state, _plan in planned:
        if request.state != "absent" or not request.remove_storage or not state.storage:
            continue
        deleted = [(pool, volume, _request_keys(pool, volume, None, pool_directories, resolve)) for pool, volume in state.storage]
        for other in planned:
            taker = other[0]
            if taker.name == request.name or taker.state == "absent":
                continue
            taken = [_request_keys(disk.pool, disk.volume, disk.path, pool_directories, resolve) for disk in taker.disks or ()]
            media = taker.install.cdrom
            if media is not None:
                taken.append(_request_keys(media.pool, media.volume, media.path, pool_directories, resolve))
            for pool, volume, keys in deleted:
                if any(keys & taken_keys for taken_keys in taken):
                    found.append(
                        (
                            request.name,
                            "remove_storage: volume %s/%s of this guest is a disk or medium of guest %s in this list, "
                            "so it cannot be deleted; remove this guest without remove_storage, or give %s another volume"
                            % (pool, volume, taker.name, taker.name),
                        )
                    )
    return found


def footprint_of(
    request: GuestRequest,
    state: GuestState,
    plan: Plan,
    pool_directories: Mapping[str, str],
    resolve: Resolve = as_spelt,
    uri: str = "",
) -> Optional[Footprint]:
    """The guest's footprint, or None for a guest the run removes or leaves undefined."""
    if request.state == "absent":
        return None
    kept = state.existing if not request.reinstall else None
    after = Domain.from_xml(plan.after) if plan.after else state.existing
    if after is None:
        return None
    footprint = Footprint(request.name)
    footprint.local = resolve is resolved
    had = {_keys(disk, pool_directories, resolve) for disk in (kept.disks if kept is not None else ())}
    allowed = {
        _request_keys(disk.pool, disk.volume, disk.path, pool_directories, resolve)
        for disk in request.disks or ()
        if disk.allow_in_use
    }
    for disk in after.disks:
        keys = _keys(disk, pool_directories, resolve)
        if not keys or keys in had:
            continue
        footprint.refs.append((keys, disk.device == "disk"))
        if disk.device == "disk" and keys not in allowed:
            footprint.attached.append(("disks", _shown(disk.pool, disk.volume, disk.path), keys))
    installs = state.existing is None or request.reinstall
    if installs and request.cloud_init is not None:
        seed = seed_path(request)
        footprint.seed = (seed, _request_keys(None, None, seed, pool_directories, resolve))
        footprint.refs.append((footprint.seed[1], False))
    media = request.install.cdrom if installs and request.install.method == "cdrom" else None
    if media is not None:
        # The install ISO is attached for the install only: it is not in the definition.
        footprint.media = (media.label, _request_keys(media.pool, media.volume, media.path, pool_directories, resolve))
        footprint.refs.append((footprint.media[1], False))
    # As virt_guest_install asks the host (see host_clashes): only a MAC, serial log or port the guest
    # does not have already, so guests of the list sharing one already (made so by someone else)
    # pass as their runs converge.
    added = added_by(state, plan)
    footprint.macs = added.macs
    serial_log = serial_log_of(request, state)
    footprint.serial_log = resolve(serial_log) if serial_log and same_path(serial_log) in added.logs else None
    libvirt_log = libvirt_log_of(uri, request.name) if state.existing is None else None
    footprint.libvirt_log = resolve(libvirt_log) if libvirt_log else None
    footprint.ports = added.graphics_ports
    return footprint


def _clashes(guest: Footprint, other: Footprint) -> List[str]:
    messages = []
    for _label, shown, keys in guest.attached:
        if any(keys & other_keys for other_keys, _written in other.refs):
            messages.append(
                "disks: %s is also a disk or medium of guest %s, earlier in this list; two guests writing one disk "
                "destroy its file system. Give each guest a volume of its own, or set allow_in_use: true on "
                "this disk if they share it on purpose" % (shown, other.name)
            )
    if guest.media is not None:
        shown, keys = guest.media
        if any(keys & other_keys for other_keys, written in other.refs if written):
            messages.append(
                "install.cdrom: %s is a disk that guest %s, earlier in this list, writes; give an ISO of its own"
                % (shown, other.name)
            )
    if guest.seed is not None:
        path, keys = guest.seed
        if any(keys & other_keys for other_keys, _written in other.refs):
            messages.append(
                "cloud_init: the seed ISO's path %s is a disk or medium of guest %s, earlier in this list, and "
                "writing the seed would replace it; set install.boot_dir to another directory" % (path, other.name)
            )
    for mac in sorted(guest.macs & other.macs):
        messages.append(
            "networks: mac %s is also given to guest %s in this list; two cards with one MAC address "
            "take each other's traffic and leases. Give each card a MAC of its own" % (mac, other.name)
        )
    if guest.serial_log is not None and guest.serial_log == other.serial_log:
        messages.append(
            "serial_log: %s is also the serial log of guest %s in this list; each guest needs a log file "
            "of its own (removing one would delete the other's)" % (guest.serial_log, other.name)
        )
    messages.extend(_serial_log_file_clashes(guest, other))
    return messages + _port_clashes(guest, other)


def _serial_log_file_clashes(guest: Footprint, other: Footprint) -> List[str]:
    """A serial log of one guest that is a disk or medium, or libvirt's own log, of the other."""
    messages = []
    for log_of, files_of in ((guest, other), (other, guest)):
        log = log_of.serial_log
        if log is not None and any(_is_file_of(log, keys, log_of.local) for keys, _written in files_of.refs):
            messages.append(
                "serial_log: %s, the serial log of guest %s, is also a disk or medium of guest %s in this list: "
                "the console would be written into it and removing %s would delete it; give each guest a log "
                "file of its own" % (log, log_of.name, files_of.name, log_of.name)
            )
        if log is not None and log == files_of.libvirt_log:
            messages.append(
                "serial_log: %s, the serial log of guest %s, is libvirt's own log of guest %s in this list: the "
                "guest started second would fail with the file busy; rename one guest or set serial_log"
                % (log, log_of.name, files_of.name)
            )
    return messages


def _is_file_of(path: str, keys: Keys, local: bool) -> bool:
    """Whether ``path`` is the file ``keys`` name: by its path, or on this host as a file (a hard link)."""
    if ("path", path) in keys:
        return True
    is_the_file = same_file_as(path) if local else None
    return is_the_file is not None and any(key[0] == "path" and is_the_file(key[1]) for key in keys)


def _port_clashes(guest: Footprint, other: Footprint) -> List[str]:
    messages = []
    for port in sorted(guest.ports & other.ports):
        messages.append(
            "graphics: port %d is also the graphics port of guest %s in this list; the guest started second "
            "would fail to start. Give each guest a port of its own, or none (libvirt picks a free one)" % (port, other.name)
        )
    return messages


def _keys(disk: Disk, pool_directories: Mapping[str, str], resolve: Resolve) -> Keys:
    return _request_keys(disk.pool, disk.volume, disk.path, pool_directories, resolve)


def _request_keys(
    pool: Optional[str], volume: Optional[str], path: Optional[str], pool_directories: Mapping[str, str], resolve: Resolve
) -> Keys:
    """Both names of a file: a volume of a directory pool is a path, and a path in one a volume."""
    keys: Set[Tuple[str, ...]] = set()
    if pool and volume:
        keys.add(("volume", pool, volume))
        directory = pool_directories.get(pool)
        if directory:
            keys.add(("path", resolve(os.path.join(directory, volume))))
    elif path:
        spelled = resolve(path)
        keys.add(("path", spelled))
        parent, base = os.path.split(spelled)
        for pool_name, directory in pool_directories.items():
            if resolve(directory) == parent:
                keys.add(("volume", pool_name, base))
    return frozenset(keys)


def _shown(pool: Optional[str], volume: Optional[str], path: Optional[str]) -> str:
    return "%s/%s" % (pool, volume) if pool and volume else path or ""


def media_maker_problem(
    request: GuestRequest,
    position: int,
    planned: Sequence[Tuple[GuestRequest, GuestState, Plan]],
    pool_directories: Mapping[str, str],
    resolve: Resolve = as_spelt,
) -> Optional[str]:
    """Why ``request``'s install ISO volume, which the pool does not have, is a clash: a guest of
    ``planned`` makes it as a disk it writes (``position``: how many of ``planned`` come before
    ``request`` in the list). None when no guest of the list makes it."""
    media = request.install.cdrom
    if media is None or not media.volume:
        return None
    keys = _request_keys(media.pool, media.volume, None, pool_directories, resolve)
    for index, (other_request, state, plan) in enumerate(planned):
        footprint = footprint_of(other_request, state, plan, pool_directories, resolve)
        if footprint is None or footprint.name == request.name:
            continue
        if any(keys & other_keys for other_keys, written in footprint.refs if written):
            return (
                "install.cdrom: volume %s does not exist yet: guest %s, %s in this list, makes it as a disk it "
                "writes; give an ISO of its own" % (media.label, footprint.name, "earlier" if index < position else "later")
            )
    return None

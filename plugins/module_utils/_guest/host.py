# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What virt_guest_install and virt_preflight read of the host for a guest request, and the
refusals it leads to (the media, the disks, the files QEMU must reach, clashes with other guests)."""

from __future__ import annotations

import os
import stat
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import PLAIN_FORMATS, recorded_format
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import (
    directory_info_problem,
    nearest_existing,
    untrusted_path_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    bridge_problem,
    is_local_uri,
    network_problem,
    open_pool,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import is_system_directory, same_path
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import START
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import (
    default_serial_log,
    seed_path,
    serial_log_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import KICKSTART_LIMIT, MediaRef
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import stored_disk_format
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import (
    DiskRequest,
    GuestRequest,
    Refusals,
    refusals_of,
    waits_for_agent,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import running_mark
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain, Interface
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
    never_installed_problem,
    qemu_log_directory,
    runs_installer,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import (
    asked_as_made,
    needed_by,
    refuse_incomplete,
    refuse_incomplete_file,
    refuse_reprobed,
    written_by,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import read_state as read_volume_state

QCOW2_MAGIC = b"QFI\xfb"


T = TypeVar("T")


# -- reading the host --------------------------------------------------------------------------
def sniff_format(path: str) -> Optional[str]:
    """'block' for a block device, 'qcow2' or 'raw' for a readable file, None when unreadable.

    Only a new guest's disk without ``format`` is looked at, to refuse a qcow2 image that would
    otherwise be attached as raw; the format is never taken from here.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISBLK(mode):
            return "block"
        with open(path, "rb") as image:
            return "qcow2" if image.read(4) == QCOW2_MAGIC else "raw"
    except OSError:
        return None


def _read_disk(client: Client, disk: DiskRequest, local: bool, stored: Optional[Domain]) -> DiskState:
    """What the host has of a requested disk; ``stored``, the guest's definition (None for a new guest)."""
    if disk.path:
        if not local:
            return DiskState(format=None)
        if not os.path.exists(disk.path):
            raise PlanError("%s: path %s does not exist on the host" % (disk.label, disk.path))
        # A path disk is read as qcow2 only when it says so (one holding a qcow2 image without a
        # format is refused): a raw disk's content is its guest's, whatever header it holds, and a
        # volume file made raw is refused as qcow2 by _refuse_reprobed_disks.
        backed = disk.format == "qcow2" and recorded_format(disk.path) not in PLAIN_FORMATS
        _refuse_host_file(disk.path, "%s: path" % disk.label, backed=backed)
        refuse_incomplete_file(disk.path, "%s: %s" % (disk.label, disk.path))
        return DiskState(format=sniff_format(disk.path))
    volume_request = disk.volume_request()
    pool = open_pool(client, volume_request.pool)
    volume_state = read_volume_state(client, pool, volume_request, True)
    probed = volume_state.existing
    # A volume made raw or iso that libvirt now probes as qcow2 (its guest wrote the header) stays as
    # made to a disk that reads it plainly (format raw, or none: a guest's disk is raw or qcow2), and
    # refuse_reprobed refuses every other use.
    plain = disk.format in (None, "raw")
    made = asked_as_made(volume_request.with_changes(format=None), volume_state) if plain else None
    if made is not None:
        volume_state = volume_state.with_changes(existing=made)
    existing = volume_state.existing
    recorded = recorded_format(existing.path) if local and existing is not None and existing.path else None
    guessed = _guessed_format(existing, recorded) if local else None
    if guessed is not None and existing is not None and (disk.format or stored_disk_format(disk, stored)) == "raw":
        # Read raw (as given, or as the guest's definition reads it): the raw file it is, whatever
        # header its guest wrote into it.
        existing = _as_raw_file(existing)
        volume_state = volume_state.with_changes(existing=existing)
    if local and existing is not None and existing.path:
        backed = existing.format not in PLAIN_FORMATS and recorded not in PLAIN_FORMATS
        _refuse_host_file(existing.path, "%s: volume %s" % (disk.label, existing.path), backed=backed)
    unrecorded = local and existing is not None and existing.path and recorded is None and os.path.isfile(existing.path)
    return DiskState(
        volume=volume_state,
        probed_format=probed.format if made is not None and probed is not None else None,
        guessed_format=guessed,
        unrecorded_path=existing.path if unrecorded and existing is not None else None,
    )


def _as_raw_file(volume: Volume) -> Volume:
    """``volume`` as a raw disk reads it: its file's size, no backing file."""
    try:
        info = os.stat(volume.path or "")
        size = info.st_size if stat.S_ISREG(info.st_mode) else volume.capacity
    except OSError:
        size = volume.capacity
    return volume.with_changes(format="raw", capacity=size, backing_path=None, backing_format=None)


def _guessed_format(existing: Optional[Volume], recorded: Optional[str]) -> Optional[str]:
    """The image format libvirt read the existing volume's file on this host as, from its content,
    when this collection's record on the file does not say it was made so (see format_record)."""
    if existing is None or existing.format in (None,) + PLAIN_FORMATS or not existing.path:
        return None
    if recorded == existing.format or not os.path.exists(existing.path):
        return None
    return existing.format


def _refuse_host_file(path: str, what: str, backed: bool = False) -> None:
    """Refuse a disk or ISO that is one of the host's own files or a device the host uses, or a
    link another user made to a file they may not read; with ``backed`` (an image read as qcow2),
    one whose backing chain leads to such a file (see host_files)."""
    # Imported here: only guests with disks or media on this host's files ask.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files

    problem = host_files.host_file_problem(path, what) or host_files.borrowed_file_problem(path, what)
    if problem:
        raise PlanError(problem)
    if backed:
        _refuse_backing_chain(path, what)


def _refuse_backing_chain(path: str, what: str) -> None:
    """Refuse an image read as qcow2 whose backing chain leads to a file a guest must not get (see
    host_files.backing_chain_problem)."""
    # Imported here: only disks and media on this host's files ask.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files

    problem = host_files.backing_chain_problem(path, what)
    if problem:
        raise PlanError(problem)


def _disk_reader(client: Client, disk: DiskRequest, local: bool, stored: Optional[Domain]) -> Callable[[], DiskState]:
    return lambda: _read_disk(client, disk, local, stored)


def _network_problems(client: Client, request: GuestRequest) -> List[str]:
    """A refusal for each interface whose network or bridge the host does not have."""
    problems = []
    for index, interface in enumerate(request.networks or ()):
        try:
            _check_network(client, index, interface)
        except PlanError as error:
            problems.append(str(error))
    return problems


def _check_network(client: Client, index: int, interface: Interface) -> None:
    problem = None
    if interface.type == "bridge" and interface.source and is_local_uri(client.uri):
        # A remote URI finds a missing bridge out only when the guest starts.
        problem = bridge_problem(interface.source)
        problem = problem and problem + "; create it or use a libvirt network"
    elif interface.type == "network":
        if interface.source is None:  # the request refuses this already
            problem = "a network interface needs the name of its libvirt network"
        else:
            problem = network_problem(client, interface.source, client.files_here())
    if problem:
        raise PlanError("networks[%d]: %s" % (index, problem))


def missing_media_message(media: MediaRef) -> str:
    """The refusal of an install ISO volume the pool does not have (virt_preflight names the guest
    of its list that makes it instead)."""
    return "install.cdrom: volume %s does not exist" % media.label


def _read_media_file(client: Client, media: MediaRef, local: bool) -> Tuple[str, Optional[str]]:
    """The install ISO's format and its file on the host (None for a volume of a network pool)."""
    if media.path is not None:
        if local and not os.path.isfile(media.path):
            raise PlanError("install.cdrom: %s is not a file on the host" % media.path)
        if local:
            _refuse_host_file(media.path, "install.cdrom: path")
            refuse_incomplete_file(media.path, "install.cdrom: %s" % media.path)
        _refuse_media_written(client, media)
        return "raw", media.path
    if media.pool is None or media.volume is None:  # the request refuses this already
        raise PlanError("install.cdrom: give either pool and volume (an ISO volume) or path (an ISO on the host)")
    pool = open_pool(client, media.pool)
    volume = client.find_volume(pool, media.volume)
    if volume is None:
        raise PlanError(missing_media_message(media))
    described = client.describe_volume(volume)
    fmt = described.format
    if local and described.path:
        _refuse_host_file(described.path, "install.cdrom: volume %s" % media.label)
    refuse_incomplete(described, local, "install.cdrom: volume %s" % media.label)
    refuse_reprobed(described, local, "install.cdrom: volume %s" % media.label)
    _refuse_media_written(client, media)
    if fmt not in (None,) + PLAIN_FORMATS:
        # An image format only where this collection made or attached the volume so: libvirt reads it
        # from the content, which a guest that wrote the volume chose (a qcow2 header naming any host file).
        if not (local and described.path and recorded_format(described.path) == fmt):
            raise PlanError(
                "install.cdrom: volume %s reads as %s, but formats are never guessed from a volume's content, and "
                "an install ISO is read raw; give an ISO image" % (media.label, fmt)
            )
        _refuse_backing_chain(described.path, "install.cdrom: volume %s" % media.label)
    return ("raw" if fmt in (None, "iso") else fmt), described.path


def _kickstart_bytes(client: Client, request: GuestRequest, validate_certs: bool) -> int:
    """The size of the kickstart put into the initrd; refuses one larger than a kickstart can be."""
    size = _injected_size(client, request, validate_certs)
    if size > KICKSTART_LIMIT:
        # The run would read all of it into memory (or stop the download at the limit, after the kernel is fetched).
        raise PlanError(
            "install.kickstart: %d bytes, more than the %d a kickstart or preseed file may have; is it the "
            "file you meant?" % (size, KICKSTART_LIMIT)
        )
    return size


def _injected_size(client: Client, request: GuestRequest, validate_certs: bool) -> int:
    install = request.install
    if install.kickstart_content is not None:
        return len(install.kickstart_content.encode("utf-8"))
    kickstart = install.kickstart
    if kickstart is None:
        return 0
    if install.kickstart_fetched:
        # Imported here: only kickstarts behind a login are fetched (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import UrlAccess, probe_size

        return probe_size(kickstart, UrlAccess(validate_certs=validate_certs)) or 0
    if install.kickstart_on_host:
        if not os.path.isfile(kickstart):
            raise PlanError("install.kickstart: %s is not a file on the host" % kickstart)
        _refuse_host_file(kickstart, "install.kickstart")  # it goes into the guest's initrd
        _refuse_other_guests_files(client, request.name, "install.kickstart", kickstart)
        return os.path.getsize(kickstart)
    return 0


def _read_media(client: Client, request: GuestRequest, state: GuestState, validate_certs: bool, findings: Findings) -> GuestState:
    """What only a new install needs: the media, the install tree, the kickstart, boot_dir."""
    local = is_local_uri(client.uri)
    method = request.install.method
    if request.cloud_init is not None:
        if not local:
            raise PlanError(
                "cloud_init writes its seed ISO on the host: run the module on the hypervisor with a "
                "local uri such as qemu:///system"
            )
        state = state.with_changes(boot_dir_exists=bool(findings.attempt(lambda: check_boot_dir(request.install.boot_dir))))
        findings.attempt(lambda: _check_qemu_enters_boot_dir(client, request, state, "its cloud-init seed ISO"))
        findings.attempt(lambda: _check_seed_path(seed_path(request)))
        findings.attempt(lambda: _refuse_seed_in_use(client, request))
    if method == "cdrom":
        media = request.install.cdrom
        if media is None:  # the request refuses this already
            raise PlanError("install.method cdrom needs install.cdrom")
        media_format, media_path = _read_media_file(client, media, local)
        state = state.with_changes(media_format=media_format, media_path=media_path)
    if method == "location":
        if not local:
            raise PlanError(
                "install method location fetches kernel and initrd onto the host: run the module on the "
                "hypervisor with a local uri such as qemu:///system"
            )
        # Imported here: only new installs from a tree use them (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils._guest import install_tree
        from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import UrlAccess

        install = request.install
        if install.location is None:  # the request refuses this already
            raise PlanError("install.method location needs install.location")
        location = install.location
        boot_dir_exists = findings.attempt(lambda: check_boot_dir(install.boot_dir))
        findings.attempt(lambda: _check_qemu_enters_boot_dir(client, request, state, "the installer's kernel and initrd"))
        access = UrlAccess(validate_certs=validate_certs, username=install.url_username, password=install.url_password)
        tree = findings.attempt(lambda: install_tree.find_tree(location, request.arch, access))
        kickstart_bytes = findings.attempt(lambda: _kickstart_bytes(client, request, validate_certs))
        state = state.with_changes(tree=tree, kickstart_bytes=kickstart_bytes or 0, boot_dir_exists=bool(boot_dir_exists))
    return state


def check_boot_dir(path: str) -> bool:
    """Whether ``boot_dir`` exists; refuses one that others could write to or that someone else owns.

    Kernel, initrd and a kickstart put into the initrd wait there for QEMU: a directory that
    another user can write to, or one they can move aside (a directory of theirs on the way), would
    let them swap or read those files.
    """
    _refuse_system_directory_behind(path)
    problem = untrusted_path_problem(path, "install.boot_dir")
    if problem:
        raise PlanError(problem)
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        _check_creatable(path, "install.boot_dir")
        return False
    problem = directory_info_problem(info, path, "install.boot_dir")
    if problem:
        raise PlanError(problem)
    return True


def _check_qemu_enters_boot_dir(client: Client, request: GuestRequest, state: GuestState, files: str) -> None:
    # Imported here: only new guests with files on this host ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.qemu_files import check_boot_dir_reachable

    check_boot_dir_reachable(client, request, state, files)


def _refuse_files_qemu_cannot_reach(
    client: Client, request: GuestRequest, state: GuestState, installs: bool, disks: Sequence[Tuple[DiskRequest, DiskState]]
) -> None:
    # Imported here: only guests the run starts with files on this host ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.qemu_files import refuse_unreachable_files

    refuse_unreachable_files(client, request, state, installs, disks)


def _refuse_system_directory_behind(path: str) -> None:
    """Refuse a boot_dir that leads into a system directory through a symbolic link on its way
    (/var/tmp/link/ssh with link -> /etc): the request judged only its spelling."""
    real = os.path.realpath(path)
    if real != same_path(path) and is_system_directory(real) and not real.startswith("/boot/"):
        raise PlanError(
            "install.boot_dir %s leads to %s (through a symbolic link), one of the host's system directories; "
            "kernels, initrds and seed ISOs are written there: give a directory of their own" % (path, real)
        )


def _check_seed_path(path: str) -> None:
    """The seed ISO is renamed into place: over a file or a link it replaces (an earlier run's seed),
    never over a directory or a device, which the rename would fail on after the disks were made."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise PlanError("the seed ISO's path %s is taken by something that is not a file; move it away" % path)


def _refuse_seed_in_use(client: Client, request: GuestRequest) -> None:
    """The seed ISO replaces the file at its path: never one another guest has as a disk or medium
    (a guest's disk named like this guest's seed would be overwritten by it)."""
    path = seed_path(request)
    if not os.path.lexists(path):
        return
    users, _backed = needed_by(client, "", "", same_path(path), guest=request.name)
    if users:
        raise PlanError(
            "cloud_init: the seed ISO's path %s is a disk of guest(s) %s, and writing the seed would "
            "replace it; set install.boot_dir to another directory or move that disk" % (path, ", ".join(users))
        )


def _check_creatable(path: str, what: str) -> None:
    """A missing directory can be made (``install -d`` makes its parents too) where its nearest
    existing ancestor is a directory this user can write to."""
    parent = nearest_existing(os.path.dirname(path.rstrip("/")) or "/") or "/"
    if not os.path.isdir(parent):
        raise PlanError("%s %s cannot be created: %s is not a directory" % (what, path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PlanError(
            "%s %s does not exist and cannot be created: %s is not writable by the user the module "
            "runs as; create it (install -d -m 0711 %s)" % (what, path, parent, shell(path))
        )


def storage_of(client: Client, domain: Domain) -> Tuple[Tuple[str, str], ...]:
    """Pool volumes behind the guest's disks (never its cdroms): what remove_storage deletes. A
    volume disk whose pool or volume no longer exists has nothing to delete; one in a pool that is
    not active cannot be deleted, which is refused rather than left behind unsaid."""
    found: List[Tuple[str, str]] = []
    for disk in domain.disks:
        if disk.device != "disk":
            continue
        if disk.pool and disk.volume:
            pool = client.find_pool(disk.pool)
            if pool is None:
                continue
            if not client.pool_is_active(pool):
                raise PlanError(
                    "volume %s/%s of guest %s is in storage pool %s, which is not active, so remove_storage "
                    "cannot delete it; start the pool (%s) or remove %s without remove_storage"
                    % (disk.pool, disk.volume, domain.name, disk.pool, virsh(client.uri, "pool-start", disk.pool), domain.name)
                )
            if client.find_volume(pool, disk.volume) is not None:
                found.append((disk.pool, disk.volume))
        elif disk.path:
            at_path = pool_volume_at(client, disk.path)
            if at_path is not None:
                found.append(at_path)
    return tuple(found)


def pool_volume_at(client: Client, path: str) -> Optional[Tuple[str, str]]:
    """(pool, volume) of the pool volume whose file is ``path``; None when no pool has it."""
    volume = client.find_volume_by_path(path)
    if volume is None:
        return None
    pool = client.call("look up pool of volume", path, volume.storagePoolLookupByVolume)
    return pool.name(), volume.name()


def _refuse_shared_storage(client: Client, name: str, storage: Tuple[Tuple[str, str], ...]) -> None:
    """remove_storage must not delete a disk another guest also uses, or one that backs another volume
    (lists every guest, so only removals with remove_storage pay for it)."""
    for pool_name, volume_name in storage:
        pool = client.find_pool(pool_name)
        volume = client.find_volume(pool, volume_name) if pool is not None else None
        path = client.describe_volume(volume).path if volume is not None else None
        others, backed = needed_by(client, pool_name, volume_name, path, guest=name)
        if others or backed:
            needed = "guest(s) %s" % ", ".join(others) if others else "overlay volume(s) %s" % ", ".join(backed)
            raise PlanError(
                "volume %s/%s of guest %s is also needed by %s; detach it there or remove %s "
                "without remove_storage" % (pool_name, volume_name, name, needed, name)
            )


def _new_disks(request: GuestRequest, state: GuestState) -> List[Tuple[DiskRequest, DiskState]]:
    """The requested disks the guest does not have yet, with what the host has of them."""
    attached = {
        (disk.pool, disk.volume) if disk.volume else same_path(disk.path)
        for disk in (state.existing.disks if state.existing else ())
    }
    return [
        (disk, disk_state)
        for disk, disk_state in zip(request.disks or (), state.disks)
        if (same_path(disk.path) if disk.path else (disk.pool, disk.volume)) not in attached
    ]


def _refuse_disks_on_one_file(request: GuestRequest, state: GuestState, installs: bool) -> None:
    """Two disks, or a disk and the install ISO, are never one file, however they name it (a volume
    and its path, ``//``, ``./``, a symbolic link): the request compares only how they are spelled,
    and QEMU, which locks the file for the first, would refuse the second at the start, after the
    define (and a guest would write over its own installer)."""
    seen: Dict[Tuple[int, int, int], str] = {}
    files: List[Tuple[str, Optional[str]]] = []
    for disk, disk_state in zip(request.disks or (), state.disks):
        existing = disk_state.volume.existing if disk_state.volume else None
        files.append((disk.label, existing.path if existing is not None else disk.path))
    if installs and request.install.method == "cdrom":
        files.append(("install.cdrom", state.media_path))
    for label, path in files:
        if not path:
            continue  # a new volume: a file of its own
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        # A block device by any of its nodes is the device; a file is its inode.
        identity = (0, info.st_rdev, 0) if stat.S_ISBLK(info.st_mode) else (1, info.st_dev, info.st_ino)
        if identity in seen:
            raise PlanError("%s and %s are both %s on the host; each disk needs its own storage" % (seen[identity], label, path))
        seen[identity] = label


def _refuse_reprobed_disks(request: GuestRequest, state: GuestState, local: bool) -> None:
    """A volume made raw that libvirt now reads as another format is not attached as that format (see
    refuse_reprobed), nor newly attached without a format (its user may take it for what it reads
    as): ``format: raw`` attaches it as made. A disk the guest has already keeps the format of its
    definition, and is not switched to another format that its file was not made as."""
    _refuse_format_switches(request, state, local)
    for disk, disk_state in _new_disks(request, state):
        existing = disk_state.volume.existing if disk_state.volume else None
        if existing is not None and disk_state.probed_format is not None and not disk.format:
            raise PlanError(
                "%s: volume %s was made as %s, but its content now reads as %s: whoever writes it (a guest on it) "
                "can write such a header, so it is not used as %s. Give format raw to attach it as it was made"
                % (disk.label, disk.volume_request().label, existing.format, disk_state.probed_format, disk_state.probed_format)
            )
        if existing is not None:
            refuse_reprobed(existing, local, "%s: volume %s" % (disk.label, disk.volume_request().label))
        elif local and disk.path and disk.format:
            # The file of a volume made raw, named by its path: format says how to read it, and the
            # record on the file still says what it was made as.
            refuse_reprobed(
                Volume(name="", capacity=0, format=disk.format, path=disk.path), local, "%s: %s" % (disk.label, disk.path)
            )


def _refuse_format_switches(request: GuestRequest, state: GuestState, local: bool) -> None:
    """A disk the guest has, whose file was made raw, is never switched to a format with a header:
    the guest wrote what the file holds, a qcow2 header naming any host file as its backing file too."""
    if state.existing is None or not local:
        return
    stored: Dict[Any, Disk] = {
        (disk.pool, disk.volume) if disk.volume else same_path(disk.path): disk for disk in state.existing.disks
    }
    new = {id(disk) for disk, _disk_state in _new_disks(request, state)}
    for disk, disk_state in zip(request.disks or (), state.disks):
        if id(disk) in new or not disk.format:
            continue
        had = stored.get(same_path(disk.path) if disk.path else (disk.pool, disk.volume))
        if had is None or had.format == disk.format:
            continue
        existing = disk_state.volume.existing if disk_state.volume else None
        path = existing.path if existing is not None else disk.path
        recorded = recorded_format(path) if path else None
        if recorded in PLAIN_FORMATS and disk.format not in PLAIN_FORMATS:
            raise PlanError(
                "%s: %s was made as %s and the guest wrote its content, so it is never switched to %s (a %s "
                "header there can name any host file as its backing file); keep format %s, or copy its content "
                "to a new volume as %s" % (disk.label, path, recorded, disk.format, disk.format, had.format, disk.format)
            )


def _refuse_other_guests_logs(client: Client, request: GuestRequest, state: GuestState, installs: bool) -> None:
    """A new disk or the install ISO, given by path, is never a file another guest logs its console
    to: the guest would read (or write) what that guest prints."""
    paths = [disk.path for disk, _disk_state in _new_disks(request, state) if disk.path]
    cdrom = request.install.cdrom if installs and request.install.method == "cdrom" else None
    if cdrom is not None and cdrom.path:
        paths.append(cdrom.path)
    if not paths:
        return
    # Imported here: only new disks and ISOs given by path ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import usage

    for path in paths:
        is_the_file = usage.in_files_test([path], None, True)
        for name, references in usage.guest_references(client):
            if name != request.name and any(is_the_file(log) for log in references["logs"]):
                raise PlanError(
                    "%s is the serial or console log of guest %s: this guest would read what that guest prints; "
                    "give it a disk image or ISO of its own" % (path, name)
                )


def _refuse_disks_in_use(client: Client, request: GuestRequest, state: GuestState) -> None:
    """A disk that another guest uses, or that backs another volume, is attached only with
    allow_in_use: two guests writing one disk destroy its file system, and writing a backing file
    corrupts its overlays. Disks the guest already has are not asked about again."""
    for disk, disk_state in _new_disks(request, state):
        if disk.allow_in_use:
            continue
        existing = disk_state.volume.existing if disk_state.volume else None
        if disk.pool and existing is None:
            continue  # a new volume has no users yet
        users, backed = needed_by(client, *_volume_identity(client, disk, existing), guest=request.name)
        if users or backed:
            needed = (
                "used by guest(s) %s" % ", ".join(users)
                if users
                else "the backing file or data file of volume(s) %s" % ", ".join(backed)
            )
            raise PlanError(
                "%s: %s is %s; attaching it to %s too would let it be written behind their back. Use "
                "another volume, or set allow_in_use: true on the disk if they share it on purpose"
                % (disk.label, disk.volume_request().label if disk.pool else disk.path, needed, request.name)
            )


def _refuse_media_written(client: Client, media: MediaRef) -> None:
    """An install ISO that another guest has as a disk it writes: the installer would read that
    guest's data (and a changing image) as its media."""
    if media.path is not None:
        writers = _writers_of_file(client, media.path)
    else:
        volume = client.find_volume(open_pool(client, media.pool or ""), media.volume or "")
        writers = written_by(
            client, media.pool or "", media.volume or "", client.describe_volume(volume).path if volume is not None else None
        )
    if writers:
        raise PlanError(
            "install.cdrom: %s is a disk that guest(s) %s write; give an ISO of its own" % (media.label, ", ".join(writers))
        )


def _writers_of_file(client: Client, path: str) -> Tuple[str, ...]:
    """The guests that write the host file ``path`` as a disk, by its path or as a pool's volume."""
    same = same_path(path) or path
    return written_by(client, *(pool_volume_at(client, same) or ("", "")), same)


def _refuse_other_guests_files(client: Client, guest: str, what: str, path: str, thorough: bool = True) -> None:
    """A host file read into the guest (a boot kernel or initrd, a kickstart packed into its
    initrd) is never a log, nor a disk another guest writes: the guest would read that guest's
    data, or the consoles and command lines of others (libvirt logs each guest's QEMU command
    line, with its kernel arguments, under /var/log; see host_files.log_name)."""
    # Imported here: only new boot files and kickstarts on the host ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files, usage

    logged = host_files.log_name(path, thorough)
    if logged:
        through = "" if logged == (same_path(path) or path) else " (%s)" % logged
        raise PlanError(
            "%s: %s is a log of the host%s, of its services or of libvirt's guests; give a file of its own"
            % (what, path, through)
        )
    if not thorough:
        return
    writers = tuple(name for name in _writers_of_file(client, path) if name != guest)
    if writers:
        raise PlanError("%s: %s is a disk that guest(s) %s write; give a file of its own" % (what, path, ", ".join(writers)))
    is_the_file = usage.in_files_test([path], None, True)
    for name, references in usage.guest_references(client):
        if name != guest and any(is_the_file(log) for log in references["logs"]):
            raise PlanError(
                "%s: %s is the serial or console log of guest %s: this guest would read what that guest prints; "
                "give a file of its own" % (what, path, name)
            )


def _volume_identity(client: Client, disk: DiskRequest, existing: Any) -> Tuple[str, str, Optional[str]]:
    """(pool, volume, path) of a disk, whichever way it was given: a path inside a pool is that
    pool's volume too, and other guests may name it either way."""
    if disk.pool:
        return disk.pool, disk.volume or "", existing.path if existing is not None else None
    path = same_path(disk.path)
    if path is None:  # the request gives every disk pool and volume, or a path
        return "", "", None
    return (pool_volume_at(client, path) or ("", "")) + (path,)


class Findings:
    """Refusals found while reading the host for one guest. Each independent check runs even when
    an earlier one refused, so virt_preflight can list them all; a run reports the first."""

    def __init__(self) -> None:
        self.messages: List[str] = []

    def attempt(self, read: Callable[[], T]) -> Optional[T]:
        """``read()``, or None with its refusal noted. A failure to read at all (libvirt, the
        network, the file system) is noted too once something was refused, and raised otherwise:
        the first refusal stays what the run reports."""
        try:
            return read()
        except PlanError as error:
            self.messages.extend(refusals_of(error))
        except (RemotevirtError, OSError) as error:
            if not self.messages:
                raise
            self.messages.append(str(error))
        return None


def read_state(client: Client, request: GuestRequest, validate_certs: bool = True) -> GuestState:
    """What the host has for ``request``; raises PlanError with the first refusal of its checks."""
    state, problems = read_host(client, request, validate_certs)
    if problems:
        raise Refusals(problems)
    return state


def _runs_agent_channel(live_xml: Optional[str]) -> bool:
    """Whether the running guest (its live definition ``live_xml``) has a channel libvirt reaches its
    guest agent through."""
    return live_xml is not None and Domain.from_xml(live_xml).tuning.agent is not None


def _runs_install(live_xml: Optional[str], stored_xml: str) -> bool:
    """True when the running guest still runs an install's definition (see install_mark.runs_installer).
    A run whose job was killed, cut off or out of time left that install going; the guest is not
    installed until it powers off. No live definition: a guest that stopped since it was read runs nothing."""
    return live_xml is not None and runs_installer(live_xml, stored_xml)


def _with_saved_definition(client: Client, domain: Any, state: GuestState) -> GuestState:
    """A stopped guest saved with virsh managedsave resumes, when the run starts it, the definition it
    was saved with: an older one than its stored definition, as its mark says (see definition_mark)."""
    if not client.has_managed_save(domain):
        return state
    saved = client.managed_save_definition(domain)
    return state.with_changes(resumes_saved=True, running_mark=running_mark(saved, state.existing_xml or ""))


def read_host(client: Client, request: GuestRequest, validate_certs: bool = True) -> Tuple[GuestState, List[str]]:
    """What the host has for ``request``, and every refusal of the checks that reading makes."""
    state = GuestState()
    findings = Findings()
    domain = client.find_domain(request.name)
    local = is_local_uri(client.uri)
    if domain is not None and client.domain_is_persistent(domain):
        xml = client.domain_definition(domain)
        existing = Domain.from_xml(xml)
        active = client.domain_is_active(domain)
        live = client.domain_live_definition_if_present(domain) if active else None
        state = state.with_changes(
            existing=existing,
            existing_xml=xml,
            active=active,
            autostart=client.domain_autostart(domain),
            installing=_runs_install(live, xml),
            running_mark=running_mark(live, xml),
            running_agent=_runs_agent_channel(live) if active and waits_for_agent(request) else None,
        )
        if request.state == "running" and not request.reinstall and not active:
            state = _with_saved_definition(client, domain, state)
        if request.state != "absent" and not request.reinstall and not active:
            problem = never_installed_problem(request.name, xml, local, qemu_log_directory(client.uri))
            if problem:
                findings.messages.append(problem)
        if request.state == "absent":
            storage = storage_of(client, existing) if request.remove_storage else ()
            findings.attempt(lambda: _refuse_shared_storage(client, request.name, storage))
            log = None if request.keep_serial_log or not local else _removable_serial_log(client, request.name, existing)
            # The removal destroys a running guest first: a seed its first boot still uses goes too.
            seed = _leftover_seed(client, request, domain, local, removed=True)
            return state.with_changes(storage=storage, serial_log_file=log, seed_file=seed), findings.messages
    elif domain is not None:
        state = state.with_changes(transient=True, active=True)
        if request.state == "absent" or not request.reinstall:
            return state, findings.messages  # removed, or refused by the planner
    if request.state == "absent":
        return state, findings.messages
    installs = state.existing is None or request.reinstall
    # The platform first: a guest the host cannot run at all is refused for that before its devices.
    if installs and request.domain_type is None:
        state = state.with_changes(detected_type="kvm" if client.kvm_usable(request.arch or "x86_64") else "qemu")
    if installs:
        findings.messages.extend(findings.attempt(lambda: _platform_problems(client, request, state)) or [])
    stored = state.existing if not request.reinstall else None
    disks = [findings.attempt(_disk_reader(client, disk, local, stored)) for disk in request.disks or ()]
    if not findings.messages:
        state = state.with_changes(disks=tuple(disk for disk in disks if disk is not None))
        findings.attempt(lambda: _refuse_disks_in_use(client, request, state))
        findings.attempt(lambda: _refuse_reprobed_disks(request, state, local))
    if local:
        findings.attempt(lambda: _refuse_other_guests_logs(client, request, state, installs))
    if installs or request.networks is not None:
        findings.messages.extend(_network_problems(client, request))
    if request.tuning.given or (installs and request.firmware == "uefi") or state.sets_vcpus(request.vcpus, request.reinstall):
        state = _with_tuning_checked(client, request, state, local, findings)
    if request.cpu is not None and (installs or state.existing is None or state.existing.cpu_mode != request.cpu):
        findings.attempt(lambda: _check_cpu_mode(client, request, state))
    if request.filesystems or request.hostdevs:
        findings.messages.extend(findings.attempt(lambda: _device_problems(client, request, state, local)) or [])
    if installs:
        media = findings.attempt(lambda: _read_media(client, request, state, validate_certs, findings))
        state = media if media is not None else state
    elif domain is not None:
        state = state.with_changes(seed_file=_leftover_seed(client, request, domain, local))
    if local and state.disks:
        findings.attempt(lambda: _refuse_disks_on_one_file(request, state, installs))
    findings.attempt(lambda: _check_boot_files(client, request, state, local))
    if local and (_new_guest_starts(request) if installs else _starts(request, state)):
        read_disks = [(disk, read) for disk, read in zip(request.disks or (), disks) if read is not None]
        findings.attempt(lambda: _refuse_files_qemu_cannot_reach(client, request, state, installs, read_disks))
    if local and _starts(request, state):
        findings.attempt(lambda: check_serial_log_dir(serial_log_of(request, state)))
    if local and _new_serial_log(request, state):
        findings.attempt(lambda: _check_serial_log_file(client, request, state))
    if request.wait_for is not None:
        offset = findings.attempt(lambda: _serial_log_offset(client, domain, request, state, local))
        state = state.with_changes(serial_log_offset=offset or 0)
    return state, findings.messages


def host_clashes(client: Client, request: GuestRequest, state: GuestState, plan: Plan) -> List[str]:
    """A refusal for each MAC address, serial log or fixed graphics port ``plan`` gives the guest that
    another guest on the host has (see host_clashes); none for a plan that changes nothing."""
    if not plan.changed:
        return []
    # Imported here: only plans that change something ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.host_clashes import host_clash_problems

    local = is_local_uri(client.uri)
    problems = host_clash_problems(client, request, state, plan, local) + _stored_start_problems(client, request, state, plan)
    if not local or not _new_serial_log(request, state) or any(problem.startswith("serial_log") for problem in problems):
        return problems
    held = _held_serial_log_problem(request)
    return problems + [held] if held else problems


def _stored_start_problems(client: Client, request: GuestRequest, state: GuestState, plan: Plan) -> List[str]:
    """Why an existing guest the plan starts (no install) cannot start for what it keeps from its
    stored definition (what the request gives is checked as such): a network, pool, volume, bridge,
    disk file, firmware file or shared directory the host no longer has (see startable)."""
    if state.existing_xml is None or request.reinstall or not any(action.verb == START for action in plan.actions):
        return []
    # Imported here: only a start of an existing guest asks (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._power.startable import start_problems

    # Its boot files and serial log are those of the request, checked as such.
    problems = start_problems(
        client,
        state.existing_xml,
        interfaces=request.networks is None,
        disks=request.disks is None,
        files=False,
        shares=request.filesystems is None,
    )
    return ["guest %s cannot start: %s" % (request.name, "; ".join(problems))] if problems else []


def _held_serial_log_problem(request: GuestRequest) -> str:
    """Why the new serial log is a file that holds something already (judged after the clashes with other
    guests' files, whose refusals say more): someone else's, but for the guest's default log in libvirt's
    log directory, which a guest of this name removed with keep_serial_log left."""
    # Imported here: only a new serial log asks (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.serial_log import existing_file_problem

    path = request.serial_log or ""
    return "" if same_path(path) == default_serial_log(request.name) else existing_file_problem(path)


def _with_tuning_checked(client: Client, request: GuestRequest, state: GuestState, local: bool, findings: Findings) -> GuestState:
    """``state`` with what the host offers for the guest's tuning and vCPUs; its refusals noted."""
    # Imported here: only new guests, vCPU changes and tuning options read it.
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_host import read_tuning_host, tuning_problems

    host = findings.attempt(lambda: read_tuning_host(client, request, state, local))
    if host is None:
        return state
    state = state.with_changes(tuning_host=host)
    findings.messages.extend(tuning_problems(request, state))
    return state


def _platform_problems(client: Client, request: GuestRequest, state: GuestState) -> List[str]:
    """Refusals of the new guest's architecture, virtualization type, machine type and firmware on this host."""
    # Imported here: only new guests and reinstalls ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.platform_host import (
        platform_problems,
        read_platform_host,
    )

    return platform_problems(request, state, read_platform_host(client, request, state))


def _device_problems(client: Client, request: GuestRequest, state: GuestState, local: bool) -> List[str]:
    # Imported here: only guests with shares or host devices need it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.devices_host import device_problems

    return device_problems(client, request, state, _starts(request, state), local)


def _check_cpu_mode(client: Client, request: GuestRequest, state: GuestState) -> None:
    """The CPU mode must be one the host offers for the guest's virtualization type (TCG has no
    host-passthrough): libvirt would refuse it only when the guest starts."""
    virt_type = request.domain_type or state.detected_type or (state.existing.type if state.existing else None) or "kvm"
    arch = request.arch or "x86_64"
    xml = client.domain_capabilities(arch, virt_type, request.machine)
    if xml is None or request.cpu is None:
        return  # a driver without domain capabilities (the test driver): libvirt decides
    # Imported here: only a CPU mode being set asks.
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

    modes = {found.get("name"): found.get("supported") for found in parse(xml).iterfind("cpu/mode")}
    if modes.get(request.cpu) == "no":
        offered = [name for name in ("host-model", "maximum", "host-passthrough") if modes.get(name) == "yes"]
        raise PlanError(
            "cpu: mode %s is not offered by this host for %s guests (%s); choose %s"
            % (request.cpu, virt_type, arch, " or ".join(offered) or "none (leave cpu out)")
        )


def _leftover_seed(client: Client, request: GuestRequest, domain: Any, local: bool, removed: bool = False) -> Optional[str]:
    """The guest's seed ISO when it is still on the host but its first boot is over: the guest is
    shut off, runs a definition without it (a restart after the first boot), or is ``removed``."""
    path = seed_path(request)
    if not local:
        return None
    if removed and not _is_regular_file(path) and client.domain_is_active(domain):
        # A removal given no boot_dir: the guest's first boot names its seed, wherever it was written.
        path = _seed_of_first_boot(client, domain, os.path.basename(path)) or path
    if not _is_regular_file(path):
        return None
    if not removed and client.domain_is_active(domain) and path in client.domain_live_definition(domain):
        return None
    return path


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _seed_of_first_boot(client: Client, domain: Any, name: str) -> Optional[str]:
    """The seed ISO (file ``name``) the running guest has as a cdrom, if it is in its first boot."""
    live = Domain.from_xml(client.domain_live_definition(domain))
    for disk in live.disks:
        if disk.device == "cdrom" and disk.path and os.path.basename(disk.path) == name:
            return disk.path
    return None


def _check_boot_files(client: Client, request: GuestRequest, state: GuestState, local: bool) -> None:
    """``boot``'s kernel and initrd must be files on the host (checked where the module runs on it),
    and none of the host's own files but its kernels: QEMU reads them into the guest, and libvirt
    gives them to QEMU's user while the guest runs (a link to /etc/shadow would hand it over). Those
    the stored definition does not boot yet are no log and no other guest's disk either."""
    boot = request.boot
    if boot is None or not local:
        return
    stored = state.existing.os.kernel if state.existing is not None and not request.reinstall else None
    for what, path, booted in (
        ("kernel", boot.kernel, stored.kernel if stored else None),
        ("initrd", boot.initrd, stored.initrd if stored else None),
    ):
        if path is None:
            continue
        if not os.path.isfile(path):
            raise PlanError("boot.%s: %s is not a file on the host" % (what, path))
        if not _is_host_boot_file(path):
            _refuse_host_file(path, "boot.%s" % what)
            # The guests and the log tree are looked through only for a file the guest does not boot yet.
            _refuse_other_guests_files(client, request.name, "boot.%s" % what, path, thorough=path != booted)


def _is_host_boot_file(path: str) -> bool:
    """A kernel or initrd of the host's /boot, by its name and by where it leads: what a guest may boot."""
    return all((candidate + "/").startswith("/boot/") for candidate in (same_path(path) or path, os.path.realpath(path)))


def _serial_log_offset(client: Client, domain: Any, request: GuestRequest, state: GuestState, local: bool) -> int:
    """The serial log's size now: a wait_for marker counts only in what the guest writes after it.
    A saved guest (virsh managedsave) that the run starts resumes its boot: from where that boot
    began, as its saved definition's mark says (see boot_mark), or in the whole log without a mark.
    A saved definition libvirt cannot read (an incomplete image, which libvirt does not restore) is a
    fresh boot's: its size now."""
    if request.wait_for is None or request.wait_for.marker is None:
        return 0
    if not local:
        raise PlanError(
            "wait_for.marker reads the guest's serial log on the host: run the module on the hypervisor "
            "with a local uri such as qemu:///system"
        )
    path = serial_log_of(request, state)
    resumes = domain is not None and state.existing is not None and not state.active and not request.reinstall
    if resumes and client.has_managed_save(domain):
        # Imported here: only a saved guest's start reads its mark.
        from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import boot_log_start

        saved = client.managed_save_definition(domain)
        if saved is not None:
            return boot_log_start(saved, path)
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _starts(request: GuestRequest, state: GuestState) -> bool:
    """Whether the run may start the guest (QEMU opens its serial log then)."""
    return state.existing is None or request.reinstall or (request.state == "running" and not state.active)


def _new_guest_starts(request: GuestRequest) -> bool:
    """Whether the run that creates (or reinstalls) the guest starts it, as the planner plans it: an
    install or a cloud image's first boot does, an import only with state running."""
    return request.install.method != "import" or request.cloud_init is not None or request.state == "running"


def check_serial_log_dir(path: str) -> None:
    """QEMU opens the serial log when the guest starts and does not create its directory: an install
    whose directory is missing would fail only then."""
    if os.path.isdir(path):
        raise PlanError("serial_log: %s is a directory; give the path of a file in it" % path)
    directory = os.path.dirname(path) or "/"
    if not os.path.isdir(directory):
        raise PlanError(
            "serial_log: directory %s does not exist on the host, and the guest cannot start without "
            "it; create it (install -d -m 0700 %s) or set serial_log to a file in a directory that "
            "exists" % (directory, shell(directory))
        )
    # The log is written by root (virtlogd) through whatever a link at its path leads to: in a
    # directory another user may write, or may move (one of theirs on the way), they choose which
    # file root appends the console to.
    problem = untrusted_path_problem(directory, "serial_log: directory") or directory_info_problem(
        os.stat(directory), directory, "serial_log: directory"
    )
    if problem:
        raise PlanError(problem)


def _new_serial_log(request: GuestRequest, state: GuestState) -> bool:
    """Whether the request gives the guest a serial log it does not have yet."""
    if request.serial_log is None:
        return False
    stored = state.existing.serial_log if state.existing is not None else None
    return stored is None or same_path(stored.path) != same_path(request.serial_log)


def _check_serial_log_file(client: Client, request: GuestRequest, state: GuestState) -> None:
    """A new serial log is never among the host's files, nor a file a pool, another guest or this guest
    itself has."""
    # Imported here: only a new serial log and a removal ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.serial_log import (
        file_problem,
        own_file_problem,
        place_problem,
    )

    path = request.serial_log or ""
    problem = (
        place_problem(path)
        or own_file_problem(path, _own_files(request, state))
        or file_problem(client, path, request.name, logs=False)
    )
    if problem:
        raise PlanError(problem)


def _own_files(request: GuestRequest, state: GuestState) -> List[Tuple[str, str]]:
    """(what, path) of the files the guest has or is given as disks and install media."""
    kept = state.existing.disks if state.existing is not None else ()
    return request.path_files() + [("its disk %s" % disk.target, disk.path) for disk in kept if disk.path]


def _removable_serial_log(client: Client, guest: str, existing: Domain) -> Optional[str]:
    """The serial log file of a removed guest, if it is a regular file (a link is never followed)
    that is none of the host's files, no pool's volume, and no file another guest opens or logs to:
    those stay."""
    path = existing.serial_log.path if existing.serial_log is not None else None
    if not path:
        return None
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
    except OSError:
        return None
    # Imported here: only removals ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.serial_log import (
        file_problem,
        own_file_problem,
        place_problem,
    )

    own = [(disk.target, disk.path) for disk in existing.disks if disk.path]
    return None if place_problem(path) or own_file_problem(path, own) or file_problem(client, path, guest) else path

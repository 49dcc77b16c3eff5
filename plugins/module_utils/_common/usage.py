# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which guests use a volume: what each guest's definitions refer to, read once per change.

libvirt has no reverse index from a volume to its guests, so the answer needs every guest's
definition: one call per guest, which grows with the host. What a definition refers to (its
disks' pool/volume and files, backing stores libvirt shows, kernel and initrd) is kept in a
private cache on the host, keyed by the guest's name and the stamp of the files libvirt keeps
that definition in (libvirt rewrites them on every change of the guest). A guest whose stamp is
unknown (another driver, a remote URI, a file this user cannot see) is read every time.
Imported only by runs that ask whether a volume is in use.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import made_plain
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import definition_path, same_path
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

# Images followed on one backing chain (QEMU and libvirt go far deeper than images are stacked in
# practice); a loop ends where it comes back to an image already seen.
MAX_CHAIN = 256

# Reads the files an image names (backing file, data file; see image_header.named_files).
ImageReader = Callable[[str], Tuple[Optional[str], Optional[str]]]
# The path of a pool's volume on the host, None where there is none: (pool, volume) -> path.
VolumePaths = Callable[[str, str], Optional[str]]

# Where libvirt's system QEMU driver keeps each guest's persistent definition and, while it runs,
# its live state: rewritten (a new file, renamed over the old one) whenever either changes.
SYSTEM_CONFIG_DIR = "/etc/libvirt/qemu"
SYSTEM_STATE_DIR = "/run/libvirt/qemu"
SYSTEM_URIS = ("qemu:///system", "qemu+unix:///system")

# Bumped when what is cached changes meaning.
_CACHE_VERSION = 10


class References:
    """What a guest's definitions refer to: ``volumes`` (pool, volume) of volume disks, and of those
    the ``followed_volumes`` whose backing and data files QEMU follows (not read as raw), ``images``
    (path, whether QEMU follows its backing file) of file and block disks and of the backing stores
    libvirt shows, ``boot`` files (whole files QEMU opens besides disks, see _whole_files), host
    ``directories`` it has as disks or file systems; and of those, what the guest writes:
    ``written_volumes`` and ``written_images``, the sources of its disks that are not read-only
    (never a cdrom, nor a backing store). What no other guest may take as well: its cards' ``macs``
    (lower case), the files its serial ports and consoles write (``logs``), and its fixed
    ``graphics_ports`` (QEMU listens on them; a port libvirt picks is not one)."""

    __slots__ = (
        "volumes",
        "followed_volumes",
        "images",
        "boot",
        "written_volumes",
        "written_images",
        "macs",
        "logs",
        "graphics_ports",
        "directories",
    )

    def __init__(
        self,
        volumes: Iterable[Tuple[str, str]] = (),
        images: Iterable[Tuple[str, bool]] = (),
        boot: Iterable[str] = (),
        written_volumes: Iterable[Tuple[str, str]] = (),
        written_images: Iterable[str] = (),
        macs: Iterable[str] = (),
        logs: Iterable[str] = (),
        graphics_ports: Iterable[int] = (),
        followed_volumes: Iterable[Tuple[str, str]] = (),
        directories: Iterable[str] = (),
    ) -> None:
        self.volumes = sorted(set((str(pool), str(volume)) for pool, volume in volumes))
        self.followed_volumes = sorted(set((str(pool), str(volume)) for pool, volume in followed_volumes))
        self.directories = sorted(set(str(path) for path in directories))
        self.images = sorted(set((str(path), bool(follows)) for path, follows in images))
        self.boot = sorted(set(str(path) for path in boot))
        self.written_volumes = sorted(set((str(pool), str(volume)) for pool, volume in written_volumes))
        self.written_images = sorted(set(str(path) for path in written_images))
        self.macs = sorted(set(str(mac).lower() for mac in macs))
        self.logs = sorted(set(str(path) for path in logs))
        self.graphics_ports = sorted(set(int(port) for port in graphics_ports))

    @classmethod
    def of_definition(cls, domain: Any) -> "References":
        """The references of a parsed domain definition."""
        volumes = []
        followed_volumes = []
        directories = []
        images = []
        written_volumes = []
        written_images = []
        for disk in domain.iterfind("devices/disk"):
            # A raw disk is opened as it is: QEMU follows no backing file named in its content.
            follows = (disk.find("driver") is None) or disk.find("driver").get("type") != "raw"
            # './/source' also finds <backingStore><source .../> of running guests' disks.
            for source in disk.iterfind(".//source"):
                if source.get("pool") and source.get("volume"):
                    volumes.append((source.get("pool"), source.get("volume")))
                    if follows:
                        followed_volumes.append((source.get("pool"), source.get("volume")))
                image = definition_path(source.get("file") or source.get("dev"))
                if image:
                    images.append((image, follows))
                directory = definition_path(source.get("dir"))  # a directory QEMU shows as a disk (vvfat)
                if directory:
                    directories.append(directory)
            own = disk.find("source")
            if own is not None and _writable(disk):
                if own.get("pool") and own.get("volume"):
                    written_volumes.append((own.get("pool"), own.get("volume")))
                image = definition_path(own.get("file") or own.get("dev"))
                if image:
                    written_images.append(image)
        boot = _whole_files(domain)
        for source in domain.iterfind("devices/filesystem/source"):
            shared = definition_path(source.get("dir"))  # a host directory the guest mounts
            if shared:
                directories.append(shared)
            image = definition_path(source.get("file"))
            if image:
                images.append((image, False))
        exclusive = Exclusive.of_definition(domain)
        return cls(
            volumes,
            images,
            [path for path in boot if path],
            written_volumes,
            written_images,
            exclusive.macs,
            exclusive.logs,
            exclusive.graphics_ports,
            followed_volumes,
            directories,
        )

    def merged(self, other: "References") -> "References":
        return References(
            self.volumes + other.volumes,
            self.images + other.images,
            self.boot + other.boot,
            self.written_volumes + other.written_volumes,
            self.written_images + other.written_images,
            self.macs + other.macs,
            self.logs + other.logs,
            self.graphics_ports + other.graphics_ports,
            self.followed_volumes + other.followed_volumes,
            self.directories + other.directories,
        )

    def as_json(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "References":
        return cls(
            data["volumes"],
            data["images"],
            data["boot"],
            data["written_volumes"],
            data["written_images"],
            data["macs"],
            data["logs"],
            data["graphics_ports"],
            data["followed_volumes"],
            data["directories"],
        )

    def refer_to(
        self,
        pool_name: str,
        volume_name: str,
        path: Optional[str],
        read_image: Optional[ImageReader],
        same_file: Optional[Callable[[str], bool]] = None,
        aliases: Iterable[Tuple[str, str]] = (),
    ) -> bool:
        """Whether these references are the volume, by pool and name or by ``path``, directly or
        through the files an image names (followed with ``read_image`` on the host)."""
        return refers_to(self.as_json(), pool_name, volume_name, path, read_image, same_file, aliases)


def refers_to(
    references: Dict[str, Any],
    pool_name: str,
    volume_name: str,
    path: Optional[str],
    read_image: Optional[ImageReader],
    same_file: Optional[Callable[[str], bool]] = None,
    aliases: Iterable[Tuple[str, str]] = (),
    volume_path: Optional[VolumePaths] = None,
) -> bool:
    """References.refer_to on their cached form (lists, as JSON has them). Paths are compared as
    written and, with ``same_file`` (on the host that holds the files, see same_file_as), by the
    file they lead to; ``aliases`` are the other (pool, volume) names of the same file (see
    pool_names_of)."""
    if _names_the_volume(references["volumes"], pool_name, volume_name, aliases):
        return True
    is_the_file = path_test(path, same_file)
    if is_the_file is None:
        return False
    if _under_a_directory(path, references["directories"]):
        return True
    return reaches(references, is_the_file, read_image, volume_path)


def _under_a_directory(path: Optional[str], directories: List[str]) -> bool:
    """Whether ``path`` lies in a directory a guest has as a disk (QEMU shows its files to the guest)."""
    wanted = same_path(path)
    if not wanted:
        return False
    return any((wanted + "/").startswith(directory.rstrip("/") + "/") for directory in directories)


def reaches(
    references: Dict[str, Any],
    is_wanted: Callable[[str], bool],
    read_image: Optional[ImageReader],
    volume_path: Optional[VolumePaths] = None,
) -> bool:
    """Whether a guest with these (cached) references opens a path for which ``is_wanted`` holds:
    a kernel, initrd or firmware file it boots with, the file of a disk, or one QEMU opens through
    it (see files_opened_through, with ``read_image`` on the host that holds the files); the files
    of volume disks are found with ``volume_path``."""
    if any(is_wanted(path) for path in references["boot"] + references["directories"]):
        return True
    images: List[Any] = list(references["images"])
    if volume_path is not None:
        images += [
            (path, True) for path in (volume_path(pool, volume) for pool, volume in references["followed_volumes"]) if path
        ]
    return any(
        is_wanted(opened) for image, follows in images for opened in files_opened_through(image, read_image if follows else None)
    )


def files_opened_through(image: str, read_image: Optional[ImageReader]) -> Iterator[str]:
    """``image``, then (with ``read_image``, on the host that holds the files) each file QEMU
    opens through it: the data file and the backing file it names, and those its backing file
    names in turn, up to MAX_CHAIN images or an image already seen (paths as same_path writes them)."""
    current: Optional[str] = image
    seen: Set[str] = set()
    while current is not None and current not in seen and len(seen) < MAX_CHAIN:
        seen.add(current)
        yield current
        if read_image is None:
            return
        backing, data_file = read_image(current)
        data_path = same_path(data_file)
        if data_path is not None:
            yield data_path
        current = same_path(backing)


def writes_to(
    references: Dict[str, Any],
    pool_name: str,
    volume_name: str,
    path: Optional[str],
    same_file: Optional[Callable[[str], bool]] = None,
    aliases: Iterable[Tuple[str, str]] = (),
    read_image: Optional[ImageReader] = None,
    volume_path: Optional[VolumePaths] = None,
) -> bool:
    """Whether a guest with these (cached) references has the volume as a disk it writes (by pool
    and name, by ``path``, or with ``same_file`` by the file the path leads to), or, with
    ``read_image``, as the data file of a disk it writes (volume disks found with ``volume_path``)."""
    if _names_the_volume(references["written_volumes"], pool_name, volume_name, aliases):
        return True
    is_the_file = path_test(path, same_file)
    return is_the_file is not None and writes(references, is_the_file, read_image, volume_path)


def writes(
    references: Dict[str, Any],
    is_wanted: Callable[[str], bool],
    read_image: Optional[ImageReader],
    volume_path: Optional[VolumePaths] = None,
) -> bool:
    """Whether a guest with these (cached) references writes a path for which ``is_wanted`` holds:
    the file of a disk it writes, or (with ``read_image``) that image's data file. QEMU opens an
    image's backing chain read-only."""
    images = list(references["written_images"])
    if volume_path is not None:
        images += [path for path in (volume_path(pool, volume) for pool, volume in references["written_volumes"]) if path]
    return any(is_wanted(written) for image in images for written in _files_written_through(image, read_image))


def _files_written_through(image: str, read_image: Optional[ImageReader]) -> Iterator[str]:
    """``image`` and the data file it names: QEMU opens an image's backing chain read-only. A file
    recorded as made raw or iso names none, whatever header its guest wrote into it."""
    yield image
    data_path = same_path(read_image(image)[1]) if read_image is not None and not made_plain(image) else None
    if data_path is not None:
        yield data_path


def _names_the_volume(volumes: List[Any], pool_name: str, volume_name: str, aliases: Iterable[Tuple[str, str]]) -> bool:
    """Whether (pool, volume) pairs (lists, as JSON gives them back) hold the volume or one of its ``aliases``."""
    pairs = [tuple(volume) for volume in volumes]
    return any(name in pairs for name in [(pool_name, volume_name)] + list(aliases))


def path_test(path: Optional[str], same_file: Optional[Callable[[str], bool]] = None) -> Optional[Callable[[str], bool]]:
    """A test of whether a path (written as same_path writes it) is ``path``: as written, or with
    ``same_file`` (see same_file_as) by the file it leads to. None without a ``path``."""
    wanted = same_path(path)
    if wanted is None:
        return None
    return lambda candidate: candidate == wanted or (same_file is not None and same_file(candidate))


class Exclusive(NamedTuple):
    """What no two guests on a host may have: their cards' ``macs`` (lower case; the cards would take
    each other's traffic and leases), the files their character devices write (``logs``: two QEMUs
    appending to one file), and their fixed ``graphics_ports`` (the guest started second fails)."""

    macs: FrozenSet[str]
    logs: FrozenSet[str]
    graphics_ports: FrozenSet[int]

    @classmethod
    def of_definition(cls, domain: Any) -> "Exclusive":
        """What a parsed domain definition takes."""
        macs = frozenset(mac.get("address").lower() for mac in domain.iterfind("devices/interface/mac") if mac.get("address"))
        return cls(macs, frozenset(_log_files(domain)), frozenset(_fixed_graphics_ports(domain)))

    @classmethod
    def of_xml(cls, text: Optional[str]) -> "Exclusive":
        """What a definition given as XML takes; nothing for none."""
        return cls.of_definition(parse(text)) if text else cls(frozenset(), frozenset(), frozenset())

    def beyond(self, had: "Exclusive") -> "Exclusive":
        """What this takes that ``had`` does not: what a change of a guest adds to what it has."""
        return Exclusive(self.macs - had.macs, self.logs - had.logs, self.graphics_ports - had.graphics_ports)


# The character devices QEMU can point at a host file: a serial log given to another guest is
# written by two QEMUs whichever of these the other guest writes it with.
_CHARACTER_DEVICES = ("serial", "console", "parallel", "channel")


def _whole_files(domain: Any) -> List[Optional[str]]:
    """The files QEMU opens for a guest besides its disks: kernel, initrd and device tree, firmware,
    its variables and their template, ACPI tables, network cards' option ROMs, and NVDIMM backing files
    (the guest's persistent memory)."""
    found = [definition_path(domain.findtext(tag)) for tag in ("os/kernel", "os/initrd", "os/loader", "os/nvram", "os/dtb")]
    found += [definition_path(table.text) for table in domain.iterfind("os/acpi/table")]
    found += [definition_path(nvram.get("template")) for nvram in domain.iterfind("os/nvram")]
    found += [definition_path(rom.get("file")) for rom in domain.iterfind("devices/interface/rom")]
    found += [definition_path(path.text) for path in domain.iterfind("devices/memory/source/path")]
    return found


def _log_files(domain: Any) -> List[str]:
    """The files the guest's serial ports, consoles, parallel ports and channels write: a file
    device's source, and the log file any of them may have (QEMU appends to each)."""
    found = []
    for device in (device for kind in _CHARACTER_DEVICES for device in domain.iterfind("devices/" + kind)):
        source = device.find("source")
        if device.get("type") == "file" and source is not None:
            found.append(definition_path(source.get("path")))
        log = device.find("log")
        if log is not None:
            found.append(definition_path(log.get("file")))
    return [path for path in found if path]


def _fixed_graphics_ports(domain: Any) -> List[int]:
    """The ports of displays given one (autoport off): a running guest's live definition shows the
    port libvirt picked too, with autoport on, and that one is free again when it stops. A VNC
    display's WebSocket port is fixed unless libvirt picked it (autoport does not pick it)."""
    ports = []
    for graphics in domain.iterfind("devices/graphics"):
        for attribute in ("port", "tlsPort"):
            port = _port_number(graphics.get(attribute))
            if graphics.get("autoport") != "yes" and port is not None:
                ports.append(port)
        websocket = _port_number(graphics.get("websocket"))
        if websocket is not None and graphics.get("websocketGenerated") != "yes":
            ports.append(websocket)
    return ports


def _port_number(text: Optional[str]) -> Optional[int]:
    """A port given in a definition; None for none, libvirt's -1 (it picks one) and anything else."""
    return whole_number(text) or None


def _writable(disk: Any) -> bool:
    """Whether the guest writes this disk's own source: a disk, LUN or floppy that is not read-only
    (QEMU opens a cdrom read-only, whatever its definition says)."""
    return disk.get("device") != "cdrom" and disk.find("readonly") is None


def same_file_as(path: str, in_pools: Optional["PoolNames"] = None) -> Optional[Callable[[str], bool]]:
    """A test of whether another path leads to the file ``path`` leads to on this host (symbolic
    links followed, hard links included), by device and inode: one ``stat`` per path asked, which
    a comparison of resolved paths would need per directory of it. With ``in_pools`` (the file's
    names in the pools' directories, see pool_names_of), a path in one of those directories is the
    file exactly when it is one of those names, without a ``stat``: most guests' disks are there.
    None when ``path`` has no file."""
    target = _identity(path)
    if target is None:
        return None

    def is_the_file(candidate: str) -> bool:
        if in_pools is not None and os.path.dirname(candidate) in in_pools.directories:
            return candidate in in_pools.paths
        return _identity(candidate) == target

    return is_the_file


def in_files_test(paths: Iterable[str], directory: Optional[str], local: bool) -> Callable[[str], bool]:
    """A test of whether a path (as same_path writes it) is one of ``paths``, is in ``directory``'s
    tree, or, on this host (``local``), leads to the file one of ``paths`` leads to (symbolic links
    followed, hard links included) or into the tree of the directory ``directory`` leads to: a
    ``stat`` and a resolution per other path asked."""
    wanted = {same_path(path) for path in paths if path}
    under = (same_path(directory) or "").rstrip("/") + "/" if directory else None
    identities = {identity for identity in (_identity(path) for path in wanted if path) if identity} if local else set()
    real_under = os.path.realpath(directory).rstrip("/") + "/" if local and directory else None

    def is_in(candidate: str) -> bool:
        if candidate in wanted or (under is not None and candidate.startswith(under)):
            return True
        if identities and _identity(candidate) in identities:
            return True
        if real_under is None:
            return False
        try:
            return (os.path.realpath(candidate) + "/").startswith(real_under)
        except ValueError:  # a NUL in a name an image holds
            return False

    return is_in


def _identity(path: str) -> Optional[Tuple[int, int]]:
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in a path read from a definition
        return None
    return info.st_dev, info.st_ino


class PoolNames(NamedTuple):
    """The names one file has in the pools' directories: ``volumes`` (pool, volume), their
    ``paths``, and the ``directories`` read whole (paths as same_path writes them)."""

    volumes: Tuple[Tuple[str, str], ...]
    paths: FrozenSet[str]
    directories: FrozenSet[str]


def pool_names_of(directories: Iterable[Tuple[str, str]], path: str) -> PoolNames:
    """Every file in the pools' ``directories`` ((pool, directory) pairs, on this host) that is the
    file ``path`` leads to: the file itself, a hard link or a symbolic link to it. Guests may name
    one file by any of them."""
    target = _identity(path)
    if target is None:
        return PoolNames((), frozenset(), frozenset())
    volumes: List[Tuple[str, str]] = []
    paths = set()
    read = set()
    for pool_name, directory in directories:
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    # The directory listing gives each entry's inode and kind: only a link, or an
                    # entry with the file's inode, needs a stat.
                    if (entry.is_symlink() or entry.inode() == target[1]) and _identity(entry.path) == target:
                        volumes.append((pool_name, entry.name))
                        paths.add(same_path(entry.path))
        except OSError:
            continue  # not a directory this host sees
        read.add(same_path(directory))
    return PoolNames(tuple(volumes), frozenset(path for path in paths if path), frozenset(path for path in read if path))


def _file_stamp(path: str) -> Optional[List[int]]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


class DefinitionStamps:
    """The stamp of the files libvirt keeps a guest's definitions in, None when unknown."""

    def __init__(self, uri: str) -> None:
        # Only the system QEMU driver on this host, read by root, keeps them where this looks.
        self.enabled = uri in SYSTEM_URIS and os.geteuid() == 0 and os.path.isdir(SYSTEM_CONFIG_DIR)
        # Which libvirt's files these are: daemons in other mount namespaces of the same machine
        # (containers, the test bed's hosts) have their own directory there, and their own cache.
        place = "-"
        if self.enabled:
            info = os.stat(SYSTEM_CONFIG_DIR)
            place = "%d:%d" % (info.st_dev, info.st_ino)
        self.cache_name = "guest references of %s in %s" % (uri, place)

    def of(self, name: str, active: bool) -> Optional[List[Any]]:
        if not self.enabled or "/" in name:
            return None
        config = _file_stamp(os.path.join(SYSTEM_CONFIG_DIR, name + ".xml"))
        state = _file_stamp(os.path.join(SYSTEM_STATE_DIR, name + ".xml")) if active else None
        if (active and state is None) or (not active and config is None):
            return None  # a guest libvirt keeps elsewhere: read it every time
        return [active, config, state]


class StampedCache:
    """Values by key with the stamp they were read at, in a file only this user can read; a value
    counts only while its stamp is what it was."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.entries: Dict[str, Any] = {}
        self.changed = False
        if path is not None:
            # Imported here, as in cache_path. None yet, unreadable, or not this user's: everything is read this time.
            from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import read_private_json

            data = read_private_json(path)
            if isinstance(data, dict) and data.get("version") == _CACHE_VERSION and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]

    def get(self, key: str, stamp: Optional[List[Any]]) -> Any:
        entry = self.entries.get(key)
        if stamp is None or not isinstance(entry, list) or len(entry) != 2 or entry[0] != stamp:
            return None
        return entry[1]

    def put(self, key: str, stamp: Optional[List[Any]], value: Any) -> None:
        if stamp is not None and self.path is not None:
            self.entries[key] = [stamp, value]
            self.changed = True

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget what is gone."""
        live = set(keys)
        for key in [key for key in self.entries if key not in live]:
            del self.entries[key]
            self.changed = True

    def save(self) -> None:
        if not self.changed or self.path is None:
            return
        # Imported here, as in cache_path. A cache that cannot be written is read again next time.
        from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import write_private_json

        write_private_json(self.path, {"version": _CACHE_VERSION, "entries": self.entries})


def _cached_references(value: Any) -> Optional[Dict[str, Any]]:
    """A guest's cached references, None unless they have their shape down to each item (an item
    of another kind would be a Python error, or a clash missed, instead of the guest read again)."""
    if (
        isinstance(value, dict)
        and _pairs_of(value.get("volumes"), str)
        and _pairs_of(value.get("followed_volumes"), str)
        and _all_of(value.get("directories"), str)
        and _pairs_of(value.get("images"), bool)
        and _all_of(value.get("boot"), str)
        and _pairs_of(value.get("written_volumes"), str)
        and _all_of(value.get("written_images"), str)
        and _all_of(value.get("macs"), str)
        and _all_of(value.get("logs"), str)
        and _all_of(value.get("graphics_ports"), int)
    ):
        return value
    return None


# Checked for every guest on every lookup, so written as plain generator tests. JSON's true is a
# bool, and a bool is an int to isinstance: no item of these lists is a bool.
def _all_of(items: Any, kind: type) -> bool:
    """Whether ``items`` is a list of ``kind`` (str or int)."""
    return isinstance(items, list) and all(isinstance(item, kind) and not isinstance(item, bool) for item in items)


def _pairs_of(items: Any, second: type) -> bool:
    """Whether ``items`` is a list of [str, ``second``] pairs (``second`` str or bool)."""
    return isinstance(items, list) and all(
        isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], second) for item in items
    )


def cache_path(what: str) -> Optional[str]:
    """The cache file for ``what``, in the private directory the host locks live in; None when there is none."""
    # Imported here: the lock directory's rules are the cache's too.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import locks

    directory = locks.lock_dir()
    try:
        locks.private_directory(directory)
    except locks.LockError:
        return None
    return os.path.join(directory, "cache-%s.json" % hashlib.sha256(what.encode("utf-8")).hexdigest()[:16])


def domains_using(
    client: Client,
    pool_name: str,
    volume_name: str,
    path: Optional[str],
    read_image: Optional[ImageReader],
    same_file: Optional[Callable[[str], bool]] = None,
    aliases: Iterable[Tuple[str, str]] = (),
) -> List[str]:
    """Names of defined or running guests with a disk or cdrom on this volume (by pool and name or
    by path), directly or as a backing file or data file on the way from one of their disks, or
    that boot a kernel, initrd or firmware file that is its file. A running guest counts with both
    its live and its persistent definition."""
    volume_path = volume_paths(client) if read_image is not None else None
    return sorted(
        name
        for name, references in guest_references(client)
        if refers_to(references, pool_name, volume_name, path, read_image, same_file, aliases, volume_path)
    )


def guests_reaching(client: Client, is_wanted: Callable[[str], bool], read_image: Optional[ImageReader]) -> List[str]:
    """Names of defined or running guests that open a path for which ``is_wanted`` holds (see reaches)."""
    volume_path = volume_paths(client) if read_image is not None else None
    return sorted(
        name for name, references in guest_references(client) if reaches(references, is_wanted, read_image, volume_path)
    )


def guests_writing(client: Client, is_wanted: Callable[[str], bool], read_image: Optional[ImageReader]) -> List[str]:
    """Names of defined or running guests that write a path for which ``is_wanted`` holds (see writes)."""
    volume_path = volume_paths(client) if read_image is not None else None
    return sorted(name for name, references in guest_references(client) if writes(references, is_wanted, read_image, volume_path))


def volume_paths(client: Client) -> VolumePaths:
    """The paths of pools' volumes, each looked up once: what a guest's volume disk opens, to follow
    it on the host as a file disk is followed."""
    known: Dict[Tuple[str, str], Optional[str]] = {}

    def volume_path(pool: str, volume: str) -> Optional[str]:
        if (pool, volume) not in known:
            known[(pool, volume)] = same_path(client.volume_path_of(pool, volume))
        return known[(pool, volume)]

    return volume_path


def domains_writing(
    client: Client,
    pool_name: str,
    volume_name: str,
    path: Optional[str],
    same_file: Optional[Callable[[str], bool]] = None,
    aliases: Iterable[Tuple[str, str]] = (),
    read_image: Optional[ImageReader] = None,
) -> List[str]:
    """Names of defined or running guests that have this volume as a disk they write (see writes_to)."""
    volume_path = volume_paths(client) if read_image is not None else None
    return sorted(
        name
        for name, references in guest_references(client)
        if writes_to(references, pool_name, volume_name, path, same_file, aliases, read_image, volume_path)
    )


def guest_references(client: Client) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(name, cached references) of every defined or running guest, each definition read only
    where its files changed since the cache last saw them."""
    stamps = DefinitionStamps(client.uri)
    cache = StampedCache(cache_path(stamps.cache_name) if stamps.enabled else None)
    names = []
    for name, active in client.guest_names():
        # The stamp names the files of this guest's definitions: a guest defined again under the
        # same name has new files, so the name is key enough.
        names.append(name)
        stamp = stamps.of(name, active)
        references = _cached_references(cache.get(name, stamp))
        if references is None:
            definitions = client.domain_definitions(name, active)
            if not definitions:
                continue  # gone while reading
            built = References()
            for definition in definitions:
                built = built.merged(References.of_definition(definition))
            references = built.as_json()
            cache.put(name, stamp, references)
        yield name, references
    cache.keep_only(names)
    cache.save()


def volumes_naming(client: Client, is_wanted: Callable[[str], bool], local: bool) -> List[str]:
    """``pool/volume`` of every volume in an active pool whose backing file or data file is a path
    for which ``is_wanted`` holds.

    A directory pool on this host (``local``) is read from its directory: only the headers of
    images that can name a backing file are read, and libvirt is asked only about formats other
    than qcow2 (libvirt would open every volume for its description). Other pools are asked of
    libvirt, which knows backing files but no data files.
    """
    dependents: List[str] = []
    for pool in client.all_pools():
        try:
            described = client.describe_pool(pool)
            active = client.pool_is_active(pool)
        except LibvirtError as error:
            if error.not_found:
                continue  # removed since it was listed: it holds no volume any more
            raise
        directory = described.directory if local else None
        if directory and os.path.isdir(directory):
            # Read from the directory, also for an inactive pool: its files wait for it to start.
            names = _files_naming(client, pool, directory, is_wanted) if active else _files_naming_here(directory, is_wanted)
        elif active:
            names = client.volumes_backed_within(pool, is_wanted)
        else:
            continue  # an inactive pool that is no directory here: libvirt lists nothing of it
        dependents.extend("%s/%s" % (described.name, name) for name in names)
    return sorted(dependents)


def _files_naming(client: Client, pool: Any, directory: str, is_wanted: Callable[[str], bool]) -> List[str]:
    """Names of the files in ``directory`` (a pool's volumes) whose backing file or data file is a
    path for which ``is_wanted`` holds."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    found = []
    others = []
    for name, _path, kind, backing, data_file in image_headers(directory):
        named = (same_path(backing), same_path(data_file)) if kind == image_header.QCOW_BACKING else ()
        if any(is_wanted(other) for other in named if other is not None):
            found.append(name)
        elif kind == image_header.OTHER_BACKING:
            others.append(name)
    return found + (client.volumes_backed_within(pool, is_wanted, others) if others else [])


def _files_naming_here(directory: str, is_wanted: Callable[[str], bool]) -> List[str]:
    """Names of the files in ``directory`` whose backing file or data file, as read here (see
    image_header.named_files: qcow2, QED and VMDK), is a path for which ``is_wanted`` holds."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    found = []
    for name, _path, kind, backing, data_file in image_headers(directory):
        if kind == image_header.NO_BACKING:
            continue
        if any(is_wanted(other) for other in (same_path(backing), same_path(data_file)) if other is not None):
            found.append(name)
    return found


def image_headers(directory: str) -> Iterator[Tuple[str, str, str, Optional[str], Optional[str]]]:
    """(name, path, kind, backing file, data file) of each file in ``directory`` (image_header's
    backing_kind and, for an image that can name files, named_files), headers read once per change
    of the file (its inode, size and times)."""
    # Imported here: only deletions and new disks read image headers.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    cache = StampedCache(cache_path("image headers") if os.geteuid() == 0 else None)
    seen = set()
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                info = entry.stat()
            except OSError:
                continue  # gone since it was listed
            stamp = [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
            seen.add(entry.path)
            known = cache.get(entry.path, stamp)
            if isinstance(known, list) and len(known) == 3:
                kind, backing, data_file = known
            else:
                # A volume made raw holds its guest's data, an image header naming any file included.
                kind = image_header.NO_BACKING if made_plain(entry.path) else image_header.backing_kind(entry.path)
                named = image_header.named_files(entry.path) if kind != image_header.NO_BACKING else None
                backing, data_file = named if named else (None, None)
                cache.put(entry.path, stamp, [kind, backing, data_file])
            yield entry.name, entry.path, kind, backing, data_file
    inside = directory.rstrip("/") + "/"
    cache.keep_only([path for path in cache.entries if path in seen or not path.startswith(inside)])
    cache.save()

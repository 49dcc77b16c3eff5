# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files of this host that a guest must never be given as a disk or an install ISO.

A guest writes its disks and reads its cdrom, and libvirt hands both to QEMU (changing their owner
while the guest runs). A disk path of ``/dev/vda`` where ``/dev/vdb`` was meant would overwrite the
file system the host runs on; an ISO path of ``/etc/shadow`` would give the host's secrets to the
guest. So the host's own files (configuration, kernels, kernel and device interfaces) are refused,
and block devices only while the host uses them: mounted, as swap, or held by device-mapper, LVM or
RAID, or opened exclusively (mounted in another mount namespace). A device the host does not use (a
disk meant for a guest) stays allowed. A file is judged by what it is, not by its name alone: the
same file under another name (a hard link, a bind mount, /proc or /sys mounted elsewhere), a swap
file, and the file behind a loop device the host uses are refused too.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Iterator, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import PRIVATE_DIRECTORY_NAMES, same_path

# Trees of the host's own files. /dev is among them: its block devices are judged by their use instead.
_SYSTEM_FILE_TREES = ("/boot/", "/dev/", "/etc/", "/proc/", "/sys/")
# The host's programs and libraries: a guest that writes them runs code as the host's users.
_PROGRAM_TREES = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/usr/")
_MOUNTS = "/proc/self/mountinfo"
# The host's logs: of its services, and libvirt's of each guest (QEMU's command line, kernel arguments included).
_LOG_TREE = "/var/log/"
_SWAPS = "/proc/swaps"
_SYS_BLOCK = "/sys/dev/block"
# Trees searched for another name of a file with hard links: the host's own files and programs and
# root's home, besides every user's directories of keys. A hard link never leaves its file system, so
# only the trees on the file's own are searched (/dev, /proc and /sys are on file systems of their own).
_LINKED_TREES = ("/boot", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/root")
_HOMES = "/home"
# File systems of kernel and device interfaces (what /dev, /proc and /sys hold), wherever mounted.
_INTERFACE_FILE_SYSTEMS = frozenset(
    (
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tracefs",
    )
)
_ESCAPED = r"\\([0-7]{3})"
# What the kernel escapes in a mountinfo path besides the space: shown escaped again in messages, so
# that a mount point never breaks a message (or the host log's line) in two.
_SHOWN_ESCAPED = {"\\": "\\134", "\t": "\\011", "\n": "\\012"}


class Mount(NamedTuple):
    """One line of /proc/self/mountinfo, its paths with their octal escapes undone."""

    device: str  # major:minor, as mountinfo gives it
    root: str  # the directory of its file system the mount shows
    point: str
    fs_type: str  # "" on a line without the " - " separator
    options: str = ""  # the file system's own options (an overlay's lowerdir=...)

    @property
    def number(self) -> Optional[int]:
        """The device number, or None when the field is no major:minor."""
        major, _colon, minor = self.device.partition(":")
        if major.isdigit() and minor.isdigit():
            return os.makedev(int(major), int(minor))
        return None


def leads_unnamed(path: str) -> bool:
    """Whether ``path`` leads, as the kernel opens it, to another file than the one its resolved name
    (os.path.realpath) names on this host: through a /proc magic link into another process's mount
    namespace (/proc/PID/root/...) or to another process's open file (/proc/PID/fd/N), which no name
    here can be judged by."""
    try:
        opened = os.stat(path)
    except (OSError, ValueError):
        return False  # nothing there: the caller's own checks speak
    try:
        named = os.stat(os.path.realpath(path))
    except (OSError, ValueError):
        return True
    return not _same_file(opened, named)


UNNAMED = "leads through /proc to a file no path of this host names (another process's open file or mount namespace)"


def host_file_problem(path: str, what: str) -> str:
    """Why the existing file ``path`` (option ``what``) must not be a guest's disk or cdrom; ""
    when it may. Judged by where the path leads through symbolic links too."""
    real = os.path.realpath(path)
    if not (same_path(path) or path).startswith("/proc/") and leads_unnamed(path):
        return "%s: %s %s; give a file of its own" % (what, path, UNNAMED)
    try:
        info = os.stat(real)
    except (OSError, ValueError):
        try:
            # A /proc magic link (/proc/PID/fd/N of a deleted file or a pipe) opens a file whose
            # realpath is no name at all: judged by the name given.
            info = os.stat(path)
        except (OSError, ValueError):
            return ""  # gone since it was found: the caller's own checks speak
    if stat.S_ISBLK(info.st_mode):
        uses = block_device_uses(info.st_rdev) or exclusive_use(real)
        if not uses:
            return ""
        return "%s: %s holds the host's %s; a guest must never get a device the host uses" % (what, path, " and ".join(uses))
    for candidate in (same_path(path) or path, real):
        through = "" if candidate == same_path(path) else " (through a symbolic link to %s)" % real
        if (candidate + "/").startswith(_SYSTEM_FILE_TREES + _PROGRAM_TREES):
            return "%s: %s is one of the host's own files%s; give a disk image or ISO of its own" % (what, path, through)
        private = _private_directory(candidate)
        if private:
            return "%s: %s is in a directory of keys (%s)%s; give a disk image or ISO of its own" % (what, path, private, through)
    if stat.S_ISDIR(info.st_mode):
        return "%s: %s is a directory, not a disk image or ISO" % (what, path)
    if not stat.S_ISREG(info.st_mode):
        return ""
    mounts = list(_mounts())  # read once: both checks below look at every mount
    host_name = _interface_file(real, mounts) or _bind_mounted_name(real, mounts) or _hard_linked_name(info)
    if host_name:
        return "%s: %s is one of the host's own files (%s under another name); give a disk image or ISO of its own" % (
            what,
            path,
            host_name,
        )
    use = _file_use(info)
    if use:
        return "%s: %s is the host's %s; a guest must never get a file the host uses" % (what, path, use)
    return ""


def boot_source_problem(path: str, what: str) -> str:
    """Why the host file ``path`` (a kernel or initrd of an install tree on a host path, option ``what``)
    must not be copied for a guest to boot; "" when it may. The guest's kernel reads its initrd and may
    send it anywhere: a link in a tree (another user's) to the host's configuration (/etc/shadow), its
    devices or a directory of keys would hand them over. The host's programs (/usr, where Debian keeps
    its installer's kernel and initrd) are no secret, and are allowed."""
    real = os.path.realpath(path)
    if leads_unnamed(path):
        return "%s: %s %s, not a kernel or initrd of its own" % (what, path, UNNAMED)
    for candidate in (same_path(path) or path, real):
        through = "" if candidate == same_path(path) else " (through a symbolic link to %s)" % real
        if (candidate + "/").startswith(_SYSTEM_FILE_TREES):
            return "%s: %s is one of the host's own files%s, not a kernel or initrd of its own" % (what, path, through)
        private = _private_directory(candidate)
        if private:
            return "%s: %s is in a directory of keys (%s)%s, not a kernel or initrd of its own" % (what, path, private, through)
    try:
        info = os.stat(real)
    except (OSError, ValueError):
        return ""  # gone since it was found: the copy says so
    if not stat.S_ISREG(info.st_mode):
        return "%s: %s is not a regular file" % (what, path)
    return ""


def host_directory_name(directory: str) -> str:
    """The host's own name of the existing ``directory`` when it is, or is in, the host's system or
    program trees or a directory of keys, also where links and bind mounts lead; "" otherwise."""
    real = os.path.realpath(directory)
    named = _bind_mounted_name(real, list(_mounts())) or real
    if (named.rstrip("/") + "/").startswith(_SYSTEM_FILE_TREES + _PROGRAM_TREES) or _private_directory(named + "/"):
        return named
    return ""


def exclusive_use(device: str) -> List[str]:
    """["in use ..."] when the kernel refuses to open the block device ``device`` exclusively: a file
    system mounted on it in another mount namespace (which this one's mountinfo never shows), or
    another exclusive user; empty when it opens or cannot be told."""
    try:
        descriptor = os.open(device, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.EBUSY:
            return [
                "file system mounted in another mount namespace, or another exclusive holder"
                " (the kernel refuses to open it exclusively)"
            ]
        return []
    os.close(descriptor)
    return []


def _same_file(info: os.stat_result, other: os.stat_result) -> bool:
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


def _mount_of(real: str, mounts: List[Mount]) -> Optional[Mount]:
    """The mount ``real`` is on (the longest mount point it is under)."""
    within = [mount for mount in mounts if real == mount.point or real.startswith(mount.point.rstrip("/") + "/")]
    return max(within, key=lambda mount: len(mount.point)) if within else None


def _interface_file(real: str, mounts: List[Mount]) -> str:
    """The kind of a file of a kernel or device interface file system (proc, sysfs...) mounted
    elsewhere than /proc, /sys or /dev."""
    mount = _mount_of(real, mounts)
    return "a %s file" % mount.fs_type if mount and mount.fs_type in _INTERFACE_FILE_SYSTEMS else ""


def _bind_mounted_name(real: str, mounts: List[Mount]) -> str:
    """The host's own name of ``real`` when it is reached through a bind mount of a system tree (or
    of a directory or file in one): the mount shows part of a file system mounted whole elsewhere."""
    mount = _mount_of(real, mounts)
    if mount is None or mount.root == "/":
        return ""
    for name in names_through_mounts(real, mounts)[1:]:
        if (name + "/").startswith(_SYSTEM_FILE_TREES + _PROGRAM_TREES) or _private_directory(name):
            return name
    return ""


def _private_directory(path: str) -> str:
    """The directories of keys (.ssh, .gnupg) on the way to ``path``, joined; "" for none."""
    return "".join(sorted(PRIVATE_DIRECTORY_NAMES.intersection(path.split("/")[:-1])))


def _mounts() -> Iterator[Mount]:
    """Each mount this process sees."""
    try:
        with open(_MOUNTS) as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return
    for line in lines:
        mount = parsed_mount(line)
        if mount is not None:
            yield mount


def parsed_mount(line: str) -> Optional[Mount]:
    """A mountinfo line (``36 35 98:0 /root /point rw shared:1 - ext4 /dev/vda rw``); None when it
    has too few fields. Fields are split on spaces, which the kernel escapes in paths (``\\040``),
    and the optional fields end at the first field that is ``-`` alone."""
    fields = line.split(" ")
    if len(fields) < 5:
        return None
    rest = fields[6:]
    separator = rest.index("-") if "-" in rest[:-1] else None
    fs_type = rest[separator + 1] if separator is not None else ""
    options = rest[separator + 3] if separator is not None and len(rest) > separator + 3 else ""
    return Mount(fields[2], _unescaped(fields[3]), _unescaped(fields[4]), fs_type, options)


def mounts() -> List[Mount]:
    """The mounts this process sees, read once for a check that looks at many."""
    return list(_mounts())


def names_through_mounts(real: str, table: List[Mount]) -> List[str]:
    """The names of ``real`` (a resolved path) where its file system is mounted whole: a bind mount
    shows part of a file system, whose own name for the part (/etc for a bind of it elsewhere) is the
    one that says what it is. Its own name first."""
    mount = _mount_of(real, table)
    if mount is None:
        return [real]
    inside = mount.root.rstrip("/") + real[len(mount.point.rstrip("/")) :]
    names = [real]
    for other in table:
        if other.device == mount.device and other.root == "/":
            name = (other.point.rstrip("/") + inside).rstrip("/") or "/"
            if name not in names:
                names.append(name)
    return names


def mount_kind(mount: Mount) -> str:
    """What a mount shows beyond the files of its own file system: "a proc file system" for a
    kernel or device interface (proc, sysfs, binfmt_misc...), "an overlay of DIRS" for an overlay;
    "" otherwise."""
    if mount.fs_type in _INTERFACE_FILE_SYSTEMS:
        return "a %s file system" % mount.fs_type
    if mount.fs_type == "overlay":
        return "an overlay of %s" % ", ".join(overlay_layers(mount))
    return ""


def overlay_layers(mount: Mount) -> List[str]:
    """The directories an overlay mount shows (every lowerdir, upperdir and datadir option, those added
    with '+=' too), from its options; a layer the kernel took relative to the directory it was
    mounted from cannot be told, and is given as it is (not absolute)."""
    layers: List[str] = []
    for option in re.split(r"(?<!\\),", mount.options):
        key, _equals, value = option.partition("=")
        if key.rstrip("+") in ("lowerdir", "upperdir", "datadir") and value:
            for layer in re.split(r"(?<!\\):+", _unescaped(value)):
                # overlayfs reads a backslash as an escape of the next character (of ':' and ',' above all)
                plain = re.sub(r"\\(.)", r"\1", layer)
                if plain:
                    layers.append(plain if not plain.startswith("/") else (same_path(plain) or plain))
    return layers


def mounts_at_or_in(real: str, table: List[Mount]) -> List[Mount]:
    """The mount ``real`` is on, and every mount at or below it."""
    below = real.rstrip("/") + "/"
    found = [mount for mount in table if mount.point == real or mount.point.startswith(below)]
    holding = _mount_of(real, table)
    return ([holding] if holding is not None and holding not in found else []) + found


def log_name(path: str, thorough: bool = True) -> str:
    """The name under /var/log of the file ``path`` names (by that name, where links lead, through a
    bind mount, or, ``thorough``, as another name of it: a hard link, a /proc magic link); "" when it
    is none of the host's logs. Without ``thorough`` the log tree is not searched."""
    real = os.path.realpath(path)
    table = mounts()
    for name in [same_path(path) or path] + names_through_mounts(real, table):
        if (name + "/").startswith(_LOG_TREE):
            return name
    try:
        info = os.stat(path)  # as the kernel opens it: through /proc magic links too
        devices = {os.stat(_LOG_TREE).st_dev}
    except (OSError, ValueError):
        return ""
    devices.update(mount.number for mount in table if (mount.point + "/").startswith(_LOG_TREE) and mount.number is not None)
    other_names = info.st_nlink > 1 or leads_unnamed(path)
    if thorough and other_names and stat.S_ISREG(info.st_mode) and info.st_dev in devices:
        return _name_in_tree(_LOG_TREE, info)
    return ""


def _unescaped(field: str) -> str:
    """A mountinfo field with its octal escapes (space, tab, newline, backslash) undone."""
    return re.sub(_ESCAPED, lambda match: chr(int(match.group(1), 8)), field)


def _hard_linked_name(info: os.stat_result) -> str:
    """A name of the file among the host's own files, programs or keys when it has other names (hard
    links) and one of them is there; "" otherwise (the other names of a disk image of its own)."""
    if info.st_nlink < 2 or not stat.S_ISREG(info.st_mode):
        return ""
    for tree in _linked_trees():
        try:
            tree_info = os.lstat(tree)
        except OSError:
            continue
        # A tree that is a link (/bin on a merged /usr) is searched where it leads.
        if stat.S_ISDIR(tree_info.st_mode) and tree_info.st_dev == info.st_dev:
            name = _name_in_tree(tree, info)
            if name:
                return name
    return ""


def _linked_trees() -> Iterator[str]:
    """The trees searched for another name of a file: the host's, then the key directories of /home."""
    yield from _LINKED_TREES
    try:
        homes = sorted(entry.path for entry in os.scandir(_HOMES) if entry.is_dir(follow_symlinks=False))
    except OSError:
        return
    for home in homes:
        for keys in sorted(PRIVATE_DIRECTORY_NAMES):
            yield os.path.join(home, keys)


def _name_in_tree(tree: str, info: os.stat_result) -> str:
    """The path of a name of the file ``info`` in ``tree``; "" when it has none there. Directory
    entries carry their inode number, so only an entry with the file's own is looked at (a whole /usr
    takes a tenth of a second once in the page cache)."""
    directories = [tree]
    while directories:
        try:
            entries = os.scandir(directories.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        directories.append(entry.path)
                    elif entry.inode() == info.st_ino and _same_file(info, entry.stat(follow_symlinks=False)):
                        return entry.path
                except OSError:
                    continue
    return ""


def _file_use(info: os.stat_result) -> str:
    """What the host uses the regular file for: swap, or the backing file of a loop device it uses."""
    for swap in _swap_devices():
        try:
            if _same_file(info, os.stat(swap)):
                return "swap file (%s)" % swap
        except OSError:
            continue
    for loop, backing in _loop_backing_files():
        try:
            if not _same_file(info, os.stat(backing)):
                continue
            device = os.stat(loop).st_rdev
        except OSError:
            continue
        uses = block_device_uses(device) or exclusive_use(loop)
        if uses:
            return "file behind %s, which holds the host's %s" % (loop, " and ".join(uses))
    return ""


def _loop_backing_files() -> Iterator[Tuple[str, str]]:
    """(device, backing file) of each loop device attached to a file."""
    try:
        names = [name for name in os.listdir("/sys/block") if name.startswith("loop")]
    except OSError:
        return
    for name in names:
        try:
            with open(os.path.join("/sys/block", name, "loop", "backing_file")) as backing:
                yield "/dev/" + name, backing.read().rstrip("\n")
        except OSError:
            continue


def block_device_uses(device: int, count_holders: bool = True) -> List[str]:
    """What the host uses the block device ``device`` (or one of its partitions) for: mounted file
    systems and swap, on it or on a device built over it (device-mapper, LVM, RAID), and with
    ``count_holders`` such a device itself. Empty when the host does not use it."""
    numbers = {device} | set(_partitions(device))
    holders = sorted({holder for number in numbers for holder in _holders(number)})
    reached = numbers | _built_over(holders)
    uses = []
    mount_points = sorted(_shown(point) for point in _mount_points(reached))
    if mount_points:
        shown = ", ".join(mount_points[:3]) + (", ..." if len(mount_points) > 3 else "")
        uses.append("mounted file systems (%s)" % shown)
    if any(_is_swap(swap, reached) for swap in _swap_devices()):
        uses.append("swap")
    if holders and count_holders:
        uses.append("device-mapper, LVM or RAID devices (%s)" % ", ".join(holders[:3]))
    return uses


def _sys_name(device: int) -> str:
    return os.path.join(_SYS_BLOCK, "%d:%d" % (os.major(device), os.minor(device)))


def _partitions(device: int) -> Iterator[int]:
    """The device numbers of the partitions of a whole disk (none for a partition or other device)."""
    directory = _sys_name(device)
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        try:
            with open(os.path.join(directory, entry, "dev")) as dev:
                if not os.path.exists(os.path.join(directory, entry, "partition")):
                    continue
                major, minor = dev.read().strip().split(":")
        except (OSError, ValueError):
            continue
        if major.isdigit() and minor.isdigit():
            yield os.makedev(int(major), int(minor))


def _mount_points(numbers: Set[int]) -> Iterator[str]:
    """Mount points of the file systems on the devices ``numbers``."""
    return (mount.point for mount in _mounts() if mount.number in numbers)


def _shown(point: str) -> str:
    """A mount point as messages show it: as mountinfo gives it, but for its spaces."""
    return "".join(_SHOWN_ESCAPED.get(character, character) for character in point)


def _swap_devices() -> Iterator[str]:
    try:
        with open(_SWAPS) as swaps:
            lines = swaps.read().splitlines()[1:]
    except OSError:
        return
    for line in lines:
        if line.split():
            yield line.split()[0]


def _is_swap(swap: str, numbers: Set[int]) -> bool:
    try:
        info = os.stat(swap)
    except OSError:
        return False
    return stat.S_ISBLK(info.st_mode) and info.st_rdev in numbers


def _built_over(holders: List[str]) -> Set[int]:
    """The device numbers of ``holders`` and of every device built over them in turn (a dm-crypt
    mapping over a logical volume over a partition)."""
    reached: Set[int] = set()
    waiting = list(holders)
    while waiting:
        number = _device_number(waiting.pop())
        if number is None or number in reached:
            continue
        reached.add(number)
        waiting.extend(_holders(number))
    return reached


def _device_number(name: str) -> Optional[int]:
    """The device number of the block device ``name`` (as /sys/class/block names it: dm-0, md1)."""
    try:
        with open(os.path.join("/sys/class/block", name, "dev")) as dev:
            major, minor = dev.read().strip().split(":")
        return os.makedev(int(major), int(minor))
    except (OSError, ValueError):
        return None


def _holders(device: int) -> List[str]:
    try:
        return os.listdir(os.path.join(_sys_name(device), "holders"))
    except OSError:
        return []


# QEMU opens at most this many images in one backing chain; a longer (or looping) chain is refused.
_MAX_BACKING_CHAIN = 16


class ChainFile(NamedTuple):
    """A file an image names (``role`` backing or data) or the image itself (``role`` image), and the
    image that names it."""

    path: str
    role: str
    named_by: str


def files_on_chain(path: str) -> List[ChainFile]:
    """``path`` and the files its image header names in turn (backing files, a qcow2 data file), as
    QEMU opens them when the image is read as such (not for raw disks)."""
    # Imported here: only runs that judge a guest's image files read their headers.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    files = [ChainFile(path, "image", "")]
    image: Optional[str] = path
    while image is not None and len(files) < _MAX_BACKING_CHAIN:
        named = image_header.named_files(image)
        seen = [file.path for file in files]
        if named.data_file and named.data_file not in seen:
            files.append(ChainFile(named.data_file, "data", image))
        backing = named.backing if named.backing not in seen else None
        if backing is not None:
            files.append(ChainFile(backing, "backing", image))
        # A backing file recorded as raw is read as raw, whatever header its content holds.
        image = backing if backing is None or image_header.qcow2_backing_format(image) != "raw" else None
    return files


def chain_identities(path: str) -> List[Tuple[int, int]]:
    """(device, inode) of the file at ``path`` and of each file on its qcow2 backing chain that
    exists: the files a guest with this disk uses, whatever names reach them (links, hard links,
    bind mounts, a pool's directory reached through a link)."""
    # Imported here: only runs that lock files read image headers for it.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    found: List[Tuple[int, int]] = []
    image: Optional[str] = path
    while image is not None and len(found) < _MAX_BACKING_CHAIN:
        try:
            info = os.stat(image)
        except (OSError, ValueError):
            break
        if (info.st_dev, info.st_ino) in found:
            break  # a loop
        found.append((info.st_dev, info.st_ino))
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISBLK(info.st_mode):
            break  # a FIFO would block the read (the run's checks refuse it after)
        data_file = image_header.qcow2_data_file(image)
        try:
            data_info = os.stat(data_file) if data_file else None
        except (OSError, ValueError):
            data_info = None
        if data_info is not None and (data_info.st_dev, data_info.st_ino) not in found:
            found.append((data_info.st_dev, data_info.st_ino))
        image = image_header.qcow2_backing_file(image)
    return found


def _named_file_problem(image: str, named: str, kind: str, owner: int, foreign: bool, what: str) -> str:
    """Why the file ``named`` that ``image`` (of uid ``owner``) names as its ``kind`` ("backing
    file", "data file") must not reach a guest: one of the host's own files, or a file the image's
    owner may not read; "" when it may."""
    problem = host_file_problem(named, "%s: %s" % (what, kind))
    if problem:
        return problem
    if foreign and not _readable_by(named, owner):
        return "%s: image %s (of uid %d) names %s as its %s, which its owner may not read" % (what, image, owner, named, kind)
    return ""


def backing_chain_problem(path: str, what: str) -> str:
    """Why the qcow2 backing chain of the image at ``path`` must not reach a guest; "" when it may.

    QEMU opens every backing file with the rights libvirt gives it, so an image names any file its
    guest then reads: one of the host's own files (see host_file_problem), or a file the image's
    owner may not read (an image another user left in a pool directory they may write, naming a
    file only root may read)."""
    # Imported here: only disks and origins on this host's files are read.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header

    image = path
    for _step in range(_MAX_BACKING_CHAIN):
        backing = image_header.qcow2_backing_file(image)
        owner = _owner_of(image)
        foreign = owner not in (0, os.geteuid())
        # QEMU reads and writes the guest's data in a qcow2 image's external data file.
        data_file = image_header.qcow2_data_file(image)
        problem = _named_file_problem(image, data_file, "data file", owner, foreign, what) if data_file else ""
        if problem:
            return problem
        if backing is None:
            if foreign and image_header.backing_kind(image) == image_header.OTHER_BACKING:
                # QED, VMDK or COW: libvirt follows their backing files too, which are not read here.
                return "%s: image %s (of uid %d) is of a format that names a backing file this module does not read" % (
                    what,
                    image,
                    owner,
                )
            return ""
        problem = _named_file_problem(image, backing, "backing file", owner, foreign, what)
        if problem or image_header.qcow2_backing_format(image) == "raw":
            return problem  # a backing file recorded as raw is read as raw: it names nothing
        image = backing
    return "%s: the backing chain of %s is longer than %d images (or loops)" % (what, path, _MAX_BACKING_CHAIN)


def borrowed_file_problem(path: str, what: str) -> str:
    """Why ``path`` must not reach a guest as a disk or boot file; "" when it may: a symbolic link
    that another user made (in a directory they may write) to a file they may not read, which the
    guest would read with the rights libvirt gives QEMU."""
    try:
        link = os.lstat(path)
    except OSError:
        return ""
    if not stat.S_ISLNK(link.st_mode) or link.st_uid in (0, os.geteuid()):
        return ""
    real = os.path.realpath(path)
    if _readable_by(real, link.st_uid):
        return ""
    return "%s: %s is a symbolic link of uid %d to %s, which that user may not read" % (what, path, link.st_uid, real)


def _owner_of(path: str) -> int:
    """The owner of ``path``; the module's user for a file that cannot be read (QEMU fails on it)."""
    try:
        return os.stat(path).st_uid
    except OSError:
        return os.geteuid()


def _readable_by(path: str, uid: Optional[int]) -> bool:
    """Whether user ``uid`` (every user, when None) may read ``path`` by its mode bits and those of
    the directories on the way to it (their own, one of their groups', or everyone's); access
    control lists are not read."""
    real = os.path.realpath(path)
    try:
        if not _permits(os.stat(real), uid, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
            return False
        directory = os.path.dirname(real)
        while True:
            if not _permits(os.stat(directory), uid, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
                return False
            if directory == "/":
                return True
            directory = os.path.dirname(directory)
    except OSError:
        return False  # the caller's image names a file that is not there: QEMU fails on it


def readable_by_everyone(path: str) -> bool:
    """Whether every user of the host may read ``path``: the file, and the way to it, by their mode bits."""
    return _readable_by(path, None)


def _permits(
    info: os.stat_result, uid: Optional[int], user_bit: int, group_bit: int, other_bit: int, groups: Optional[Set[int]] = None
) -> bool:
    """As the kernel judges mode bits: the owner's, else the group's for its members (``groups``, by
    default those of ``uid``'s account), else the others'."""
    if uid is not None and info.st_uid == uid:
        return bool(info.st_mode & user_bit)
    if uid is not None and info.st_gid in (account_groups(uid) if groups is None else groups):
        return bool(info.st_mode & group_bit)
    return bool(info.st_mode & other_bit)


def account_groups(uid: int) -> Set[int]:
    """The groups of ``uid``'s account (its own and those it is a member of); none without one."""
    import pwd  # only for an image another user owns

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return set()  # no such account: only its files' other bits count
    return set(os.getgrouplist(entry.pw_name, entry.pw_gid))

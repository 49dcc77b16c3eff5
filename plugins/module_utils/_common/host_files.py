# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files of this host that a guest must never be given as a disk or an install ISO.

A guest writes its disks and reads its cdrom, and libvirt hands both to QEMU (changing their owner
while the guest runs). A disk path of ``/dev/vda`` where ``/dev/vdb`` was meant would overwrite the
file system the host runs on; an ISO path of ``/etc/shadow`` would give the host's secrets to the
guest. So the host's own files (configuration, kernels, kernel and device interfaces) are refused,
and block devices only while the host uses them: mounted, as swap, or held by device-mapper, LVM or
RAID. A device the host does not use (a disk meant for a guest) stays allowed.
"""

from __future__ import annotations

import os
import stat
from typing import Iterator, List, Optional, Set

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path

# Trees of the host's own files. /dev is among them: its block devices are judged by their use instead.
_SYSTEM_FILE_TREES = ("/boot/", "/dev/", "/etc/", "/proc/", "/sys/")
_MOUNTS = "/proc/self/mountinfo"
_SWAPS = "/proc/swaps"
_SYS_BLOCK = "/sys/dev/block"


def host_file_problem(path: str, what: str) -> str:
    """Why the existing file ``path`` (option ``what``) must not be a guest's disk or cdrom; ""
    when it may. Judged by where the path leads through symbolic links too."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except (OSError, ValueError):
        return ""  # gone since it was found: the caller's own checks speak
    if stat.S_ISBLK(info.st_mode):
        uses = block_device_uses(info.st_rdev)
        if not uses:
            return ""
        return "%s: %s holds the host's %s; a guest must never get a device the host uses" % (what, path, " and ".join(uses))
    for candidate in (same_path(path) or path, real):
        if (candidate + "/").startswith(_SYSTEM_FILE_TREES):
            through = "" if candidate == same_path(path) else " (through a symbolic link to %s)" % real
            return "%s: %s is one of the host's own files%s; give a disk image or ISO of its own" % (what, path, through)
    return ""


def block_device_uses(device: int, count_holders: bool = True) -> List[str]:
    """What the host uses the block device ``device`` (or one of its partitions) for: mounted file
    systems and swap, on it or on a device built over it (device-mapper, LVM, RAID), and with
    ``count_holders`` such a device itself. Empty when the host does not use it."""
    numbers = {device} | set(_partitions(device))
    holders = sorted({holder for number in numbers for holder in _holders(number)})
    reached = numbers | _built_over(holders)
    uses = []
    mount_points = sorted(_mount_points(reached))
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
    """Mount points of the file systems on the devices ``numbers`` (field 3 of mountinfo is major:minor)."""
    try:
        with open(_MOUNTS) as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        major, _, minor = fields[2].partition(":")
        if major.isdigit() and minor.isdigit() and os.makedev(int(major), int(minor)) in numbers:
            yield fields[4].replace("\\040", " ")


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

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host files a guest's QEMU opens when a run starts it, and whether QEMU's user could open them.

libvirt gives the user QEMU runs as the files a guest opens (it makes that user their owner), not
the directories on the way: a file QEMU's user cannot reach makes the guest's start fail, after the
run made its disks. So the plan refuses such a file (see qemu_access for how it is judged). The
files are those of the definition the run starts: the request's disks, install ISO and boot files,
and for an existing guest started as it is, those of its stored definition the request leaves as
they are, with the guest's own security labels (its DAC user, a disk libvirt leaves as it is).
"""

from __future__ import annotations

import os
from typing import Any, Callable, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import DEFAULT_BOOT_DIR
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DiskRequest, GuestRequest, Refusals
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import predicted_path

# Formats whose images name other files (backing files, data files) that QEMU opens too.
CHAINED_FORMATS = ("qcow2", "qed", "vmdk")
# The first libvirt that makes QEMU's user the owner of a qcow2 image's data file too.
DATA_FILE_LABELLED_VERSION = 10010000


class OpenedFile(NamedTuple):
    """A host file QEMU opens when the guest starts: what names it, whether QEMU writes to it,
    whether libvirt makes QEMU's user its owner, whether it must exist where nothing else checked
    that (a file an image names, a file of a stored definition: missing, the start fails), and
    whether it is a qcow2 data file (libvirt makes its owner QEMU's user only from
    DATA_FILE_LABELLED_VERSION)."""

    label: str
    path: str
    write: bool
    owner_changed: bool = True
    must_exist: bool = False
    data_file: bool = False


class QemuUser(NamedTuple):
    """Who QEMU runs a guest as, where that is said, and whether libvirt makes it the owner of the
    guest's files (``None`` user: the guest's own label could not be read, nothing is judged)."""

    uid: int
    gid: int
    said_by: str
    changes_owners: bool


class StoredLabels(NamedTuple):
    """What a stored definition says of QEMU's user and of its files' owners: its own DAC label
    (``user``, or the ``unreadable`` text of one that names nobody), whether libvirt changes owners
    for it, and the targets of its disks that are read-only, whose owner libvirt leaves as it is
    (``relabel='no'``) or that libvirt drops when their file is missing (``startupPolicy='optional'``)."""

    user: Optional[Tuple[int, int]] = None
    unreadable: Optional[str] = None
    relabels: bool = True
    read_only: FrozenSet[str] = frozenset()
    kept: FrozenSet[str] = frozenset()
    optional: FrozenSet[str] = frozenset()


NO_LABELS = StoredLabels()


def check_boot_dir_reachable(client: Client, request: GuestRequest, state: GuestState, files: str) -> None:
    """Refuse a boot_dir that the user QEMU runs as may not enter (see qemu_access)."""
    user = qemu_user(client, request, state, NO_LABELS)
    if user is None:
        return
    # Imported here: only new guests with files on this host ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.qemu_access import closed_directory

    closed = closed_directory(os.path.join(request.install.boot_dir, "."), user.uid, user.gid)
    if closed is not None:
        raise PlanError(
            "install.boot_dir %s: %s; %s would not be opened when the guest starts. Give a directory QEMU's user may "
            "enter, such as %s, or let it enter (%s)"
            % (request.install.boot_dir, _may_not_enter(user, closed), files, DEFAULT_BOOT_DIR, closed.remedy)
        )


def qemu_user(client: Client, request: GuestRequest, state: GuestState, labels: StoredLabels) -> Optional[QemuUser]:
    """Who QEMU runs the guest as: its own static DAC label, else the host's (its capabilities);
    None when neither says, or the guest's label cannot be read."""
    if labels.unreadable is not None:
        return None
    changes_owners = labels.relabels and _libvirt_changes_owners()
    if labels.user is not None:
        return QemuUser(labels.user[0], labels.user[1], "the guest's own DAC label", changes_owners)
    virt_type = request.domain_type or state.detected_type
    identity = client.qemu_identity((virt_type,) if virt_type else ("kvm", "qemu"))
    if identity is None:
        return None
    return QemuUser(identity[0], identity[1], "the host's capabilities", changes_owners)


def _libvirt_changes_owners() -> bool:
    from ansible_collections.remotevirt.install.plugins.module_utils._common.qemu_access import libvirt_changes_owners

    return libvirt_changes_owners()


def _may_not_enter(user: QemuUser, closed: Any) -> str:
    return "QEMU runs as uid %d, gid %d (%s), who may not enter %s" % (user.uid, user.gid, user.said_by, closed)


def refuse_unreachable_files(
    client: Client, request: GuestRequest, state: GuestState, installs: bool, disks: Sequence[Tuple[DiskRequest, DiskState]]
) -> None:
    """Refuse a guest the run starts whose disk, install ISO or boot file QEMU's user could not open,
    for a directory on the way it may not enter or the file's own permissions, or that an image
    names and is missing: the guest's start would fail. One refusal for each such file."""
    labels = NO_LABELS if installs else stored_labels(state.existing_xml)
    files = files_qemu_opens(request, state, installs, disks, labels)
    refusals = [_missing_file(opened) for opened in files if opened.must_exist]
    if labels.unreadable is not None:
        refusals.append(
            "the guest's own DAC label %r names no user and group of this host (libvirt could not start it); give "
            "one as +uid:+gid or user:group" % labels.unreadable
        )
    user = qemu_user(client, request, state, labels) if files else None
    if user is not None:
        data_files_labelled = any(opened.data_file for opened in files) and client.version() >= DATA_FILE_LABELLED_VERSION
        refusals.extend(_unreachable(opened, user, data_files_labelled) for opened in files)
    refusals = [refusal for refusal in refusals if refusal]
    if refusals:
        raise Refusals(refusals)


def files_qemu_opens(
    request: GuestRequest,
    state: GuestState,
    installs: bool,
    disks: Sequence[Tuple[DiskRequest, DiskState]],
    labels: Optional[StoredLabels] = None,
) -> List[OpenedFile]:
    """The host files the guest's QEMU opens when this run starts it: the disks that could be read
    (volumes, new ones where their pool puts them, and paths, with the files their images name),
    the install ISO of an install and the kernel and initrd it boots; for an existing guest started
    as it is, the path disks of its definition when the request gives none, its cdroms and its
    boot files when the request gives none. Only absolute paths: a volume of a network pool (rbd,
    gluster) is no file of this host."""
    labels = labels or NO_LABELS
    files = [opened for disk, read in disks for opened in _disk_files(disk, read)]
    if installs and request.install.method == "cdrom" and state.media_path:
        files.append(OpenedFile("install.cdrom %s" % state.media_path, state.media_path, False))
    stored = None if installs else state.existing
    boot = request.boot
    if boot is not None:
        files.extend(_boot_files(boot.kernel, boot.initrd, "boot.%s %s"))
    elif stored is not None and stored.os.kernel is not None:
        stored_boot = _boot_files(stored.os.kernel.kernel, stored.os.kernel.initrd, "the stored definition's %s %s")
        files.extend(opened._replace(must_exist=True) for opened in stored_boot)
    if stored is not None:
        for disk in stored.disks:
            if disk.path and not disk.volume and (disk.device == "cdrom" or request.disks is None):
                label = "the stored definition's %s %s (%s)" % (disk.device, disk.target, disk.path)
                write = disk.device != "cdrom" and disk.target not in labels.read_only
                image = _image_files(label, disk.path, disk.format, write, disk.target not in labels.kept)
                if disk.target in labels.optional and not os.path.lexists(disk.path):
                    continue  # libvirt starts the guest without it
                files.extend([image[0]._replace(must_exist=True)] + image[1:])
    return [opened for opened in files if os.path.isabs(opened.path)]


def _boot_files(kernel: Optional[str], initrd: Optional[str], label: str) -> List[OpenedFile]:
    """The kernel and initrd a guest boots directly, each named by ``label`` % (which, path)."""
    return [OpenedFile(label % (what, path), path, False) for what, path in (("kernel", kernel), ("initrd", initrd)) if path]


def _disk_files(disk: DiskRequest, read: DiskState) -> List[OpenedFile]:
    """A disk's file (where a new volume will be) and those its image names in turn."""
    volume = read.volume
    if volume is None:
        return _image_files("%s: path %s" % (disk.label, disk.path), disk.path or "", disk.format, True, True)
    if volume.existing is None:
        path = predicted_path(volume.pool, disk.volume or "") or ""
        return [OpenedFile("%s: new volume %s" % (disk.label, path), path, True)]
    existing = volume.existing
    path = existing.path or ""
    return _image_files("%s: volume %s" % (disk.label, path), path, existing.format, True, True)


def _image_files(label: str, path: str, fmt: Optional[str], write: bool, owner_changed: bool) -> List[OpenedFile]:
    """An image and the files it names in turn: backing files (read only) and data files (written
    where the image itself names them; libvirt before DATA_FILE_LABELLED_VERSION leaves their owner
    as it is)."""
    files = [OpenedFile(label, path, write, owner_changed)]
    if fmt not in CHAINED_FORMATS or not os.path.isabs(path):
        return files
    # Imported here: only guests with files on this host ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import files_on_chain

    owner = label.split(": ", 1)[0] if ": " in label else label
    for named in files_on_chain(path)[1:]:
        text = "%s: %s file %s, named by %s" % (owner, named.role, named.path, named.named_by)
        data = named.role == "data"
        writes = write and data and named.named_by == path
        files.append(OpenedFile(text, named.path, writes, owner_changed and not data, must_exist=True, data_file=data))
    return files


def _missing_file(opened: OpenedFile) -> str:
    if os.path.lexists(opened.path):
        return ""
    return "%s: it does not exist on the host, and the guest could not start without it" % opened.label


def _unreachable(opened: OpenedFile, user: QemuUser, data_files_labelled: bool) -> str:
    """Why QEMU's user could not open ``opened`` (see qemu_access), with what would let it; "" when
    it could. A data file on a libvirt that may make QEMU's user its owner passes either way."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common.qemu_access import closed_directory, unopenable_file

    closed = closed_directory(opened.path, user.uid, user.gid)
    if closed is not None:
        return "%s: %s; the guest could not open it when it starts. Put it where QEMU's user may enter, or let it enter (%s)" % (
            opened.label,
            _may_not_enter(user, closed),
            closed.remedy,
        )
    owner_changed = opened.owner_changed and user.changes_owners
    problem = unopenable_file(opened.path, user.uid, user.gid, write=opened.write, owner_changed=owner_changed)
    if problem is not None and opened.data_file and data_files_labelled and user.changes_owners:
        problem = unopenable_file(opened.path, user.uid, user.gid, write=opened.write, owner_changed=True)
    if problem is None:
        return ""
    return "%s: %s; the guest could not open it when it starts. Let it (%s)" % (opened.label, problem.text, problem.remedy)


def stored_labels(xml: Optional[str]) -> StoredLabels:
    """What the stored definition ``xml`` says of QEMU's user and its files' owners (see StoredLabels)."""
    if not xml:
        return StoredLabels()
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

    root = parse(xml)
    user: Optional[Tuple[int, int]] = None
    relabels = True
    for label in root.findall("seclabel"):
        if label.get("model") not in (None, "dac"):
            continue
        if label.get("type") == "none":
            relabels = False
        elif label.get("type") == "static":
            text = label.findtext("label") or ""
            user = _dac_user(text)
            if user is None:
                return StoredLabels(unreadable=text)
            relabels = label.get("relabel") == "yes"
    read_only, kept, optional = set(), set(), set()
    for disk in root.findall("devices/disk"):
        target = disk.find("target")
        name = target.get("dev") if target is not None else None
        if name is None:
            continue
        if disk.find("readonly") is not None:
            read_only.add(name)
        if disk.find("source[@startupPolicy='optional']") is not None:
            optional.add(name)
        for own in disk.findall("source/seclabel"):
            if own.get("model") in (None, "dac") and own.get("relabel") == "no":
                kept.add(name)
    return StoredLabels(user, None, relabels, frozenset(read_only), frozenset(kept), frozenset(optional))


def _dac_user(label: str) -> Optional[Tuple[int, int]]:
    """The uid and gid of a DAC label as libvirt reads it: ``+uid:+gid`` numbers, else a user's
    and a group's name, else a number; None when it names neither."""
    import grp
    import pwd

    user, _sep, group = label.partition(":")
    uid = _dac_id(user, lambda name: pwd.getpwnam(name).pw_uid)
    gid = _dac_id(group, lambda name: grp.getgrnam(name).gr_gid)
    return (uid, gid) if uid is not None and gid is not None else None


# The largest uid or gid (uid_t; -1 is "none").
_MAX_ID = 2**32 - 2


def _dac_id(text: str, by_name: Callable[[str], int]) -> Optional[int]:
    number = text[1:] if text.startswith("+") else None
    if number is None:
        try:
            return by_name(text)
        except (KeyError, ValueError, UnicodeError):
            number = text
    found = whole_number(number)
    return found if found is not None and found <= _MAX_ID else None

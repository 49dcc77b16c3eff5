# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the user QEMU runs as may open a file of this host, judged before a guest starts.

libvirt gives QEMU's user the files a guest opens (it changes their owner while the guest runs,
``dynamic_ownership``), not the directories on the way to them: a disk in a directory that user may
not enter makes the guest's start fail, after everything else was made. The kernel's rules are
followed here: every directory it searches while it resolves the path (those a symbolic link leads
through included, hop by hop), judged by its access control list when it has one, else by its mode
bits; root enters everything.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from typing import Iterable, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import account_groups
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import shell

# The kernel follows at most this many symbolic links while it resolves one path (ELOOP beyond).
_MAX_LINKS = 40
# A directory's access control list, as the kernel stores it (version 2, then tag, permissions, id).
_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_ACL_ENTRY = struct.Struct("<HHI")
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_SEARCH, _WRITE, _READ = 1, 2, 4


class ClosedDirectory(NamedTuple):
    """A directory QEMU's user may not enter, how it is set, and the command that would let it."""

    path: str
    description: str
    remedy: str

    def __str__(self) -> str:
        return "%s (%s)" % (self.path, self.description)


class Identity(NamedTuple):
    """The user QEMU runs as and its groups: its account's and the one libvirt gives it."""

    uid: int
    groups: Set[int]

    @classmethod
    def of(cls, uid: int, gid: int) -> "Identity":
        return cls(uid, account_groups(uid) | {gid})


def directories_searched(path: str) -> List[str]:
    """The directories the kernel searches, in order, to open ``path``: each one it looks a name up
    in, following every symbolic link hop by hop (the last name's too), so the directories a link's
    target passes through before a ``..`` count as well. It stops where a name is missing (made by
    the run, or refused elsewhere) or the links loop."""
    searched: List[str] = []
    pending = list(reversed(path.split("/")))
    current = "/" if path.startswith("/") else os.getcwd()
    links = 0
    while pending:
        name = pending.pop()
        if not name:
            continue
        searched.append(current)  # "." and ".." are looked up in it too
        if name in (".", ".."):
            current = current if name == "." else os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        try:
            info = os.lstat(candidate)
            if stat.S_ISLNK(info.st_mode):
                links += 1
                target = os.readlink(candidate)
                if links > _MAX_LINKS:
                    break
                current = "/" if target.startswith("/") else current
                pending.extend(reversed(target.split("/")))
                continue
        except (OSError, ValueError):
            break
        if not pending or not stat.S_ISDIR(info.st_mode):
            break
        current = candidate
    return list(dict.fromkeys(searched))


def closed_directory(path: str, uid: int, gid: int) -> Optional[ClosedDirectory]:
    """The first directory the kernel searches to open ``path`` (see directories_searched) that user
    ``uid`` with group ``gid`` may not enter, or None. Missing directories are not judged (those the
    modules make are 0711); root enters every directory."""
    if uid == 0:
        return None
    identity = Identity.of(uid, gid)
    for directory in directories_searched(path):
        try:
            info = os.stat(directory)
        except OSError:
            return None
        acl = _acl_of(directory)
        if _allows(info, acl, identity, _SEARCH):
            continue
        mode = "mode %04o, owner uid %d, group gid %d%s" % (
            stat.S_IMODE(info.st_mode),
            info.st_uid,
            info.st_gid,
            ", with an access control list" if acl else "",
        )
        return ClosedDirectory(directory, mode, _remedy(directory, info, acl, identity))
    return None


class FileProblem(NamedTuple):
    """Why QEMU's user could not open a file by its own permissions, and what would let it."""

    text: str
    remedy: str


def unopenable_file(path: str, uid: int, gid: int, write: bool, owner_changed: bool) -> Optional[FileProblem]:
    """Why QEMU's user could not open the file at ``path`` for reading (and writing, with
    ``write``) by the file's own permissions; None when it may, or the file is not there. With
    ``owner_changed`` libvirt makes that user the file's owner and keeps its mode, so the owner's
    bits decide, unless that change fails (a read-only file system, an immutable or append-only
    file: libvirt goes on) and the file is judged as it is. Such a file is never written."""
    if uid == 0:
        return None
    try:
        info = os.stat(path)
        kept = _owner_kept(path)
    except (OSError, ValueError):
        return None
    if write and kept:
        if kept == _READ_ONLY:
            return FileProblem(
                "it is on %s, where QEMU could not write it" % kept, "copy it where it can be written, such as a storage pool"
            )
        return FileProblem(
            "%s, which QEMU could not write" % kept, "chattr %s %s" % ("-i" if kept == _IMMUTABLE else "-a", shell(path))
        )
    kept = kept if owner_changed else ""
    wanted = _READ | (_WRITE if write else 0)
    mode = stat.S_IMODE(info.st_mode)
    owner_allows = (mode >> 6) & wanted == wanted
    if owner_changed and not kept:
        allowed, whose = owner_allows, "QEMU's user, its owner while the guest runs,"
    else:
        allowed = _allows(info, _acl_of(path), Identity.of(uid, gid), wanted)
        whose = "QEMU's user (libvirt leaves its owner as it is%s)" % (" on %s" % kept if kept else "")
    if allowed:
        return None
    bits = "rw" if write else "r"
    if kept == _READ_ONLY:
        remedy = "copy it where libvirt may change its owner, such as a storage pool"
    elif kept in (_IMMUTABLE, _APPEND_ONLY):
        flag = "-i" if kept == _IMMUTABLE else "-a"
        remedy = "chattr %s %s%s" % (flag, shell(path), "" if owner_allows else "; chmod u+%s %s" % (bits, shell(path)))
    elif owner_changed:
        remedy = "chmod u+%s %s" % (bits, shell(path))
    else:
        remedy = "setfacl -m u:%d:%s %s" % (uid, bits, shell(path))
    text = "mode %04o, owner uid %d: %s may not %s it" % (mode, info.st_uid, whose, "read and write" if write else "read")
    return FileProblem(text, remedy)


_READ_ONLY, _IMMUTABLE, _APPEND_ONLY = "a read-only file system", "an immutable file", "an append-only file"


# The ioctl that reads a file's attributes (chattr), and those under which the kernel refuses a
# change of owner (immutable, append-only).
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL, _FS_APPEND_FL = 0x10, 0x20


def _owner_kept(path: str) -> str:
    """Where libvirt's change of a file's owner fails (which it lets pass): on a read-only file
    system, an immutable or an append-only file; "" where it succeeds."""
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return _READ_ONLY
    import array  # only for files whose owner libvirt changes
    import fcntl

    flags = array.array("l", [0])
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return ""
    try:
        fcntl.ioctl(descriptor, _FS_IOC_GETFLAGS, flags, True)
    except OSError:
        return ""  # a file system without attributes
    finally:
        os.close(descriptor)
    if flags[0] & _FS_IMMUTABLE_FL:
        return _IMMUTABLE
    return _APPEND_ONLY if flags[0] & _FS_APPEND_FL else ""


def libvirt_changes_owners(config: str = "/etc/libvirt/qemu.conf") -> bool:
    """Whether the host's libvirt makes QEMU's user the owner of the files a guest opens
    (``dynamic_ownership``, on unless its configuration turns it off; its first setting counts,
    as libvirt reads it)."""
    try:
        with open(config, encoding="utf-8", errors="replace") as text:
            lines = text.read().splitlines()
    except OSError:
        return True
    for line in lines:
        for setting in line.split("#", 1)[0].split(";"):
            found = _DYNAMIC_OWNERSHIP.match(setting)
            if found:
                return int(found.group(1)) != 0
    return True


_DYNAMIC_OWNERSHIP = re.compile(r"\s*dynamic_ownership\s*=\s*([+-]?[0-9]+)\s*$")


def _allows(info: os.stat_result, acl: Optional[List[Tuple[int, int, int]]], identity: Identity, wanted: int) -> bool:
    """As the kernel judges: the access control list when there is one, else the mode bits."""
    if acl is not None:
        return _acl_allows(acl, info, identity, wanted)
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid == identity.uid:
        bits = mode >> 6
    elif info.st_gid in identity.groups:
        bits = mode >> 3
    else:
        bits = mode
    return bits & wanted == wanted


def _acl_allows(acl: List[Tuple[int, int, int]], info: os.stat_result, identity: Identity, wanted: int) -> bool:
    """POSIX access control lists as the kernel reads them: the owner's entry for the owner, a named
    user's entry (within the mask), else any of the user's groups' entries that grants (within the
    mask) when one of them matches, else the others' entry."""
    mask = next((perm for tag, perm, _ident in acl if tag == _ACL_MASK), 7)
    if info.st_uid == identity.uid:
        return _grants(acl, _ACL_USER_OBJ, wanted)
    named = [perm for tag, perm, ident in acl if tag == _ACL_USER and ident == identity.uid]
    if named:
        return named[0] & mask & wanted == wanted
    groups = [
        perm
        for tag, perm, ident in acl
        if (tag == _ACL_GROUP_OBJ and info.st_gid in identity.groups) or (tag == _ACL_GROUP and ident in identity.groups)
    ]
    if groups:
        return any(perm & mask & wanted == wanted for perm in groups)
    return _grants(acl, _ACL_OTHER, wanted)


def _grants(acl: Iterable[Tuple[int, int, int]], tag: int, wanted: int) -> bool:
    return any(entry_tag == tag and perm & wanted == wanted for entry_tag, perm, _ident in acl)


def _acl_of(path: str) -> Optional[List[Tuple[int, int, int]]]:
    """The access control list of ``path`` as (tag, permissions, id) entries, or None without one
    (or one of a version the kernel does not write, left to the mode bits)."""
    try:
        raw = os.getxattr(path, _ACL_XATTR)
    except (OSError, AttributeError):
        return None
    if len(raw) < 4 or (len(raw) - 4) % _ACL_ENTRY.size or struct.unpack_from("<I", raw)[0] != _ACL_VERSION:
        return None
    return [_ACL_ENTRY.unpack_from(raw, offset) for offset in range(4, len(raw), _ACL_ENTRY.size)]


def _remedy(directory: str, info: os.stat_result, acl: Optional[list], identity: Identity) -> str:
    """The command that lets QEMU's user enter ``directory``: the class of the mode bits that applies
    to it (others' bits do nothing for the owner or a member of the group), or an entry of its own in
    the access control list."""
    if info.st_uid == identity.uid:
        return "chmod u+x %s" % shell(directory)
    if acl is not None:
        return "setfacl -m u:%d:x %s" % (identity.uid, shell(directory))
    if info.st_gid in identity.groups:
        return "chmod g+x %s" % shell(directory)
    return "chmod o+x %s" % shell(directory)

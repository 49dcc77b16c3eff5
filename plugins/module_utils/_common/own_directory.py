# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directories the modules write root's files into, or take files from, for root's use.

On a host shared with other users, a directory someone else owns or may write to lets them put a
symbolic link where root writes next (root then writes or copies through it), swap a file between
a check and its use, or read what root leaves there. boot_dir, a serial log's directory and a
storage pool's directory are judged here, when the run is planned (check mode refuses alike) and
again where a run creates the directory (someone may create it first).
"""

from __future__ import annotations

import os
import stat
from typing import Optional


def foreign_directory_problem(path: str, what: str) -> Optional[str]:
    """Why the existing directory ``path`` is not this module's own (None when it is): not a
    directory itself (a link to one), owned by a user other than root and the module's user, or
    writable by its group or by others. A missing directory is no problem here."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return directory_info_problem(info, path, what)


def directory_info_problem(info: os.stat_result, path: str, what: str) -> Optional[str]:
    """foreign_directory_problem of a directory whose ``lstat`` (or ``fstat``) is ``info``."""
    if not stat.S_ISDIR(info.st_mode):
        return "%s %s is not a directory" % (what, path)
    if info.st_uid not in (0, os.geteuid()):
        return "%s %s is owned by uid %d; it must belong to root or to the user the module runs as" % (what, path, info.st_uid)
    return writable_by_others_problem(info, path, what)


def writable_by_others_problem(info: os.stat_result, path: str, what: str) -> Optional[str]:
    """Why the directory whose ``stat`` is ``info`` is not only its owner's to write (None when it is)."""
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        return (
            "%s %s can be written by its group or by others (mode %04o), who could swap or read what is put there (chmod go-w %s)"
            % (what, path, mode, path)
        )
    return None


def own_directory_problem(path: str, what: str) -> Optional[str]:
    """Why the directory ``path`` is not root's own to write into (None when it is): another user
    could make the way to it lead elsewhere (untrusted_path_problem), or it is not this module's
    own (foreign_directory_problem). A missing directory is no problem here."""
    return untrusted_path_problem(path, what) or foreign_directory_problem(path, what)


def pool_target_problem(target: str, pool_type: str, what: str) -> Optional[str]:
    """Why a new, moved or started pool should not take ``target`` as its directory (None when it
    may): the way to it, and for a dir pool the directory itself (pool_directory_problem's rules).
    The mount point of an fs or netfs pool is judged by the way to it only: once the pool starts,
    its owner and mode are the mounted file system's, which pool_directory_problem judges before
    each new volume. The same rules hold when planning and again after the build."""
    if pool_type in ("fs", "netfs"):
        return way_problem(target, what)
    return untrusted_path_problem(target, what) or foreign_directory_problem(os.path.realpath(target), what)


def pool_directory_problem(directory: str, pool_type: str, what: str) -> Optional[str]:
    """Why root should not make files in a storage pool's ``directory`` (None when it may): another
    user could make the way to it lead elsewhere, may write it, or (but for a netfs pool) owns it. The
    owner of a netfs pool's directory is the export's (root squashed to the user libvirt writes as):
    the admin's choice. A missing directory is no problem here (the pool's build makes it)."""
    if pool_type == "netfs":
        problem = way_problem(directory, what)
    else:
        problem = untrusted_path_problem(directory, what)
    if problem:
        return problem
    try:
        info = os.stat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if pool_type == "netfs":
        return writable_by_others_problem(info, directory, what)
    return directory_info_problem(info, directory, what)


def way_problem(directory: str, what: str) -> Optional[str]:
    """Why another user could make ``directory`` lead elsewhere, its own owner aside (a mount point's
    is the mounted file system's): the way to it as spelled and to where it leads
    (untrusted_path_problem, a parent everyone may write), or a link of theirs there."""
    # As spelled and where it leads: a link of root's to another user's directory is their place.
    for spelling in dict.fromkeys((directory.rstrip("/") or "/", os.path.realpath(directory))):
        parent = os.path.dirname(spelling) or "/"
        problem = untrusted_path_problem(parent, what) or _renamable_problem(parent, spelling, what)
        if problem:
            return problem
    try:
        info = os.lstat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(info.st_mode) and info.st_uid not in (0, os.geteuid()):
        return "%s %s is a symbolic link of uid %d, who could make it lead elsewhere" % (what, directory, info.st_uid)
    return None


def _renamable_problem(parent: str, path: str, what: str) -> Optional[str]:
    """Why anyone could rename ``path`` away or put something else there: everyone may write its
    ``parent``, which has no sticky bit (None when not, or when the parent is missing)."""
    try:
        info = os.stat(parent)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if _everyone_renames_in(info):
        return "%s %s: %s on the way can be written by everyone, who could put something else at %s" % (what, path, parent, path)
    return None


def _everyone_renames_in(info: os.stat_result) -> bool:
    """Whether anyone may rename or replace what a directory whose ``stat`` is ``info`` holds: everyone
    may write it, and it has no sticky bit."""
    return bool(info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX)


def untrusted_path_problem(path: str, what: str) -> Optional[str]:
    """Why another user could make ``path`` lead elsewhere (None when nobody but root and the
    module's user can): a symbolic link or directory on the way that they own, or a directory on
    the way that everyone may write without the sticky bit (they could rename what is in it, or make
    the first part that does not exist yet first). The path is judged as spelled and where it leads;
    below its first missing part, the rest is the run's to make.
    A group that may write a directory on the way is the admin's grant (Ubuntu's /var/log)."""
    for spelling in dict.fromkeys((path, os.path.realpath(path))):
        problem = _components_problem(spelling, what)
        if problem:
            return problem
    return None


def _components_problem(path: str, what: str) -> Optional[str]:
    current = "/"
    current_info = os.stat(current)
    for part in path.strip("/").split("/"):
        if part in ("", "."):
            continue
        parent, parent_info = current, current_info
        if stat.S_ISLNK(parent_info.st_mode):
            parent_info = os.stat(parent)  # the directory the link leads to is the one written in
        current = os.path.join(current, part)
        # Judged before whether the part exists: where it does not, anyone who may write its
        # parent could make it first (or rename it away later), as the run's own.
        if _everyone_renames_in(parent_info):
            return "%s %s: %s on the way can be written by everyone, who could put something else at %s" % (
                what,
                path,
                parent,
                current,
            )
        try:
            current_info = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if current_info.st_uid not in (0, os.geteuid()):
            return "%s %s: %s on the way belongs to uid %d, who could make it lead elsewhere" % (
                what,
                path,
                current,
                current_info.st_uid,
            )
    return None


def nearest_existing(path: str) -> Optional[str]:
    """``path`` when it exists (a link that leads nowhere too), else its nearest parent that does;
    None when no part of it exists (a relative path whose first part is missing)."""
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return path

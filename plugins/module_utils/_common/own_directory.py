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
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        return (
            "%s %s can be written by its group or by others (mode %04o), who could swap or read what is put there (chmod go-w %s)"
            % (what, path, mode, path)
        )
    return None

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs of a pool plan: what each handler is given, and what rollback does with it."""

from __future__ import annotations

from typing import Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, UNDONE, Payload, Verb

DEFINE = "define"
BUILD = "build"
START = "start"
AUTOSTART = "autostart"
STOP = "stop"
DELETE_VOLUME = "delete-volume"
DELETE = "delete"
UNDEFINE = "undefine"


class PoolTarget(Payload):
    """The pool an action changes, by name."""

    pool: str


class DefinePayload(Payload):
    """A pool definition; ``previous`` is the one it replaces (None: a new pool), which undo restores."""

    pool: str
    xml: str
    previous: Optional[str] = None


class BuildPayload(Payload):
    """``no_overwrite``: never format a device that holds a file system or volume group already;
    ``mount_existing`` (fs pools): such a device is mounted as it is, the build then only makes the
    mount directory."""

    pool: str
    no_overwrite: bool
    mount_existing: bool = False


class UndefinePayload(Payload):
    """The pool to undefine and its definition, which undo defines again (its storage is untouched)."""

    pool: str
    previous: str


class AutostartPayload(Payload):
    pool: str
    enable: bool


class VolumeTarget(Payload):
    pool: str
    volume: str


# A definition, a start, a stop, autostart and an undefinition are undone (a new pool undefined, an
# old definition restored, a started pool stopped, a stopped one started again, an undefined one
# defined again). Building and deleting volumes or storage cannot be reversed.
VERBS: Dict[str, Verb] = {
    DEFINE: Verb(DEFINE, DefinePayload, UNDONE),
    BUILD: Verb(BUILD, BuildPayload, KEPT),
    START: Verb(START, PoolTarget, UNDONE),
    AUTOSTART: Verb(AUTOSTART, AutostartPayload, UNDONE),
    STOP: Verb(STOP, PoolTarget, UNDONE),
    DELETE_VOLUME: Verb(DELETE_VOLUME, VolumeTarget, KEPT),
    DELETE: Verb(DELETE, PoolTarget, KEPT),
    UNDEFINE: Verb(UNDEFINE, UndefinePayload, UNDONE),
}

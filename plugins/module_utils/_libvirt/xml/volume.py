# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage volume XML (https://libvirt.org/formatstorage.html#storage-volume-xml)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlObject,
    attr_of,
    etree,
    parse,
    size_of,
    sub,
    text_of,
)


class Permissions(Record):
    """Octal mode and numeric owner/group of a file-backed volume."""

    mode: Optional[str] = None
    owner: Optional[int] = None
    group: Optional[int] = None

    def is_empty(self) -> bool:
        return self.mode is None and self.owner is None and self.group is None

    def covers(self, other: "Permissions") -> bool:
        """True when every field set here has the same value in ``other``."""
        return all(
            mine is None or mine == theirs
            for mine, theirs in ((self.mode, other.mode), (self.owner, other.owner), (self.group, other.group))
        )


class Volume(XmlObject):
    """A volume as the user asks for it (``to_xml``) or as libvirt reports it (``from_xml``).

    ``path``, ``key`` and ``physical`` are set by libvirt and never written.
    """

    name: str
    capacity: int
    format: Optional[str] = None
    allocation: Optional[int] = None
    permissions: Permissions = Permissions()
    backing_path: Optional[str] = None
    backing_format: Optional[str] = None
    path: Optional[str] = None
    key: Optional[str] = None
    physical: Optional[int] = None

    def to_element(self) -> Any:
        volume = etree.Element("volume")
        sub(volume, "name", self.name)
        sub(volume, "capacity", str(self.capacity), unit="bytes")
        if self.allocation is not None:
            sub(volume, "allocation", str(self.allocation), unit="bytes")
        target = sub(volume, "target")
        if self.format:
            sub(target, "format", type=self.format)
        if not self.permissions.is_empty():
            perms = sub(target, "permissions")
            if self.permissions.mode is not None:
                sub(perms, "mode", self.permissions.mode)
            if self.permissions.owner is not None:
                sub(perms, "owner", str(self.permissions.owner))
            if self.permissions.group is not None:
                sub(perms, "group", str(self.permissions.group))
        if self.backing_path:
            backing = sub(volume, "backingStore")
            sub(backing, "path", self.backing_path)
            if self.backing_format:
                sub(backing, "format", type=self.backing_format)
        return volume

    @classmethod
    def from_xml(cls, text: str) -> "Volume":
        root = parse(text)
        owner = text_of(root, "target/permissions/owner")
        group = text_of(root, "target/permissions/group")
        return cls(
            name=text_of(root, "name") or "",
            capacity=size_of(root, "capacity") or 0,
            allocation=size_of(root, "allocation"),
            physical=size_of(root, "physical"),
            format=attr_of(root, "target/format", "type"),
            path=text_of(root, "target/path"),
            key=text_of(root, "key"),
            permissions=Permissions(
                mode=normalise_mode(text_of(root, "target/permissions/mode")),
                owner=int(owner) if owner not in (None, "-1") else None,
                group=int(group) if group not in (None, "-1") else None,
            ),
            backing_path=text_of(root, "backingStore/path"),
            backing_format=attr_of(root, "backingStore/format", "type"),
        )

    def facts(self, pool: str) -> Dict[str, Any]:
        """The small dictionary modules return as ``volume``."""
        return {
            "name": self.name,
            "pool": pool,
            "path": self.path,
            "key": self.key,
            "format": self.format,
            "capacity": self.capacity,
            "allocation": self.allocation,
            "backing_path": self.backing_path,
        }


def normalise_mode(mode: Optional[str]) -> Optional[str]:
    """Four-digit octal text (``0644``), the form libvirt reports."""
    if mode is None:
        return None
    return "%04o" % int(str(mode), 8)

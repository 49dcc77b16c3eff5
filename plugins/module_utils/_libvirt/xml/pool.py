# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pool XML (https://libvirt.org/formatstorage.html#storage-pool-xml)."""

from __future__ import annotations

from typing import Any, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlObject,
    etree,
    parse,
    size_of,
    sub,
    text_of,
)

# Pool types whose volumes are plain files that the host's filesystem permissions apply to.
FILE_POOL_TYPES = frozenset(("dir", "fs", "netfs", "gluster"))
# Pool types whose volumes are the files of their target directory on the host (a volume's name
# is its file's name), sized from the file system holding that directory.
DIRECTORY_POOL_TYPES = frozenset(("dir", "fs", "netfs"))


class Pool(XmlObject):
    """A storage pool; ``capacity``, ``allocation``, ``available`` and ``uuid`` come from libvirt."""

    name: str
    type: str = "dir"
    target_path: Optional[str] = None
    uuid: Optional[str] = None
    capacity: Optional[int] = None
    allocation: Optional[int] = None
    available: Optional[int] = None

    @property
    def holds_files(self) -> bool:
        return self.type in FILE_POOL_TYPES

    @property
    def directory(self) -> Optional[str]:
        """The directory whose files are the pool's volumes, None for other pool types."""
        return self.target_path if self.type in DIRECTORY_POOL_TYPES else None

    def to_element(self) -> Any:
        pool = etree.Element("pool", type=self.type)
        sub(pool, "name", self.name)
        if self.uuid:
            sub(pool, "uuid", self.uuid)
        if self.target_path:
            sub(sub(pool, "target"), "path", self.target_path)
        return pool

    @classmethod
    def from_xml(cls, text: str) -> "Pool":
        root = parse(text)
        return cls(
            name=text_of(root, "name") or "",
            type=root.get("type", "dir"),
            target_path=text_of(root, "target/path"),
            uuid=text_of(root, "uuid"),
            capacity=size_of(root, "capacity"),
            allocation=size_of(root, "allocation"),
            available=size_of(root, "available"),
        )

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pool XML (https://libvirt.org/formatstorage.html#storage-pool-xml)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlError,
    XmlObject,
    attr_of,
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


# The parts of a pool definition this collection builds and compares, by element path, each with
# the attributes it may carry. libvirt computes the others it reports (uuid, sizes); anything else
# in a user's XML is refused rather than defined unseen and never compared.
_MANAGED = {
    "name": (),
    "uuid": (),
    "capacity": ("unit",),
    "allocation": ("unit",),
    "available": ("unit",),
    "source": (),
    "source/host": ("name",),
    "source/dir": ("path",),
    "source/device": ("path",),
    "source/name": (),
    "source/format": ("type",),
    "source/initiator": (),
    "source/initiator/iqn": ("name",),
    "target": (),
    "target/path": (),
    "target/permissions": (),
    "target/permissions/mode": (),
    "target/permissions/owner": (),
    "target/permissions/group": (),
}


# Elements a pool may have more than once.
_REPEATED = ("source/host", "source/device")


def unmanaged_parts(root: Any) -> List[str]:
    """The elements and attributes of a pool XML that ``PoolDefinition`` does not hold, as paths
    (``source/auth``, ``source/host@port``)."""
    found = []
    seen = set()
    for element in root.iterdescendants():
        if not isinstance(element.tag, str):
            # A comment or processing instruction inside a text cuts it (the module would read
            # '/srv/p' of '<path>/srv/p<!-- -->x</path>', libvirt '/srv/px'); an entity is text
            # libvirt reads and the module does not. Elsewhere they carry nothing.
            cuts = element.tag is etree.Entity or (element.tail or "").strip()
            if cuts and "comments, processing instructions or entities in a text" not in found:
                found.append("comments, processing instructions or entities in a text")
            continue
        path = "/".join(ancestor.tag for ancestor in reversed(list(element.iterancestors())) if ancestor is not root)
        path = "%s/%s" % (path, element.tag) if path else element.tag
        if path not in _MANAGED:
            found.append(path)
            continue
        if path in seen and path not in _REPEATED:
            found.append("a second %s" % path)  # read once here, perhaps the other by libvirt
        seen.add(path)
        found.extend("%s@%s" % (path, attr) for attr in element.attrib if attr not in _MANAGED[path])
    found.extend("pool@%s" % attr for attr in root.attrib if attr != "type")
    return found


def _mode_text(text: Optional[str]) -> Optional[str]:
    """A permission mode as four octal digits, as libvirt reports it ('755' is '0755')."""
    if text is None:
        return None
    # int() would also read other scripts' digits, '0o755' and surrounding whitespace, which libvirt refuses.
    if not re.fullmatch(r"[0-7]{1,4}", text.strip(" ")):
        raise XmlError("target/permissions/mode %r is not an octal mode (up to four digits 0-7)" % text)
    return "%04o" % int(text, 8)


_LARGEST_ID = 2**32 - 2


def _id_of(text: Optional[str], what: str) -> Optional[int]:
    if text is None:
        return None
    # -1 is libvirt's "the running user's"; ids are 32-bit, (uid_t) -1 itself none.
    if not re.fullmatch(r"-1|[0-9]{1,10}", text.strip(" ")) or int(text) > _LARGEST_ID:
        raise XmlError("target/permissions/%s %r is not a numeric id (-1, or 0 to %d)" % (what, text, _LARGEST_ID))
    return int(text)


def _path(text: Optional[str]) -> Optional[str]:
    """A host path as libvirt stores it: without a trailing slash or repeated ones."""
    if not text or not text.startswith("/"):
        return text
    return "/" + "/".join(part for part in text.split("/") if part)


class PoolDefinition(XmlObject):
    """The definition of a storage pool as this collection manages it (what ``virsh pool-define``
    takes): ``uuid`` is only carried to redefine an existing pool (libvirt refuses a redefinition
    without it) and is never compared."""

    name: str
    type: str = "dir"
    target_path: Optional[str] = None
    source_hosts: Tuple[str, ...] = ()
    source_dir: Optional[str] = None
    source_devices: Tuple[str, ...] = ()
    source_name: Optional[str] = None
    source_format: Optional[str] = None
    initiator: Optional[str] = None
    mode: Optional[str] = None
    owner: Optional[int] = None
    group: Optional[int] = None
    uuid: Optional[str] = Field(default=None, compare=False)

    def to_element(self) -> Any:
        pool = etree.Element("pool", type=self.type)
        sub(pool, "name", self.name)
        if self.uuid:
            sub(pool, "uuid", self.uuid)
        source = sub(pool, "source")
        for host in self.source_hosts:
            sub(source, "host", name=host)
        if self.source_dir:
            sub(source, "dir", path=self.source_dir)
        for device in self.source_devices:
            sub(source, "device", path=device)
        if self.source_name:
            sub(source, "name", self.source_name)
        if self.source_format:
            sub(source, "format", type=self.source_format)
        if self.initiator:
            sub(sub(source, "initiator"), "iqn", name=self.initiator)
        if not len(source):
            pool.remove(source)  # a dir pool has no source; libvirt shows an empty one
        if self.target_path or self.permissions_set:
            target = sub(pool, "target")
            if self.target_path:
                sub(target, "path", self.target_path)
            if self.permissions_set:
                permissions = sub(target, "permissions")
                for tag, value in (("mode", self.mode), ("owner", self.owner), ("group", self.group)):
                    if value is not None:
                        sub(permissions, tag, str(value))
        return pool

    @property
    def permissions_set(self) -> bool:
        return any(value is not None for value in (self.mode, self.owner, self.group))

    def to_line(self) -> str:
        """The XML on one line, for a command line."""
        return etree.tostring(self.to_element(), encoding="unicode")

    @classmethod
    def from_xml(cls, text: str) -> "PoolDefinition":
        return cls.from_element(parse(text))

    @classmethod
    def from_element(cls, root: Any) -> "PoolDefinition":
        if root.tag != "pool":
            raise XmlError("a pool definition starts with <pool>, not <%s>" % root.tag)
        owner = _id_of(text_of(root, "target/permissions/owner"), "owner")
        group = _id_of(text_of(root, "target/permissions/group"), "group")
        return cls(
            name=text_of(root, "name") or "",
            type=root.get("type", ""),
            target_path=_path(text_of(root, "target/path")),
            source_hosts=tuple(host.get("name", "") for host in root.iterfind("source/host")),
            source_dir=_path(attr_of(root, "source/dir", "path")),
            source_devices=tuple(_path(device.get("path", "")) or "" for device in root.iterfind("source/device")),
            source_name=text_of(root, "source/name"),
            source_format=attr_of(root, "source/format", "type"),
            initiator=attr_of(root, "source/initiator/iqn", "name"),
            mode=_mode_text(text_of(root, "target/permissions/mode")),
            # libvirt reports an id it was not given as -1
            owner=None if owner == -1 else owner,
            group=None if group == -1 else group,
            uuid=text_of(root, "uuid"),
        )


class PoolTypeCapability(Record):
    """What the host's libvirt offers for one pool type (``virsh pool-capabilities``)."""

    supported: bool
    source_formats: Tuple[str, ...] = ()


def pool_capabilities(text: str) -> Dict[str, PoolTypeCapability]:
    """Pool types by name, from libvirt's storage pool capabilities XML."""
    capabilities = {}
    for pool in parse(text).iterfind("pool"):
        formats = tuple(value.text or "" for value in pool.iterfind("poolOptions/enum[@name='sourceFormatType']/value"))
        capabilities[pool.get("type", "")] = PoolTypeCapability(pool.get("supported") == "yes", formats)
    return capabilities

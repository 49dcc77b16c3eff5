# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxml helpers shared by the XML builders: safe parsing, deterministic output, typed reads."""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import unit_multiplier

try:
    from lxml import etree
except ImportError:  # reported by the module through missing_required_lib
    # None only on a host without lxml, where the module fails before any builder runs.
    etree = None  # type: ignore[assignment]
    LXML_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    LXML_IMPORT_ERROR = None


class XmlError(ValueError):
    """XML that libvirt returned or a user supplied and that cannot be used."""


class XmlObject(Record):
    """Base of the builders (value records): each builds its ``to_element()``; the text form comes from here."""

    def to_element(self) -> Any:
        raise NotImplementedError

    def to_xml(self) -> str:
        return serialize(self.to_element())


def _parser() -> Any:
    # libvirt's XML never needs entities, DTDs or the network; refusing them closes XXE for
    # anything that reaches the parser.
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def parse(text: str) -> Any:
    """Parse ``text`` into an lxml element."""
    try:
        return etree.fromstring(text.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError("cannot parse XML: %s" % exc)


def serialize(element: Any) -> str:
    """Indented XML; builders add children and attributes in a fixed order, so equal objects give equal text."""
    return etree.tostring(element, pretty_print=True, encoding="unicode")


def sub(parent: Any, tag: str, text: Optional[str] = None, **attrs: Optional[str]) -> Any:
    """Append child ``tag`` with the attributes that are not None and optional text."""
    child = etree.SubElement(parent, tag, {key: value for key, value in attrs.items() if value is not None})
    if text is not None:
        child.text = text
    return child


def text_of(element: Any, path: str) -> Optional[str]:
    """Stripped text of the first ``path`` match, or None."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def attr_of(element: Any, path: str, name: str) -> Optional[str]:
    """Attribute ``name`` of the first ``path`` match, or None."""
    found = element.find(path)
    return None if found is None else found.get(name)


def size_of(element: Any, path: str) -> Optional[int]:
    """A libvirt scaled integer (``<capacity unit='KiB'>4</capacity>``) in bytes, or None."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return int(found.text.strip()) * unit_multiplier(found.get("unit", "bytes"))


def child_after(parent: Any, tag: str, anchors: Tuple[str, ...]) -> Any:
    """``parent``'s child ``tag``, made when missing right after the first of ``anchors`` that
    ``parent`` has (libvirt's order of elements), else as its last child."""
    child = parent.find(tag)
    if child is None:
        child = etree.Element(tag)
        anchor = next((found for found in map(parent.find, anchors) if found is not None), None)
        if anchor is not None:
            anchor.addnext(child)
        else:
            parent.append(child)
    return child


def replace_metadata(root: Any, element: Any) -> None:
    """Put ``element`` into the guest's <metadata> (made after its uuid, or its name, when it has
    none) in place of the elements of the same tag: libvirt keeps one element per namespace there."""
    metadata = child_after(root, "metadata", ("uuid", "name"))
    for old in metadata.findall(element.tag):
        metadata.remove(old)
    metadata.append(element)


def replace_devices(devices: Any, tag: str, read: Callable[[Any], Any], wanted: Sequence[Any]) -> None:
    """Keep each existing ``tag`` element that reads back as a wanted object (with its address);
    drop the others and add elements for the wanted objects that had none. An element ``read``
    gives None for is not the collection's and stays as it is."""
    remaining = list(wanted)
    for element in devices.findall(tag):
        current = read(element)
        if current is None:
            continue
        if current in remaining:
            remaining.remove(current)
        else:
            devices.remove(element)
    for item in remaining:
        devices.append(item.to_element())

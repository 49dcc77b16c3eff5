# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mark a new guest's stored definition carries from its define until its install (or its first
boot with cloud-init) has started: a guest still marked, that never ran, was never installed, and
is neither taken for installed nor started from its empty disk by any module."""

from __future__ import annotations

import os
from typing import Any, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import etree, parse

# The namespace of the mark's element in the guest's <metadata> (libvirt keeps one element per
# namespace there, and never reads it).
INSTALL_NAMESPACE = "https://github.com/remotevirt/install/xmlns/install/1"
_INSTALL_TAG = "{%s}install" % INSTALL_NAMESPACE


def with_install_pending(xml: str, since: int) -> str:
    """The definition ``xml`` marked as defined at ``since`` (epoch seconds), its install not started."""
    root = parse(xml)
    metadata = root.find("metadata")
    if metadata is None:
        metadata = etree.Element("metadata")
        anchor: Any = root.find("uuid")
        if anchor is None:
            anchor = root.find("name")
        anchor.addnext(metadata)
    for old in metadata.findall(_INSTALL_TAG):
        metadata.remove(old)
    etree.SubElement(metadata, _INSTALL_TAG, {"pending-since": str(since)}, nsmap={"rvi-install": INSTALL_NAMESPACE})
    return etree.tostring(root, encoding="unicode")


def install_pending_since(xml: str) -> Optional[int]:
    """When the stored definition ``xml`` was defined, if it still carries the mark (0 when the mark
    says no time); None without the mark."""
    mark = parse(xml).find("metadata/" + _INSTALL_TAG)
    if mark is None:
        return None
    since = mark.get("pending-since") or ""
    return int(since) if since.isascii() and since.isdigit() else 0


def forget_install_pending(client: Any, domain: Any) -> None:
    """Drop the mark from a guest just started from its disk (through ``client``, a libvirt Client).
    Modules start a marked guest only when it ran since it was defined (a run stopped right after its
    install began); a mark left would call it never installed once its serial log is gone."""
    if install_pending_since(client.domain_definition(domain)) is not None:
        client.remove_stored_metadata(domain, INSTALL_NAMESPACE)


def never_installed_problem(name: str, xml: str, local: bool) -> str:
    """Why the guest of stored definition ``xml`` must not be taken for installed nor started as it
    is: it still carries the mark and shows no sign of having run since (its serial log written after
    it was defined, which only a module run on its host can see); "" when it may."""
    since = install_pending_since(xml)
    if since is None or (local and _serial_log_written_since(xml, since)):
        return ""
    return (
        "guest %s was defined by a run that stopped before its install (or its first boot with cloud-init) "
        "started, so it was never installed; run virt_guest_install with reinstall: true to install it (its "
        "disks and identity are kept), or remove it with state: absent" % name
    )


def _serial_log_written_since(xml: str, since: int) -> bool:
    serial = parse(xml).find("devices/serial")
    if serial is None:
        return False
    log = serial.find("log")
    source = serial.find("source")
    path = (
        log.get("file")
        if log is not None
        else (source.get("path") if source is not None and serial.get("type") == "file" else None)
    )
    if not path:
        return False
    try:
        return os.stat(path).st_mtime >= since
    except (OSError, ValueError):
        return False

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What in a guest's stored definition makes ``virsh start`` fail before the guest boots: a libvirt
network the host does not have or has not started, a bridge or network device it does not have, a
storage pool that is gone or stopped, a volume, disk, backing or boot file that is gone, a backing
chain that loops, the directory of a console log that is gone.

Asked before a start, and before the shutdown of a restart, so a guest that could not come back is
never taken down and check mode predicts the refusal. What only the host's own view can tell (a
bridge, a device, a file) is asked only when the module runs on the host itself; a disk
libvirt may leave out when its source is missing (``startupPolicy='optional'``) is never asked about.
Imported only by runs that start a guest."""

from __future__ import annotations

import os
import stat
from typing import Any, Iterator, List, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    bridge_problem,
    device_problem,
    network_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse


def start_problems(
    client: Client, stored_xml: str, interfaces: bool = True, disks: bool = True, files: bool = True, shares: bool = True
) -> List[str]:
    """Why a guest cannot start from ``stored_xml`` on the host of ``client``, each said of the guest
    ("its disk vda ..."); [] when nothing it needs is missing. ``interfaces`` and ``disks``: whether
    its network cards and its disks are asked about, ``files``: its boot files, console logs and
    sockets, ``shares``: its shared directories (a caller that checks those of a request itself
    leaves them out)."""
    domain = parse(stored_xml)
    on_host = client.files_here()
    found: List[str] = []
    for interface in domain.iterfind("devices/interface") if interfaces else ():
        found.extend(_interface_problems(client, interface, on_host))
    for disk in domain.iterfind("devices/disk") if disks else ():
        found.extend(_disk_problems(client, disk, on_host))
    if on_host:
        found.extend(_firmware_problems(domain))
    if files and on_host:
        found.extend(_host_file_problems(domain))
    if shares and on_host:
        found.extend(_share_problems(domain))
    # Once each: libvirt shows the first serial port again as the console, with the same log.
    return list(dict.fromkeys(found))


def _host_file_problems(domain: Any) -> Iterator[str]:
    """Files libvirt opens before QEMU starts, on this host: the boot kernel and initrd, the
    directory of each file a serial console or log writes, and of each UNIX socket QEMU listens on."""
    for tag in ("kernel", "initrd"):
        path = domain.findtext("os/" + tag)
        if path and _missing(os.path.join("/", path)):
            yield "its boot %s %s does not exist" % (tag, path)
    logs = [source.get("path") for source in domain.iterfind("devices/*[@type='file']/source")]
    logs += [log.get("file") for log in domain.iterfind("devices/*/log")]
    for path in logs:
        if path and _missing(os.path.dirname(os.path.join("/", path))):
            yield "the directory of its console log %s does not exist" % path
    for source in domain.iterfind("devices/*[@type='unix']/source[@mode='bind']"):
        path = source.get("path")
        if path and _missing(os.path.dirname(os.path.join("/", path))):
            yield "the directory of its socket %s does not exist" % path


def _firmware_problems(domain: Any) -> Iterator[str]:
    """The UEFI loader the stored definition names (a firmware package update may rename it), and
    the template of an NVRAM file libvirt has yet to make from it."""
    loader = (domain.findtext("os/loader") or "").strip()
    if loader:
        problem = _firmware_file_problem(loader)
        if problem:
            yield "its firmware loader %s %s" % (loader, problem)
    nvram = domain.find("os/nvram")
    if nvram is None:
        return
    # <nvram>PATH</nvram>, or <nvram type='file'><source file='PATH'/></nvram>
    source = nvram.find("source")
    path = (nvram.text or "").strip() or (source.get("file") if source is not None and nvram.get("type") == "file" else None)
    template = nvram.get("template")
    if path and template and _missing(os.path.join("/", path)):
        problem = _firmware_file_problem(template)
        if problem:
            yield "its NVRAM file %s does not exist, and its template %s %s" % (path, template, problem)


def _firmware_file_problem(path: str) -> str:
    """Why QEMU cannot read firmware file ``path``: gone, or no regular file (a FIFO would hang the
    start); "" when it can, or this user cannot tell."""
    try:
        info = os.stat(os.path.join("/", path))
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except (OSError, ValueError):
        return ""
    return "" if stat.S_ISREG(info.st_mode) or stat.S_ISBLK(info.st_mode) else "is not a regular file"


def _share_problems(domain: Any) -> Iterator[str]:
    """The host directory of each shared file system (virtiofs, 9p): QEMU's helper exports it at start."""
    for share in domain.iterfind("devices/filesystem"):
        source = share.find("source")
        path = source.get("dir") if source is not None and share.get("type", "mount") == "mount" else None
        if path and _missing(os.path.join("/", path)):
            yield "its shared directory %s does not exist" % path


def _missing(path: str) -> bool:
    """Whether ``path`` is surely not there; one this user may not look at counts as there (libvirtd,
    as root, may see it)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except (OSError, ValueError):
        return False
    return False


def _interface_problems(client: Client, interface: Any, on_host: bool) -> Iterator[str]:
    kind = interface.get("type")
    source = interface.find("source")
    target = interface.find("target")
    problem = None
    if kind == "network" and source is not None and source.get("network"):
        problem = network_problem(client, source.get("network"), on_host)
    elif kind == "bridge" and source is not None and source.get("bridge") and on_host:
        ovs = interface.find("virtualport[@type='openvswitch']") is not None
        problem = bridge_problem(source.get("bridge"), open_vswitch=ovs)
    elif kind == "direct" and source is not None and source.get("dev") and on_host:
        problem = device_problem(source.get("dev"))
    elif kind == "ethernet" and target is not None and target.get("managed") == "no" and target.get("dev") and on_host:
        # libvirt makes the tap device of a managed card itself; an unmanaged one must be there.
        problem = device_problem(target.get("dev"))
    if problem:
        yield "%s: %s" % (_card(interface), problem)


def _card(interface: Any) -> str:
    mac = interface.find("mac")
    address = mac.get("address") if mac is not None else None
    return "its network card %s" % address if address else "a network card"


def _disk_problems(client: Client, disk: Any, on_host: bool) -> Iterator[str]:
    source = disk.find("source")
    if source is None or source.get("startupPolicy") == "optional":
        return  # an empty drive, or one libvirt leaves out when its source is gone
    what = _disk_label(disk)
    kind = disk.get("type")
    path = None
    if kind == "volume" and source.get("pool") and source.get("volume"):
        volume, problem = _volume_of(client, what, source.get("pool"), source.get("volume"))
        if problem:
            yield problem
            return
        path = client.describe_volume(volume).path if on_host else None
    elif kind in ("file", "block") and on_host:
        path = source.get("file" if kind == "file" else "dev")
        path = os.path.join("/", path) if path else path  # libvirtd reads a relative path from /
        if path and not os.path.exists(path):
            yield "%s %s does not exist" % (what, path)
            return
    stored_chain = disk.find("backingStore")
    if stored_chain is not None and on_host:
        # libvirt takes the chain the definition gives, not the one the image's header names.
        yield from _stored_chain_problems(what, stored_chain)
    elif path and kind != "block" and _driver_format(disk) in _FORMATS_WITH_BACKING:
        # Only images whose format the definition gives as one with a header: the first bytes of a
        # raw disk are the guest's to write, never read as a header.
        yield from _chain_problems(what, path)


# Formats whose header may name a backing or data file.
_FORMATS_WITH_BACKING = ("qcow2", "qed", "vmdk")
# A chain deeper than this is not followed to its end (nothing refused beyond it); a loop ends it too.
_MAX_CHAIN = 256


def _driver_format(disk: Any, tag: str = "driver") -> str:
    """The image format a disk's ``<driver type>`` (a backing store's ``<format type>``) gives."""
    driver = disk.find(tag)
    return (driver.get("type") if driver is not None else None) or "raw"


def _stored_chain_problems(what: str, store: Any) -> Iterator[str]:
    """A file of the backing chain a definition gives (``<backingStore>``, nested) that is gone; where
    the given chain stops without an empty ``<backingStore/>``, libvirt reads the rest from the last
    image's header, and so is it read here."""
    for _depth in range(_MAX_CHAIN):
        source = store.find("source")
        if source is None:
            return  # <backingStore/>: no backing at all
        kind = store.get("type")
        path = source.get("file") if kind == "file" else source.get("dev") if kind == "block" else None
        if not path:
            return  # a network source: not judged on this host
        path = os.path.join("/", path)
        if not os.path.exists(path):
            yield "%s: the backing file %s its definition names does not exist" % (what, path)
            return
        deeper = store.find("backingStore")
        if deeper is None:
            if kind == "file" and _driver_format(store, "format") in _FORMATS_WITH_BACKING:
                yield from _chain_problems(what, path)
            return
        store = deeper


def _chain_problems(what: str, path: str) -> Iterator[str]:
    """A backing file or external data file the image at ``path`` (or an image behind it) names that
    is gone from the host: QEMU cannot open the disk then (a base volume deleted by hand)."""
    # Imported here: only starts of a guest with disk files on this host read their headers.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.image_header import named_files

    seen = set()
    for _depth in range(_MAX_CHAIN):
        real = os.path.realpath(path)
        if real in seen:
            yield "%s: its backing chain comes back to %s (a loop): QEMU cannot open it" % (what, path)
            return
        seen.add(real)
        named = named_files(path)
        if named.data_file and not os.path.exists(named.data_file):
            yield "%s: the data file %s of %s does not exist" % (what, named.data_file, path)
        if not named.backing:
            return
        if not os.path.exists(named.backing):
            yield "%s: the backing file %s of %s does not exist" % (what, named.backing, path)
            return
        path = named.backing


def _volume_of(client: Client, what: str, pool_name: str, volume_name: str) -> Tuple[Any, str]:
    """The disk's volume, and why it cannot be used ("" when it can): its pool gone or not active, or
    the volume itself gone."""
    pool = client.find_pool(pool_name)
    if pool is None:
        return None, "%s is volume %s of storage pool %r, which %s does not have" % (what, volume_name, pool_name, client.uri)
    if not client.pool_is_active(pool):
        return None, "%s is volume %s of storage pool %r, which is not active; start it first: %s" % (
            what,
            volume_name,
            pool_name,
            virsh(client.uri, "pool-start", pool_name),
        )
    volume = client.find_volume(pool, volume_name)
    if volume is None:
        return None, "%s, volume %s of storage pool %r, does not exist" % (what, volume_name, pool_name)
    return volume, ""


def _disk_label(disk: Any) -> str:
    target = disk.find("target")
    device = target.get("dev") if target is not None else None
    kind = disk.get("device") or "disk"
    return "its %s %s" % (kind, device) if device else "its %s" % kind

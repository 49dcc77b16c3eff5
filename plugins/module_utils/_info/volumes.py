# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool_volume_info's flow: select volumes, report them as libvirt describes them, with
who uses each; changes nothing.

Formats come from libvirt's volume XML, never from the volumes' content. Who uses a volume is
found through two indexes built once per task: every guest's disks (each guest's XML read once)
and every volume's backing file (each volume's XML read once), so the cost grows with the number
of guests plus volumes, not with their product.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import connected
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path
from ansible_collections.remotevirt.install.plugins.module_utils._info.select import NameFilter, check_common, pool_filter
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import as_made as made_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import as_recorded_plain

# (pool, volume) of a disk of type volume, or ("", path) of a file or block disk.
DiskKey = Tuple[str, str]


class VolumeQuery(Record):
    """Validated options of virt_pool_volume_info."""

    pool: Optional[str]
    names: NameFilter
    used_by: bool = True
    refresh: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "VolumeQuery":
        check_common(params)
        return cls(
            pool=pool_filter(params),
            names=NameFilter.from_params(params, "volume"),
            used_by=params.get("used_by") is not False,
            refresh=bool(params.get("refresh")),
        )


class UsageIndex:
    """Who uses what: guests' disks by pool volume and by path, volumes by their backing file."""

    def __init__(self) -> None:
        self.guest_disks: Dict[DiskKey, List[Dict[str, Any]]] = {}
        self.backed: Dict[str, List[Dict[str, Any]]] = {}

    def add_guest(self, name: str, xml: str) -> None:
        for element in parse(xml).iterfind("devices/disk"):
            disk = Disk.from_element(element)
            user = {"kind": "guest", "name": name, "device": disk.device, "target": disk.target}
            if disk.volume:
                self.guest_disks.setdefault((disk.pool or "", disk.volume), []).append(user)
            elif disk.path:
                self.guest_disks.setdefault(("", same_path(disk.path) or ""), []).append(user)

    def add_volume(self, pool: str, volume: Volume) -> None:
        backing = same_path(volume.backing_path)
        if backing:
            self.backed.setdefault(backing, []).append({"kind": "volume", "name": "%s/%s" % (pool, volume.name)})

    def users_of(self, pool: str, volume: Volume) -> List[Dict[str, Any]]:
        path = same_path(volume.path) or ""
        users = list(self.guest_disks.get((pool, volume.name), ()))
        if path:
            users += [user for user in self.guest_disks.get(("", path), ()) if user not in users]
            users += self.backed.get(path, [])
        return sorted(users, key=lambda user: (user["kind"], user["name"], user.get("target") or ""))


def run(params: Mapping[str, Any], check_mode: bool, _diff: bool) -> Dict[str, Any]:
    """Everything virt_pool_volume_info does after argument parsing; raises RunError to fail."""
    try:
        query = VolumeQuery.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    try:
        with connected(params["uri"]) as client:
            return dict(report(client, query), changed=False)
    except REPORTED_ERRORS as error:
        raise RunError(str(error))


def report(client: Client, query: VolumeQuery) -> Dict[str, Any]:
    pools, inactive = _pools(client, query)
    # What libvirt-python cannot read (a name or path that is not UTF-8) is left out and told here,
    # not made the whole report's failure: one such file would fail every report on the host.
    warnings: List[str] = []
    described = {pool.name(): _described(client, pool, None if query.used_by else query.names, warnings) for pool in pools}
    index = _usage_index(client, described, warnings) if query.used_by else None
    volumes = []
    for pool_name, pool_volumes in described.items():
        for volume in pool_volumes:
            if not query.names.matches(volume.name):
                continue
            facts = dict(volume.facts(pool_name), backing_format=volume.backing_format)
            if index is not None:
                facts["used_by"] = index.users_of(pool_name, volume)
            volumes.append(facts)
    return {"volumes": volumes, "inactive_pools": inactive, "warnings": warnings}


def _pools(client: Client, query: VolumeQuery) -> Tuple[List[Any], List[str]]:
    """The active pools to report on, and the names of the inactive ones left out."""
    if query.pool is not None:
        pool = client.find_pool(query.pool)
        if pool is None:
            raise PlanError("storage pool %r does not exist on %s (virsh pool-list --all)" % (query.pool, client.uri))
        if not client.pool_is_active(pool):
            raise PlanError(
                "storage pool %r on %s is not active, so libvirt lists no volumes of it; start it first: %s"
                % (query.pool, client.uri, virsh(client.uri, "pool-start", query.pool))
            )
        candidates = [pool]
    else:
        candidates = client.all_pools()
    active: List[Any] = []
    inactive: List[Any] = []
    for pool in candidates:
        (active if client.pool_is_active(pool) else inactive).append(pool)
    if query.refresh:
        for pool in active:
            # A directory pool whose directory was deleted behind libvirt's back is not refreshed:
            # libvirt would stop it (a report must change nothing) and the whole report fail.
            # Its volumes are then those whose files libvirt can still read: none.
            if client.missing_pool_directory(pool) is None:
                # A pool with a running volume job refuses refresh; its volume list is still libvirt's.
                client.refresh_pool_unless_busy(pool)
    return active, [pool.name() for pool in inactive]


def _described(client: Client, pool: Any, names: Optional[NameFilter], warnings: List[str]) -> List[Volume]:
    """The volumes of ``pool`` as libvirt describes them (only those ``names`` selects, when given);
    those libvirt-python cannot read are told in ``warnings``."""
    volumes = []
    for handle in client.volumes_of(pool, warnings):
        if names is not None and not names.matches(handle.name()):
            continue
        try:
            volume = client.volume_if_present(handle)
        except LibvirtError as error:
            if not error.not_utf8:
                raise
            warnings.append("pool %s: volume %s is left out: %s" % (pool.name(), handle.name(), error.message))
            continue
        if volume is not None:
            volumes.append(as_made(volume, client.files_here(), "%s/%s" % (pool.name(), volume.name), warnings))
    return volumes


def as_made(volume: Volume, local: bool, where: str, warnings: List[str]) -> Volume:
    """``volume`` as this collection made it when it made it raw (or iso) and libvirt now reads it as
    another format (see state.as_made), told in ``warnings`` (virt_pool_volume uses it only as made)."""
    if local:
        volume = as_recorded_plain(volume)  # raw and iso read alike: no warning
    made = made_volume(volume) if local else None
    if made is None:
        return volume
    warnings.append(
        "volume %s was made as %s, but its content now reads as %s (a header whoever writes it can write): "
        "reported as %s, without the backing file that header names" % (where, made.format, volume.format, made.format)
    )
    return made


def _usage_index(client: Client, described: Mapping[str, List[Volume]], warnings: List[str]) -> UsageIndex:
    """Every guest read once; every volume of every active pool read once (those already read
    are not read again), for the backing files of volumes outside the selected pools."""
    index = UsageIndex()
    for domain in client.all_domains():
        try:
            xml = client.domain_xml_if_present(domain)
        except LibvirtError as error:
            if not error.not_utf8:
                raise
            warnings.append("guest %s is left out of used_by: %s" % (domain.name(), error.message))
            continue
        if xml is not None:
            index.add_guest(domain.name(), xml)
    for pool in client.all_pools():
        name = pool.name()
        known = described.get(name)
        if known is None:
            if not client.pool_is_active(pool):
                continue
            known = _described(client, pool, None, warnings)
        for volume in known:
            index.add_volume(name, volume)
    return index

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool_volume's flow: read the host, plan, apply, report."""

from __future__ import annotations

import grp
import os
import pwd
from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils.plan import Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils.volume_plan import (
    INCOMPLETE_XATTR,
    VolumeRef,
    VolumeRequest,
    VolumeState,
    plan_volume,
    predicted_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils.xml.volume import Permissions, Volume, normalise_mode


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names the libvirt of the host the module runs on (no host part)."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    return not rest.split("/", 1)[0]


def resolve_permissions(params: Mapping[str, Any]) -> Permissions:
    """Mode as four octal digits and owner/group as numeric ids, as libvirt stores them."""
    mode = params.get("mode")
    if isinstance(mode, int):  # YAML 1.1 reads an unquoted 0640 as the number 416
        mode = "%o" % mode
    if mode is not None:
        try:
            mode = normalise_mode(mode)
        except ValueError:
            raise PlanError("mode must be octal, like 0640, not %r" % mode)
        if int(mode, 8) > 0o7777:
            raise PlanError("mode %s is not a file mode" % mode)
    return Permissions(mode=mode, owner=_numeric_id(params.get("owner"), pwd.getpwnam, "user"),
                       group=_numeric_id(params.get("group"), grp.getgrnam, "group"))


def _numeric_id(value: Optional[str], lookup: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    if str(value).isdigit():
        return int(value)
    try:
        return lookup(value)[2]
    except KeyError:
        raise PlanError("%s %r does not exist on this host" % (what, value))


class RunError(Exception):
    """A refusal or failure to report with fail_json; ``plan`` is what was planned, if anything."""

    def __init__(self, message: str, plan: Optional[Plan] = None, changed: bool = False) -> None:
        super().__init__(message)
        self.plan = plan
        self.changed = changed


# -- reading the host --------------------------------------------------------------------------
def open_pool(client: Client, name: str) -> Any:
    """The active, freshly refreshed pool ``name``; refuses unknown and inactive pools."""
    pool = client.find_pool(name)
    if pool is None:
        raise PlanError("storage pool %r does not exist on %s; define it first (virsh pool-define-as)"
                        % (name, client.uri))
    if not client.pool_is_active(pool):
        raise PlanError("storage pool %r on %s is not active; start it first: virsh pool-start %s"
                        % (name, client.uri, name))
    try:
        client.refresh_pool(pool)  # see files that tools other than libvirt put in the pool
    except LibvirtError as error:
        # A pool with a running volume job (another build or upload) refuses refresh; its
        # volume list is still the one libvirt works with, so go on with it.
        if "asynchronous jobs" not in error.message:
            raise
    return pool


def _described_origin(client: Client, pool: Any, ref: VolumeRef, what: str) -> Volume:
    origin_pool = pool if ref.pool == pool.name() else open_pool(client, ref.pool)
    volume = client.find_volume(origin_pool, ref.name)
    if volume is None:
        raise PlanError("%s volume %s does not exist" % (what, ref.label))
    return client.describe_volume(volume)


def _local_file(described: Volume) -> Optional[str]:
    path = described.path
    return path if path and os.access(path, os.R_OK) and os.path.isfile(path) else None


def existing_digest(client: Client, volume: Any, described: Volume, algorithm: str,
                    length: Optional[int] = None) -> str:
    """Digest of a volume's content (its first ``length`` bytes, when given), from the file when
    the host holds it, else through libvirt.

    A digest remembered on the file counts when the file is unchanged since; a remembered
    download length means only those bytes are the download (a raw image grown afterwards).
    """
    # Imported here: only downloads use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils import download

    path = _local_file(described)
    if path is not None:
        record = download.read_digest_record(path, algorithm)
        if record is not None and record.current and length is None:
            return record.digest
        if record is not None and length is None:
            length = record.length
        return download.digest_of(download.read_file(path, length), algorithm)
    return download.digest_of(client.download_volume(volume, length=length or 0), algorithm)


def is_incomplete(described: Volume, local: bool) -> bool:
    """Whether the volume's file still carries the mark of a download that never finished."""
    path = described.path
    if not local or not path:
        return False
    try:
        os.getxattr(path, INCOMPLETE_XATTR)
    except OSError:  # no mark (ENODATA), no xattrs here, or no such file: nothing to go by
        return False
    return True


def _digest_state(client: Client, volume: Any, request: VolumeRequest, state: VolumeState, access: Any) -> VolumeState:
    # Imported here: only downloads use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils import download

    existing = state.existing
    algorithm = request.checksum.algorithm
    digest = existing_digest(client, volume, existing, algorithm)
    size = None
    if digest != request.checksum.digest and _local_file(existing) is None:
        # Without a remembered length, a volume grown after its download verifies by the prefix
        # the server still serves.
        size = download.probe_size(request.source_url, access)
        if size is not None and size < existing.capacity:
            digest = existing_digest(client, volume, existing, algorithm, size)
    state = state.with_changes(content_digest=digest)
    if digest != request.checksum.digest and request.force:
        if size is None:
            size = download.probe_size(request.source_url, access)
        state = state.with_changes(download_size=size)
    return state


def read_state(client: Client, pool: Any, request: VolumeRequest, validate_certs: bool) -> VolumeState:
    """The pool, the volume (if any) and whatever else this request's plan depends on."""
    described_pool = client.describe_pool(pool)
    volume = client.find_volume(pool, request.name)
    existing = client.describe_volume(volume) if volume is not None else None
    local = is_local_uri(client.uri)
    state = VolumeState(pool=described_pool, existing=existing, local=local)
    if request.state == "absent":
        if existing is not None:
            state = state.with_changes(users=tuple(client.domains_using(request.pool, request.name, existing.path)))
        return state
    if existing is not None and is_incomplete(existing, local):
        state = state.with_changes(incomplete=True)
    origin_ref = request.clone_from or request.backing_volume
    if origin_ref is not None and (existing is None or request.backing_volume):
        what = "clone_from" if request.clone_from else "backing_volume"
        state = state.with_changes(origin=_described_origin(client, pool, origin_ref, what))
    if request.source_url:
        # Imported here: only downloads use it (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils import download

        access = download.UrlAccess(validate_certs=validate_certs, username=request.url_username,
                                    password=request.url_password)
        if existing is None:
            state = state.with_changes(download_size=download.probe_size(request.source_url, access))
        elif state.incomplete:
            # A half-made download is replaced, unless a guest uses it.
            users = tuple(client.domains_using(request.pool, request.name, existing.path))
            state = state.with_changes(users=users, download_size=download.probe_size(request.source_url, access))
        elif request.checksum:
            state = _digest_state(client, volume, request, state, access)
    return state


# -- the module's flow -------------------------------------------------------------------------
def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_pool_volume does after argument parsing; raises RunError to fail."""
    try:
        request = VolumeRequest.from_params(params, resolve_permissions(params))
    except PlanError as error:
        raise RunError(str(error))
    client = Client(params["uri"])
    plan = None
    try:
        too_old = client.version_problem()
        if too_old:
            raise PlanError(too_old)
        pool = open_pool(client, request.pool)
        state = read_state(client, pool, request, params.get("validate_certs", True))
        plan = plan_volume(request, state)
        if plan.changed and not check_mode:
            _apply(client, plan, params)
        result = {"changed": plan.changed, "plan": plan.summaries(),
                  "volume": _volume_facts(client, pool, request, plan, state, check_mode)}
        if diff:
            result["diff"] = plan.diff("volume %s" % request.label)
        return result
    except reported_errors() as error:
        raise RunError(str(error), plan)
    finally:
        client.close()


def _apply(client: Client, plan: Plan, params: Mapping[str, Any]) -> None:
    """Carry out ``plan``, each action logged on the host; a failed action raises RunError."""
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils.audit import AuditLog
    from ansible_collections.remotevirt.install.plugins.module_utils.executor import ExecutionError, Executor
    from ansible_collections.remotevirt.install.plugins.module_utils.volume_handlers import VolumeHandlers

    audit = AuditLog(params.get("log_facility") or "user", context=client.uri)
    try:
        Executor(VolumeHandlers(client, params.get("validate_certs", True)).as_mapping(), audit).apply(plan)
    except ExecutionError as error:
        raise RunError(str(error), plan, changed=error.left_changes)


def reported_errors() -> Tuple[type, ...]:
    """Errors a run reports as its failure message. Evaluated only while an exception is handled."""
    # Imported here: only downloads raise DownloadError (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils.download import DownloadError

    return PlanError, LibvirtError, DownloadError


def _volume_facts(client: Client, pool: Any, request: VolumeRequest, plan: Plan, state: VolumeState,
                  check_mode: bool) -> Dict[str, Any]:
    if request.state == "absent":
        return {}
    if check_mode or not plan.changed:
        if not plan.changed:
            return state.existing.facts(request.pool)
        predicted = Volume.from_xml(plan.after)
        path = state.existing.path if state.existing else None
        return predicted.with_changes(path=path or predicted_path(state.pool, request.name), key=None).facts(request.pool)
    volume = client.find_volume(pool, request.name)
    return client.describe_volume(volume).facts(request.pool)


def __getattr__(name: str) -> Any:
    """``VolumeHandlers``, still importable from here, is loaded on first use from volume_handlers."""
    if name == "VolumeHandlers":
        # Imported here: only runs that change something use it (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils.volume_handlers import VolumeHandlers

        return VolumeHandlers
    raise AttributeError("module %r has no attribute %r" % (__name__, name))

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool_volume's flow: read the host, plan, apply, report."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
from dataclasses import replace
from typing import Any, Dict, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils import download
from ansible_collections.remotevirt.install.plugins.module_utils.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils.client import (
    MIN_LIBVIRT_VERSION,
    Client,
    LibvirtError,
    version_text,
)
from ansible_collections.remotevirt.install.plugins.module_utils.executor import ExecutionError, Executor, Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils.plan import Action, Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils.volume_plan import (
    VolumeRef,
    VolumeRequest,
    VolumeState,
    plan_volume,
    predicted_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils.xml.volume import Permissions, Volume, normalise_mode

try:
    import libvirt
except ImportError:  # the module reports the missing library before anything here runs
    libvirt = None


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


def existing_digest(client: Client, volume: Any, described: Volume, algorithm: str) -> str:
    """Digest of a volume's content, from the file when the host holds it, else through libvirt."""
    path = described.path
    if path and os.access(path, os.R_OK) and os.path.isfile(path):
        remembered = download.remembered_digest(path, algorithm)
        if remembered is not None:
            return remembered
        return download.digest_of(download.read_file(path), algorithm)
    return download.digest_of(client.download_volume(volume), algorithm)


def read_state(client: Client, pool: Any, request: VolumeRequest, validate_certs: bool) -> VolumeState:
    """The pool, the volume (if any) and whatever else this request's plan depends on."""
    described_pool = client.describe_pool(pool)
    volume = client.find_volume(pool, request.name)
    existing = client.describe_volume(volume) if volume is not None else None
    state = VolumeState(pool=described_pool, existing=existing, local=is_local_uri(client.uri))
    if request.state == "absent":
        if existing is not None:
            state = replace(state, users=tuple(client.domains_using(request.pool, request.name, existing.path)))
        return state
    origin_ref = request.clone_from or request.backing_volume
    if origin_ref is not None and (existing is None or request.backing_volume):
        what = "clone_from" if request.clone_from else "backing_volume"
        state = replace(state, origin=_described_origin(client, pool, origin_ref, what))
    if request.source_url:
        if existing is None:
            state = replace(state, download_size=download.probe_size(request.source_url, validate_certs))
        elif request.checksum:
            digest = existing_digest(client, volume, existing, request.checksum.algorithm)
            state = replace(state, content_digest=digest)
            if digest != request.checksum.digest and request.force:
                state = replace(state, download_size=download.probe_size(request.source_url, validate_certs))
    return state


# -- applying ----------------------------------------------------------------------------------
class VolumeHandlers:
    """One handler per plan verb; creating handlers return the undo that deletes what they made."""

    def __init__(self, client: Client, validate_certs: bool) -> None:
        self.client = client
        self.validate_certs = validate_certs

    def as_mapping(self) -> Dict[str, Handler]:
        return {"create": self.create, "clone": self.clone, "upload": self.upload, "resize": self.resize,
                "delete": self.delete, "chmod": self.chmod}

    def _pool(self, name: str) -> Any:
        pool = self.client.find_pool(name)
        if pool is None:
            raise LibvirtError("look up pool", name, "pool disappeared")
        return pool

    def _volume(self, action: Action) -> Any:
        pool_name, name = action.name.split("/", 1)
        volume = self.client.find_volume(self._pool(pool_name), name)
        if volume is None:
            raise LibvirtError("look up volume", action.name, "volume disappeared")
        return volume

    def _undo_delete(self, volume: Any) -> Undo:
        return lambda: self.client.delete_volume(volume)

    def _flags(self, action: Action) -> int:
        return libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA if action.payload.get("prealloc_metadata") else 0

    def create(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        volume = self.client.create_volume(self._pool(payload["pool"]), payload["xml"], self._flags(action))
        return self._undo_delete(volume)

    def clone(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        source = self.client.find_volume(self._pool(payload["source_pool"]), payload["source"])
        if source is None:
            raise LibvirtError("look up volume", "%s/%s" % (payload["source_pool"], payload["source"]),
                               "clone source disappeared")
        volume = self.client.clone_volume(self._pool(payload["pool"]), payload["xml"], source, self._flags(action))
        return self._undo_delete(volume)

    def upload(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        checksum = payload["checksum"]
        hasher = hashlib.new(checksum.algorithm if checksum else "sha256")
        volume = self._volume(action)
        self.client.upload_volume(volume, download.stream(payload["url"], hasher, self.validate_certs),
                                  payload["length"])
        digest = hasher.hexdigest()
        if checksum and digest != checksum.digest:
            raise download.DownloadError("checksum mismatch for %s: expected %s, got %s:%s"
                                         % (payload["url"], checksum.text, checksum.algorithm, digest))
        # libvirt reads a qcow2 image's size from its header only on refresh.
        self.client.refresh_pool(self._pool(payload["pool"]))
        path = self.client.describe_volume(volume).path
        if checksum and path and os.path.isfile(path):
            download.remember_digest(path, checksum.algorithm, digest)
        return None

    def resize(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        self.client.resize_volume(self._volume(action), payload["capacity"], shrink=payload["shrink"])
        return None

    def delete(self, action: Action) -> Optional[Undo]:
        self.client.delete_volume(self._volume(action))
        return None

    def chmod(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        if payload["mode"] is not None:
            os.chmod(payload["path"], int(payload["mode"], 8))
        if payload["owner"] is not None or payload["group"] is not None:
            os.chown(payload["path"], -1 if payload["owner"] is None else payload["owner"],
                     -1 if payload["group"] is None else payload["group"])
        return None


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
        if client.version() < MIN_LIBVIRT_VERSION:
            raise PlanError("libvirt %s on %s is older than the supported minimum %s"
                            % (version_text(client.version()), client.uri, version_text(MIN_LIBVIRT_VERSION)))
        pool = open_pool(client, request.pool)
        state = read_state(client, pool, request, params.get("validate_certs", True))
        plan = plan_volume(request, state)
        if plan.changed and not check_mode:
            audit = AuditLog(params.get("log_facility") or "user", context=client.uri)
            Executor(VolumeHandlers(client, params.get("validate_certs", True)).as_mapping(), audit).apply(plan)
        result = {"changed": plan.changed, "plan": plan.summaries(),
                  "volume": _volume_facts(client, pool, request, plan, state, check_mode)}
        if diff:
            result["diff"] = plan.diff("volume %s" % request.label)
        return result
    except ExecutionError as error:
        raise RunError(str(error), plan, changed=error.left_changes)
    except (PlanError, LibvirtError, download.DownloadError) as error:
        raise RunError(str(error), plan)
    finally:
        client.close()


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

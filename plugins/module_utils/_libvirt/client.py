# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that opens libvirt connections and calls the libvirt API.

Every libvirt failure becomes a LibvirtError naming the operation, the object and libvirt's own
message. Objects are found by name (one RPC), never by listing and scanning.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import ReportedError
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import made_plain
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import definition_path, same_path
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import FirmwareOffer, HostPlatforms

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None
    LIBVIRT_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None

# Oldest libvirt the collection supports on a host (major * 1,000,000 + minor * 1,000 + micro).
MIN_LIBVIRT_VERSION = 6000000

# virDomainState values by name, as virsh prints them (reasons are read from libvirt's constants).
_DOMAIN_STATES = {
    0: "no state",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shut off",
    6: "crashed",
    7: "pmsuspended",
}

_NOT_FOUND_CODES = ("VIR_ERR_NO_STORAGE_POOL", "VIR_ERR_NO_STORAGE_VOL", "VIR_ERR_NO_DOMAIN", "VIR_ERR_NO_NETWORK")

# How libvirt refuses the domain capabilities of a platform the host does not run: no emulator
# for the architecture (unsupported configuration), a machine or virtualization type the emulator
# does not have (invalid argument). Other failures say nothing of the platform.
_PLATFORM_REFUSALS = (67, 8)  # VIR_ERR_CONFIG_UNSUPPORTED, VIR_ERR_INVALID_ARG


class LibvirtError(ReportedError):
    """A libvirt call failed: ``operation`` on ``target`` with libvirt's ``message``."""

    def __init__(self, operation: str, target: str, message: str, code: Optional[int] = None) -> None:
        super().__init__("%s %s: %s" % (operation, target, message))
        self.operation = operation
        self.target = target
        self.message = message
        self.code = code

    @property
    def not_found(self) -> bool:
        """Whether libvirt failed because the object (guest, pool, volume, network) is not there."""
        return self.code is not None and _is_not_found_code(self.code)

    @property
    def not_utf8(self) -> bool:
        """Whether libvirt answered, with text libvirt-python cannot read (see not_utf8_error)."""
        return self.code == NOT_UTF8


# LibvirtError.code of an answer that is not UTF-8 (libvirt's own codes are positive).
NOT_UTF8 = -8


def not_utf8_error(operation: str, target: str) -> LibvirtError:
    """libvirt-python raises UnicodeDecodeError for a name or path that is not UTF-8: a file of such a
    name in a pool's directory, or an image that names such a backing file."""
    return LibvirtError(
        operation,
        target,
        "libvirt gave back a name or path that is not UTF-8, which libvirt-python cannot read (a file of "
        "such a name in a pool's directory, or an image naming such a backing file; ls -b shows it): rename it",
        NOT_UTF8,
    )


def version_text(version: int) -> str:
    return "%d.%d.%d" % (version // 1000000, version // 1000 % 1000, version % 1000)


def is_already_built(error: LibvirtError) -> bool:
    """Whether a pool build failed because its device holds a file system or volume group already."""
    return error.code is not None and error.code == getattr(libvirt, "VIR_ERR_STORAGE_POOL_BUILT", None)


def _is_not_found_code(code: int) -> bool:
    return any(code == getattr(libvirt, name, None) for name in _NOT_FOUND_CODES)


def _pool_jobs_running(error: LibvirtError) -> bool:
    """Whether libvirt refused an operation on a pool because a volume job runs in it."""
    return "has asynchronous jobs running" in error.message


@functools.lru_cache(maxsize=None)
def _state_reasons(state_name: str) -> Dict[int, str]:
    """libvirt's reasons for one state by number, from its constants (VIR_DOMAIN_PAUSED_IOERROR...)."""
    prefix = "VIR_DOMAIN_%s_" % state_name.upper().replace(" ", "")
    return {
        getattr(libvirt, name): name[len(prefix) :].lower().replace("_", " ") for name in dir(libvirt) if name.startswith(prefix)
    }


def _quiet_error_handler(_context: Any, _error: Any) -> None:
    """libvirt prints every error to stderr by default; ours are raised and reported instead."""


# Keepalive: a libvirtd that answers nothing for KEEPALIVE_INTERVAL * (KEEPALIVE_COUNT + 1)
# seconds (hung, or gone without closing the socket) has its connection closed, so every call
# waiting on it fails instead of hanging the task.
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3


# Keepalive starts only once a connection is open: opening one to a daemon that accepts but never
# answers (hung, or stopped with SIGSTOP) is given this long.
CONNECT_SECONDS = 30

# How long a refresh waits for the volume jobs of another task in the same pool (a clone or the
# preallocation of a large volume runs for minutes), and the longest pause between its tries.
POOL_JOBS_WAIT_SECONDS = 900.0
POOL_JOBS_MAX_PAUSE = 2.0


def _open_within(uri: str, seconds: float) -> Any:
    """libvirt.open(uri), or a LibvirtError when the daemon has not answered within ``seconds``.

    The open runs in a daemon thread: one that never returns is left behind, and ends with the task.
    """
    outcome: Dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["conn"] = libvirt.open(uri)
        except Exception as error:  # handed to the caller, which reports it as this URI's failure
            outcome["error"] = error

    worker = threading.Thread(target=connect, name="libvirt-connect", daemon=True)
    worker.start()
    worker.join(seconds)
    if "conn" in outcome:
        return outcome["conn"]
    error = outcome.get("error")
    if isinstance(error, libvirt.libvirtError):
        raise LibvirtError("connect to", uri, error.get_error_message(), error.get_error_code())
    if error is not None:
        raise LibvirtError("connect to", uri, str(error) or type(error).__name__)
    raise LibvirtError(
        "connect to",
        uri,
        "libvirtd did not answer within %d s (hung, stopped or overloaded); check the daemon and run the task again" % seconds,
    )


def _run_event_loop() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


@functools.lru_cache(maxsize=None)
def _start_event_loop() -> bool:
    """libvirt sends keepalives only from an event loop: one daemon thread per process runs it."""
    try:
        libvirt.virEventRegisterDefaultImpl()
    except libvirt.libvirtError:
        return False
    threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True).start()
    return True


class Client:
    """A lazily opened connection to one libvirt URI."""

    def __init__(self, uri: str, local: bool = False) -> None:
        self.uri = uri
        # Whether the host's files are this process's files (the module runs on the hypervisor).
        self.local = local
        self._conn: Any = None
        self._version: Optional[int] = None
        # Pools refreshed on this connection: a pool is refreshed at most once per run, and only
        # when a volume is missing from libvirt's list (its cost grows with the pool's volumes).
        self._refreshed: Set[str] = set()
        # Domain capabilities by (arch, virt type), read once per run: the KVM probe and the
        # checks of a guest's devices read the same document.
        self._domain_capabilities: Dict[Tuple[str, str, Optional[str]], Optional[str]] = {}
        # Why libvirt refused the domain capabilities of a key above (None: read, or no driver support).
        self._domain_capabilities_refusals: Dict[Tuple[str, str, Optional[str]], Optional[str]] = {}
        # The firmware those domain capabilities offer, parsed once (virt_preflight plans many guests).
        self._firmware_offers: Dict[Tuple[str, str, Optional[str]], Optional[FirmwareOffer]] = {}
        # The host's capabilities, read once per run (guest tuning and platforms), and their platforms parsed once.
        self._host_capabilities: Optional[str] = None
        self._host_platforms: Optional[HostPlatforms] = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            libvirt.registerErrorHandler(_quiet_error_handler, None)
            keepalive = _start_event_loop()
            self._conn = _open_within(self.uri, CONNECT_SECONDS)
            if keepalive:
                try:
                    self._conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
                except libvirt.libvirtError:
                    pass  # drivers without a daemon (test:///default) have nothing to keep alive
        return self._conn

    def reconnect(self) -> None:
        """Drop the connection; the next call opens a new one (after libvirtd restarted)."""
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass  # the connection is gone either way
            self._conn = None
            self._version = None
            self._refreshed = set()

    def call(self, operation: str, target: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run one libvirt call, turning its failure into a LibvirtError."""
        try:
            return function(*args)
        except libvirt.libvirtError as error:
            raise self._error(operation, target, error)
        except UnicodeDecodeError:
            raise not_utf8_error(operation, target)

    def _lookup(self, operation: str, target: str, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except libvirt.libvirtError as error:
            if _is_not_found_code(error.get_error_code()):
                return None
            raise self._error(operation, target, error)
        except UnicodeDecodeError:
            raise not_utf8_error(operation, target)

    def _error(self, operation: str, target: str, error: Any) -> LibvirtError:
        message = error.get_error_message()
        if self._conn is not None and not self._connection_alive():
            message += (
                "; libvirtd at %s stopped answering (restarted, stopped or hung): what was done so far is "
                "kept, check the daemon and run the task again" % self.uri
            )
        return LibvirtError(operation, target, message, error.get_error_code())

    def _connection_alive(self) -> bool:
        try:
            return self._conn.isAlive() == 1
        except libvirt.libvirtError:
            return False

    # -- host ---------------------------------------------------------------------------------
    def version(self) -> int:
        """The host's libvirt version, read once per connection (it cannot change while connected)."""
        if self._version is None:
            self._version = self.call("read version of", self.uri, self.conn.getLibVersion)
        return self._version

    def version_problem(self) -> Optional[str]:
        """Why the host's libvirt is too old for the collection, or None when it is recent enough."""
        version = self.version()
        if version >= MIN_LIBVIRT_VERSION:
            return None
        return "libvirt %s on %s is older than the supported minimum %s" % (
            version_text(version),
            self.uri,
            version_text(MIN_LIBVIRT_VERSION),
        )

    # -- pools --------------------------------------------------------------------------------
    def find_pool(self, name: str) -> Any:
        return self._lookup("look up pool", name, self.conn.storagePoolLookupByName, name)

    def pool_is_active(self, pool: Any) -> bool:
        return bool(self.call("read state of pool", pool.name(), pool.isActive))

    def pool_is_persistent(self, pool: Any) -> bool:
        return bool(self.call("read state of pool", pool.name(), pool.isPersistent))

    def describe_pool(self, pool: Any) -> Pool:
        return Pool.from_xml(self.call("read pool", pool.name(), pool.XMLDesc, 0))

    def refresh_pool(self, pool: Any) -> None:
        """Refresh ``pool`` after this run changed a volume's file. libvirt refuses a refresh while a
        volume job runs in the pool (another task's clone, build or preallocation): wait for it, as
        the work the refresh follows (a verified download, a renamed replacement) must not be undone
        because another task shares the pool."""
        deadline = time.monotonic() + POOL_JOBS_WAIT_SECONDS
        pause = 0.1
        while True:
            try:
                self.call("refresh pool", pool.name(), pool.refresh, 0)
                break
            except LibvirtError as error:
                if not _pool_jobs_running(error):
                    raise
                if time.monotonic() + pause > deadline:
                    waited = "%s (waited %d s for them to end)" % (error.message, POOL_JOBS_WAIT_SECONDS)
                    raise LibvirtError(error.operation, error.target, waited, error.code) from None
            time.sleep(pause)
            pause = min(pause * 2, POOL_JOBS_MAX_PAUSE)
        self._refreshed.add(pool.name())

    def refresh_pool_once(self, pool: Any) -> None:
        """Refresh ``pool`` unless this connection did already: see files that tools other than
        libvirt put there. A pool with a running volume job (another build or upload) refuses
        refresh; its volume list is still the one libvirt works with, so that is no failure."""
        if pool.name() not in self._refreshed:
            self.refresh_pool_unless_busy(pool)

    def refresh_pool_unless_busy(self, pool: Any) -> None:
        """Refresh ``pool`` now, unless a volume job runs in it: for what only reads, which takes
        libvirt's list as it is rather than wait (a busy pool is not asked again on this connection)."""
        try:
            self.call("refresh pool", pool.name(), pool.refresh, 0)
        except LibvirtError as error:
            if not _pool_jobs_running(error):
                raise
        self._refreshed.add(pool.name())

    def pool_definition(self, pool: Any) -> str:
        """The persistent definition of a pool (what a redefinition replaces), not its live state."""
        try:
            return pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
        except libvirt.libvirtError as error:
            # Drivers without persistent definitions (the test driver) refuse the flag; theirs is the live one.
            if error.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                raise self._error("read pool", pool.name(), error)
        return self.call("read pool", pool.name(), pool.XMLDesc, 0)

    def pool_autostart(self, pool: Any) -> bool:
        return bool(self.call("read autostart of pool", pool.name(), pool.autostart))

    def pool_capabilities(self) -> Optional[str]:
        """libvirt's storage pool capabilities XML, None where the driver offers none (libvirt < 5.2, test driver)."""
        try:
            return self.conn.getStoragePoolCapabilities(0)
        except (libvirt.libvirtError, AttributeError):
            return None

    def define_pool(self, xml: str) -> Any:
        return self.call("define pool", "definition", self.conn.storagePoolDefineXML, xml, 0)

    def build_pool(self, pool: Any, no_overwrite: bool) -> None:
        """Build the pool; ``no_overwrite`` (fs, logical) refuses a device that already holds a file
        system or a volume group. Directory pools take no flag (libvirt would try to format one)."""
        flags = libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE if no_overwrite else 0
        self.call("build pool", pool.name(), pool.build, flags)

    def start_pool(self, pool: Any) -> None:
        self.call("start pool", pool.name(), pool.create, 0)

    def stop_pool(self, pool: Any) -> None:
        self.call("stop pool", pool.name(), pool.destroy)

    def delete_pool_storage(self, pool: Any) -> None:
        """What building made (the directory, the volume group); the pool stays defined."""
        self.call("delete storage of pool", pool.name(), pool.delete, 0)

    def undefine_pool(self, pool: Any) -> None:
        self.call("undefine pool", pool.name(), pool.undefine)

    def set_pool_autostart(self, pool: Any, enable: bool) -> None:
        self.call("set autostart of pool", pool.name(), pool.setAutostart, 1 if enable else 0)

    def pool_volumes(self, pool: Any) -> List[Tuple[str, Optional[str]]]:
        """``(name, path)`` of every volume of an active pool, by name."""
        volumes = self.call("list volumes of pool", pool.name(), pool.listAllVolumes, 0)
        named = [(self.call("read name of a volume of pool", pool.name(), volume.name), volume) for volume in volumes]
        return sorted((name, self._lookup("read path of volume", name, volume.path)) for name, volume in named)

    def domains_using_pool(self, pool_name: str, paths: Iterable[str], target_path: Optional[str]) -> List[Tuple[str, bool]]:
        """``(name, running)`` of every defined or running guest with a disk in the pool: by pool
        name, by a volume's path, or by a path under the pool's target directory. Reads every
        guest's XML: only asked where the pool would be stopped or its volumes deleted."""
        wanted = {same_path(path) for path in paths if path}
        under = (same_path(target_path) or "").rstrip("/") + "/" if target_path else None
        users = []
        for domain in self.call("list guests on", self.uri, self.conn.listAllDomains, 0):
            xml = self._lookup("read guest", domain.name(), domain.XMLDesc, 0)
            if xml is None:
                continue
            for source in parse(xml).iterfind("devices/disk//source"):
                path = definition_path(source.get("file") or source.get("dev") or source.get("dir"))
                if source.get("pool") == pool_name or path in wanted or (under and path and (path + "/").startswith(under)):
                    users.append((domain.name(), self.domain_is_active(domain)))
                    break
        return sorted(users)

    # -- listings (the _info modules: one listing per task, each object then read once) ---------
    def all_domains(self) -> List[Any]:
        """Every defined or running guest, by name."""
        return sorted(self.call("list guests on", self.uri, self.conn.listAllDomains, 0), key=lambda domain: domain.name())

    def all_pools(self) -> List[Any]:
        """Every defined or active storage pool, by name."""
        return sorted(self.call("list pools on", self.uri, self.conn.listAllStoragePools, 0), key=lambda pool: pool.name())

    def all_networks(self) -> List[Any]:
        """Every defined or active network, by name."""
        return sorted(self.call("list networks on", self.uri, self.conn.listAllNetworks, 0), key=lambda network: network.name())

    def volumes_of(self, pool: Any, unreadable: Optional[List[str]] = None) -> List[Any]:
        """Every volume of an active pool, by name; none where the pool stopped or went meanwhile. A
        volume whose name is not UTF-8 (see not_utf8_error) is left out and, with ``unreadable``,
        told there."""
        named = []
        for volume in self._lookup("list volumes of pool", pool.name(), pool.listAllVolumes, 0) or ():
            try:
                named.append((volume.name(), volume))
            except UnicodeDecodeError:
                if unreadable is not None:
                    unreadable.append("pool %s: a volume whose name is not UTF-8 is left out (ls -b shows it)" % pool.name())
        return [volume for _name, volume in sorted(named, key=lambda pair: pair[0])]

    def volume_if_present(self, volume: Any) -> Optional[Volume]:
        """The volume as libvirt describes it, None when it was deleted meanwhile."""
        xml = self._lookup("read volume", volume.name(), volume.XMLDesc, 0)
        return None if xml is None else Volume.from_xml(xml)

    def domain_xml_if_present(self, domain: Any, stored: bool = False) -> Optional[str]:
        """The guest's XML as it runs now (its definition when it does not run; ``stored``: its
        definition), without secrets; None when it was undefined meanwhile."""
        return self._lookup("read guest", domain.name(), domain.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE if stored else 0)

    # -- volumes ------------------------------------------------------------------------------
    def find_volume(self, pool: Any, name: str) -> Any:
        """The volume ``name`` of ``pool``, None when the pool has none by that name.

        libvirt's list of a pool's volumes is as of its last refresh: a name missing from it
        refreshes the pool once and asks again (a file another tool put there). A volume libvirt
        lists is read afresh from its file by describe_volume, so a found one needs no refresh.
        """
        volume = self._lookup("look up volume", "%s/%s" % (pool.name(), name), pool.storageVolLookupByName, name)
        if volume is None and pool.name() not in self._refreshed and self._may_be_unlisted(pool, name):
            self.refresh_pool_once(pool)
            volume = self._lookup("look up volume", "%s/%s" % (pool.name(), name), pool.storageVolLookupByName, name)
        elif volume is not None and self._file_vanished(volume):
            # A file deleted behind libvirt's back (rm, another tool): libvirt still lists it until
            # the pool is refreshed, but can neither read nor replace it. The refresh drops it.
            self._refreshed.discard(pool.name())
            self.refresh_pool_once(pool)
            volume = self._lookup("look up volume", "%s/%s" % (pool.name(), name), pool.storageVolLookupByName, name)
        return volume

    def files_here(self) -> bool:
        """Whether pools' directories and volumes' files are on this host's file system: a local
        URI, except libvirt's test driver, which keeps its pools and volumes in memory."""
        return self.local and not self.uri.startswith("test:")

    def _file_vanished(self, volume: Any) -> bool:
        """Whether a listed volume's file is gone from its directory on this host (the directory
        itself still there: refreshing a pool whose directory went would stop the pool). Not for
        libvirt's test driver, whose volumes have no files."""
        if not self.files_here():
            return False
        path = self._lookup("read path of volume", volume.name(), volume.path)
        if not path or not os.path.isabs(path):
            return False
        return not os.path.lexists(path) and os.path.isdir(os.path.dirname(path))

    def missing_pool_directory(self, pool: Any) -> Optional[str]:
        """The target directory of a directory-like pool on this host when it no longer exists
        (deleted behind libvirt's back), else None. libvirt keeps such a pool active, but fails
        to create volumes in it and stops it on its next refresh."""
        if not self.files_here():
            return None
        directory = self.describe_pool(pool).directory
        return directory if directory and not os.path.isdir(directory) else None

    def _may_be_unlisted(self, pool: Any, name: str) -> bool:
        """Whether a refresh could list volume ``name``: always, except in a directory pool on this
        host without a file of that name (its volumes are its files)."""
        if not self.local or "/" in name:
            return True
        directory = self.describe_pool(pool).directory
        if not directory:
            return True
        if not os.path.isdir(directory):
            # Deleted behind libvirt's back: nothing to list, and a refresh would stop the pool.
            # (The test driver's directories are names only: its refresh stops nothing.)
            return not self.files_here()
        return os.path.lexists(os.path.join(directory, name))

    def describe_volume(self, volume: Any) -> Volume:
        return Volume.from_xml(self.call("read volume", volume.name(), volume.XMLDesc, 0))

    def create_volume(self, pool: Any, xml: str, flags: int = 0) -> Any:
        return self.call("create volume in pool", pool.name(), pool.createXML, xml, flags)

    def clone_volume(self, pool: Any, xml: str, source: Any, flags: int = 0) -> Any:
        return self.call("clone volume %s into pool" % source.name(), pool.name(), pool.createXMLFrom, xml, source, flags)

    def resize_volume(self, volume: Any, capacity: int, shrink: bool = False, allocate: bool = False) -> None:
        flags = libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK if shrink else 0
        if allocate:
            flags |= libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE
        self.call("resize volume", volume.name(), volume.resize, capacity, flags)

    def delete_volume(self, volume: Any) -> None:
        self.call("delete volume", volume.name(), volume.delete, 0)

    def upload_volume(self, volume: Any, chunks: Iterable[bytes], length: int) -> None:
        """Write ``chunks`` (``length`` bytes in all) to the start of ``volume``."""
        target = volume.name()
        stream = self.call("open stream for", target, self.conn.newStream, 0)
        self.call("start upload to volume", target, volume.upload, stream, 0, length, 0)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    sent = self.call("upload to volume", target, stream.send, view.tobytes())
                    view = view[sent:]
        except BaseException:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass  # the upload failed already; that error is the one to report
            raise
        self.call("finish upload to volume", target, stream.finish)

    def download_volume(self, volume: Any, chunk_size: int = 1 << 20, length: int = 0) -> Iterator[bytes]:
        """The volume's bytes (the first ``length``, or all for 0), read through libvirt (works for
        any pool type and remote URIs)."""
        target = volume.name()
        stream = self.call("open stream for", target, self.conn.newStream, 0)
        self.call("start download of volume", target, volume.download, stream, 0, length, 0)
        while True:
            data = self.call("download volume", target, stream.recv, chunk_size)
            if not data:
                break
            yield data
        self.call("finish download of volume", target, stream.finish)

    def volume_path_of(self, pool_name: str, volume_name: str) -> Optional[str]:
        """The path of volume ``volume_name`` of pool ``pool_name`` as libvirt lists it, or for an
        inactive directory pool (which lists none) the file of that name in its directory; None
        where there is none (no such pool or volume, a name libvirt-python cannot read)."""
        try:
            pool = self.find_pool(pool_name)
            if pool is None:
                return None
            if not self.pool_is_active(pool):
                directory = self.describe_pool(pool).directory
                return os.path.join(directory, volume_name) if directory and "/" not in volume_name else None
            volume = self._lookup("look up volume", volume_name, pool.storageVolLookupByName, volume_name)
            return self._lookup("read path of volume", volume_name, volume.path) if volume is not None else None
        except LibvirtError:
            return None

    def find_volume_by_path(self, path: str) -> Any:
        return self._lookup("look up volume by path", path, self.conn.storageVolLookupByPath, path)

    # -- networks -----------------------------------------------------------------------------
    def find_network(self, name: str) -> Any:
        return self._lookup("look up network", name, self.conn.networkLookupByName, name)

    def network_is_active(self, network: Any) -> bool:
        return bool(self.call("read state of network", network.name(), network.isActive))

    def network_is_persistent(self, network: Any) -> bool:
        return bool(self.call("read state of network", network.name(), network.isPersistent))

    def network_autostart(self, network: Any) -> bool:
        return bool(self.call("read autostart of network", network.name(), network.autostart))

    def network_definition(self, network: Any) -> str:
        """The persistent definition (what the network becomes on its next start)."""
        try:
            return network.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
        except libvirt.libvirtError as error:
            # Drivers without separate live and persistent definitions (the test driver) refuse the flag.
            if error.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise self._error("read network", network.name(), error)
        return self.call("read network", network.name(), network.XMLDesc, 0)

    def network_live_definition(self, network: Any) -> str:
        """The running network's definition (what it does now)."""
        return self.call("read network", network.name(), network.XMLDesc, 0)

    def networks_in_use(self) -> List[Tuple[str, str, bool, bool]]:
        """``(name, xml, active, autostart)`` of every network that is active or starts at boot: the
        ones whose addresses a network to start must not share. An active network's XML is its
        live one (the addresses in use); one gone meanwhile is left out."""
        found = []
        for network in self.call("list networks on", self.uri, self.conn.listAllNetworks, 0):
            name = network.name()
            active = bool(self._lookup("read state of network", name, network.isActive))
            autostart = bool(self._lookup("read autostart of network", name, network.autostart))
            if not (active or autostart):
                continue
            xml = self._lookup("read network", name, network.XMLDesc, 0)
            if xml is not None:
                found.append((name, xml, active, autostart))
        return sorted(found)

    def define_network(self, xml: str) -> Any:
        return self.call("define network", "definition", self.conn.networkDefineXML, xml)

    def undefine_network(self, network: Any) -> None:
        self.call("undefine network", network.name(), network.undefine)

    def start_network(self, network: Any) -> None:
        self.call("start network", network.name(), network.create)

    def destroy_network(self, network: Any) -> None:
        self.call("destroy network", network.name(), network.destroy)

    def set_network_autostart(self, network: Any, enable: bool) -> None:
        self.call("set autostart of network", network.name(), network.setAutostart, 1 if enable else 0)

    def update_network(
        self, network: Any, command: int, section: int, parent_index: int, xml: str, live: bool, config: bool = True
    ) -> None:
        """virsh net-update: change one DHCP host or range in the running network (``live``) and in
        the stored definition (``config``)."""
        flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG if config else 0
        if live:
            flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
        self.call("update network", network.name(), network.update, command, section, parent_index, xml, flags)

    def domains_on_network(self, name: str, bridge: Optional[str] = None) -> List[Tuple[str, bool]]:
        """``(guest, running)`` for every defined or running guest with a card on network ``name``,
        or plugged straight into its ``bridge`` (a card of type bridge on the bridge libvirt made).

        libvirt has no reverse index, so this reads every guest's XML: only runs that could
        disconnect guests (a restart, a stop, a deletion) ask.
        """
        users = []
        for domain in self.call("list guests on", self.uri, self.conn.listAllDomains, 0):
            xml = self._lookup("read guest", domain.name(), domain.XMLDesc, 0)
            if xml is None:
                continue  # gone meanwhile
            cards = parse(xml).iterfind("devices/interface")
            if any(_card_on_network(card, name, bridge) for card in cards):
                users.append((domain.name(), bool(self._lookup("read state of guest", domain.name(), domain.isActive))))
        return sorted(users)

    # -- domains ------------------------------------------------------------------------------
    def kvm_usable(self, arch: str) -> bool:
        """Whether the host's domain capabilities offer KVM for ``arch`` (one call, no listing)."""
        return self.domain_capabilities(arch, "kvm") is not None

    def domain_capabilities(self, arch: str, virt_type: str, machine: Optional[str] = None) -> Optional[str]:
        """``virsh domcapabilities`` for ``arch``, ``virt_type`` and ``machine`` (the default machine
        type when None); None when the host does not offer them (or its driver has none). Read once per run."""
        key = (arch, virt_type, machine)
        if key not in self._domain_capabilities:
            refusal = None
            try:
                xml = self.conn.getDomainCapabilities(None, arch, machine, virt_type, 0)
            except libvirt.libvirtError as error:
                xml = None
                if error.get_error_code() in _PLATFORM_REFUSALS:
                    refusal = error.get_error_message() or str(error)
            self._domain_capabilities[key] = xml
            self._domain_capabilities_refusals[key] = refusal
        return self._domain_capabilities[key]

    def domain_capabilities_refusal(self, arch: str, virt_type: str, machine: Optional[str] = None) -> Optional[str]:
        """libvirt's reason for refusing the domain capabilities of ``arch``, ``virt_type`` and
        ``machine`` (no emulator for the architecture, a machine type QEMU does not have, a
        virtualization type it does not run); None when it gave them, when its driver keeps none
        (the test driver), or when it failed for another reason. Read once per run."""
        self.domain_capabilities(arch, virt_type, machine)
        return self._domain_capabilities_refusals.get((arch, virt_type, machine))

    def firmware_offer(self, arch: str, virt_type: str, machine: Optional[str] = None) -> Optional[FirmwareOffer]:
        """The FirmwareOffer of the domain capabilities of ``arch``, ``virt_type`` and ``machine``;
        None when libvirt gives none. Parsed once per run."""
        key = (arch, virt_type, machine)
        if key not in self._firmware_offers:
            # Imported here: only new UEFI guests ask (import cost on every task).
            from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import firmware_offer

            xml = self.domain_capabilities(arch, virt_type, machine)
            self._firmware_offers[key] = firmware_offer(xml) if xml is not None else None
        return self._firmware_offers[key]

    def host_capabilities(self) -> str:
        """``virsh capabilities``: the host's CPU topology, NUMA cells, memory page sizes, the
        architectures, virtualization types and machine types it runs guests of, and the user QEMU
        runs as. Read once per run."""
        if self._host_capabilities is None:
            self._host_capabilities = self.call("read capabilities of", self.uri, self.conn.getCapabilities)
        return self._host_capabilities

    def host_platforms(self) -> HostPlatforms:
        """The HostPlatforms of the host's capabilities: the architectures, virtualization types
        and machine types it runs guests of. Parsed once per run."""
        if self._host_platforms is None:
            # Imported here: only new guests ask (import cost on every task).
            from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import host_platforms

            self._host_platforms = host_platforms(self.host_capabilities())
        return self._host_platforms

    def qemu_identity(self, virt_types: Tuple[str, ...]) -> Optional[Tuple[int, int]]:
        """The user and group QEMU runs guests of the first of ``virt_types`` as, from the host's
        capabilities (None when they do not say)."""
        # Imported here: only new installs that put files in boot_dir ask (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import qemu_identity

        return qemu_identity(self.host_capabilities(), virt_types)

    def emulator_path(self, arch: str, virt_type: str) -> Optional[str]:
        """The QEMU binary the domain capabilities name for ``arch`` and ``virt_type``, None when not offered."""
        xml = self.domain_capabilities(arch, virt_type)
        return parse(xml).findtext("path") if xml is not None else None

    def node_device_exists(self, name: str) -> Optional[bool]:
        """Whether the host has node device ``name`` (``pci_0000_03_00_0``); None where the driver
        keeps no node devices (the test driver's own list is fictional, so it answers too)."""
        try:
            self.conn.nodeDeviceLookupByName(name)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_NODE_DEVICE:
                return False
            if error.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                return None
            raise self._error("look up host device", name, error)
        return True

    def domain_definitions_of_all(self) -> List[Tuple[str, Any]]:
        """(name, parsed persistent definition) of every guest, running or not: one XML read per guest,
        so only runs that pass host devices through, or define a pool's directory, ask."""
        found = []
        for domain in self.call("list guests on", self.uri, self.conn.listAllDomains, 0):
            xml = self._lookup("read guest", domain.name(), domain.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
            if xml is not None:
                found.append((domain.name(), parse(xml)))
        return found

    def find_domain(self, name: str) -> Any:
        return self._lookup("look up guest", name, self.conn.lookupByName, name)

    def domain_definition(self, domain: Any) -> str:
        """The persistent definition, secrets included (graphics passwords are compared, never shown)."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        return self.call("read guest", domain.name(), domain.XMLDesc, flags)

    def domain_live_definition(self, domain: Any) -> str:
        """The definition the guest runs with now (its cdroms included), without secrets."""
        return self.call("read running guest", domain.name(), domain.XMLDesc, 0)

    def domain_live_definition_if_present(self, domain: Any) -> Optional[str]:
        """The guest's definition now; None when it went since its lookup (a transient guest that stopped)."""
        return self._lookup("read running guest", domain.name(), domain.XMLDesc, 0)

    def interface_addresses(self, domain: Any, source: int) -> Dict[str, Any]:
        """libvirt's addresses of the guest's cards from ``source`` (a VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* value)."""
        return self.call("read addresses of guest", domain.name(), domain.interfaceAddresses, source) or {}

    def domain_is_active(self, domain: Any) -> bool:
        return bool(self.call("read state of guest", domain.name(), domain.isActive))

    def domain_state(self, domain: Any) -> Tuple[str, str]:
        """The guest's state and libvirt's reason for it, as names: ("paused", "ioerror")."""
        state, reason = self.call("read state of guest", domain.name(), domain.state)
        state_name = _DOMAIN_STATES.get(state, "unknown")
        return state_name, _state_reasons(state_name).get(reason, "unknown")

    def domain_active_if_present(self, domain: Any) -> Optional[bool]:
        """Whether the guest runs; None when it went since its lookup (a transient guest that stopped)."""
        active = self._lookup("read state of guest", domain.name(), domain.isActive)
        return None if active is None else bool(active)

    def domain_power_if_present(self, domain: Any) -> Optional[Tuple[str, str, bool, bool]]:
        """The guest's state, libvirt's reason for it, whether it runs and whether it is defined;
        None when it went between its lookup and these reads (undefined, or a transient guest that
        stopped: another tool at work on the host)."""
        try:
            state_name, reason = self.domain_state(domain)
            return state_name, reason, self.domain_is_active(domain), self.domain_is_persistent(domain)
        except LibvirtError as error:
            if error.not_found:
                return None
            raise

    def domain_is_persistent(self, domain: Any) -> bool:
        return bool(self.call("read state of guest", domain.name(), domain.isPersistent))

    def domain_autostart(self, domain: Any) -> bool:
        return bool(self.call("read autostart of guest", domain.name(), domain.autostart))

    def set_domain_autostart(self, domain: Any, enable: bool) -> None:
        self.call("set autostart of guest", domain.name(), domain.setAutostart, 1 if enable else 0)

    def start_transient_domain(self, xml: str) -> Any:
        return self.call("start guest from", "install definition", self.conn.createXML, xml, libvirt.VIR_DOMAIN_START_VALIDATE)

    def set_stored_metadata(self, domain: Any, namespace: str, prefix: str, element: str) -> None:
        """Put ``element`` (XML) as the element of ``namespace`` in the <metadata> of the guest's stored
        definition, replacing the one there."""
        self._set_metadata("stored", domain, namespace, prefix, element, libvirt.VIR_DOMAIN_AFFECT_CONFIG)

    def set_live_metadata(self, domain: Any, namespace: str, prefix: str, element: str) -> None:
        """Put ``element`` (XML) as the element of ``namespace`` in the <metadata> of the running guest
        only: libvirt drops it when the guest stops."""
        self._set_metadata("live", domain, namespace, prefix, element, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def remove_stored_metadata(self, domain: Any, namespace: str) -> None:
        """Remove the element of ``namespace`` from the <metadata> of the guest's stored definition."""
        self._set_metadata("stored", domain, namespace, None, None, libvirt.VIR_DOMAIN_AFFECT_CONFIG)

    def _set_metadata(
        self, which: str, domain: Any, namespace: str, prefix: Optional[str], element: Optional[str], flags: int
    ) -> None:
        self.call(
            "change the %s metadata of" % which,
            domain.name(),
            domain.setMetadata,
            libvirt.VIR_DOMAIN_METADATA_ELEMENT,
            element,
            prefix,
            namespace,
            flags,
        )

    def has_managed_save(self, domain: Any) -> bool:
        """Whether the guest was saved (virsh managedsave): its next start restores it."""
        return bool(self.call("read the saved state of guest", domain.name(), domain.hasManagedSaveImage, 0))

    def managed_save_definition(self, domain: Any) -> Optional[str]:
        """The definition the saved guest is restored with; None when there is none or libvirt cannot tell."""
        try:
            return str(self.call("read the saved definition of guest", domain.name(), domain.managedSaveGetXMLDesc, 0))
        except LibvirtError:
            return None

    def define_domain(self, xml: str) -> Any:
        return self.call("define guest", "definition", self.conn.defineXMLFlags, xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)

    def start_domain(self, domain: Any, paused: bool = False) -> None:
        if paused:
            self.call("start guest", domain.name(), domain.createWithFlags, libvirt.VIR_DOMAIN_START_PAUSED)
            return
        self.call("start guest", domain.name(), domain.create)

    def shutdown_domain(self, domain: Any) -> None:
        """Ask the guest's OS to power off (ACPI, or the agent where the guest is set up for it);
        returns at once, the guest shuts down in its own time or not at all."""
        self.call("shut down guest", domain.name(), domain.shutdown)

    def suspend_domain(self, domain: Any) -> None:
        self.call("pause guest", domain.name(), domain.suspend)

    def resume_domain(self, domain: Any) -> None:
        self.call("resume guest", domain.name(), domain.resume)

    def destroy_domain(self, domain: Any) -> None:
        self.call("destroy guest", domain.name(), domain.destroy)

    def undefine_domain(self, domain: Any) -> None:
        """Undefine with its NVRAM file, managed save image and snapshot metadata."""
        flags = (
            libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
            | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        )
        try:
            domain.undefineFlags(flags)
        except libvirt.libvirtError as error:
            # Drivers without NVRAM or snapshots (the test driver) refuse those flags; they have
            # nothing to leave behind, so a plain undefine is complete there.
            if error.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                raise LibvirtError("undefine guest", domain.name(), error.get_error_message(), error.get_error_code())
            self.call("undefine guest", domain.name(), domain.undefine)

    def guest_names(self) -> List[Tuple[str, bool]]:
        """(name, whether it runs) of every guest on the host, defined or running, as of one moment:
        one listing of all of them. Two listings (running, then defined) would miss a guest that
        started or stopped between them, and with it the disks it uses. A guest's id comes with the
        listing (no call per guest); only a running guest has one."""
        domains = self.call("list guests on", self.uri, self.conn.listAllDomains, 0)
        return [(domain.name(), domain.ID() != -1) for domain in domains]

    def domain_definitions(self, name: str, active: bool) -> List[Any]:
        """The guest's definitions, parsed: the persistent one, and the live one of a running guest
        (its disks' backing chains, media changed since it started). Empty when the guest is gone."""
        domain = self.find_domain(name)
        if domain is None:
            return []
        flags = (0, libvirt.VIR_DOMAIN_XML_INACTIVE) if active else (libvirt.VIR_DOMAIN_XML_INACTIVE,)
        texts = [self._lookup("read guest", name, domain.XMLDesc, flag) for flag in flags]
        return [parse(text) for text in texts if text is not None]

    def active_pools(self) -> List[Any]:
        return self.call("list pools on", self.uri, self.conn.listAllStoragePools, libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)

    def volumes_backed_within(
        self, pool: Any, is_wanted: Callable[[str], bool], names: Optional[Iterable[str]] = None
    ) -> List[str]:
        """Names of the volumes of ``pool`` (of ``names`` only, when given) whose backing file is a
        path (as same_path writes it) for which ``is_wanted`` holds, as libvirt reads their headers
        (one call per volume)."""
        if names is None:
            volumes = self._lookup("list volumes of pool", pool.name(), pool.listAllVolumes, 0) or ()
        else:
            volumes = [volume for volume in (self.find_volume(pool, name) for name in names) if volume is not None]
        dependents = []
        here = None
        for volume in volumes:
            name = self.call("read name of a volume of pool", pool.name(), volume.name)
            xml = self._lookup("read volume", name, volume.XMLDesc, 0)
            described = Volume.from_xml(xml) if xml is not None else None
            backing = same_path(described.backing_path) if described is not None else None
            if backing is None or not is_wanted(backing):
                continue
            here = self.files_here() if here is None else here
            if here and described is not None and described.path and made_plain(described.path):
                continue  # made raw or iso: the header libvirt read is its guest's data, naming nothing
            dependents.append(name)
        return dependents


def _card_on_network(card: Any, network: str, bridge: Optional[str]) -> bool:
    source = card.find("source")
    if source is None:
        return False
    if card.get("type") == "network":
        return source.get("network") == network
    return bool(bridge) and card.get("type") == "bridge" and source.get("bridge") == bridge

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module's run shares, whatever it manages: a version-checked connection, host locks
of what it changes, applying a plan with the host log, and the host facts several runners read
(local URI, active pools, networks and bridges, backing files)."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError, Verb, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse


@contextlib.contextmanager
def connected(uri: str) -> Iterator[Client]:
    """A connection to ``uri`` whose libvirt is recent enough, closed when the run ends."""
    client = Client(uri, local=is_local_uri(uri))
    try:
        too_old = client.version_problem()
        if too_old:
            raise PlanError(too_old)
        yield client
    finally:
        client.close()


def apply_plan(
    client: Client,
    plan: Plan,
    params: Mapping[str, Any],
    verbs: Mapping[str, Verb],
    make_handlers: Callable[[Any], Mapping[str, Any]],
) -> None:
    """Carry out ``plan`` with the handlers ``make_handlers(audit)`` gives for ``verbs``, each action
    logged on the host; a failed action raises RunError that says whether the host was left changed."""
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
    from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import ExecutionError, Executor

    audit = AuditLog(params.get("log_facility") or "user", context=client.uri)
    try:
        Executor(make_handlers(audit), verbs, audit).apply(plan)
    except ExecutionError as error:
        raise RunError(str(error), plan, changed=error.left_changes)


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names the libvirt of the host the module runs on (no host part).

    The ``ext`` transport has no host part either, but its ``?command=`` may reach any host (an
    ssh wrapper, a tunnel): its daemon's files are not known to be here, so it counts as remote."""
    scheme, _sep, rest = uri.partition("://")
    if scheme.partition("+")[2].lower() == "ext":
        return False
    return not rest.split("/", 1)[0]


def open_pool(client: Client, name: str) -> Any:
    """The active pool ``name``; refuses unknown and inactive pools. It is refreshed only when a
    volume is missing from libvirt's list (Client.find_volume) or its free space is needed from a
    remote host (pool_space): a refresh reads every volume of the pool."""
    pool = client.find_pool(name)
    if pool is None:
        raise PlanError(
            "storage pool %r does not exist on %s; define it first (%s)" % (name, client.uri, virsh(client.uri, "pool-define-as"))
        )
    if not client.pool_is_active(pool):
        raise PlanError(
            "storage pool %r on %s is not active; start it first: %s" % (name, client.uri, virsh(client.uri, "pool-start", name))
        )
    missing = client.missing_pool_directory(pool)
    if missing is not None:
        raise PlanError(
            "storage pool %r on %s is active but its directory %s no longer exists (deleted behind libvirt's "
            "back): recreate it (install -d %s) or stop the pool (%s)"
            % (name, client.uri, missing, shell(missing), virsh(client.uri, "pool-destroy", name))
        )
    return pool


def network_problem(client: Client, name: str, on_host: bool = False) -> Optional[str]:
    """Why a guest's card cannot join libvirt network ``name`` on the host of ``client`` (missing, or
    not started, or, asked ``on_host``, in ``bridge`` forward mode over a host bridge that is gone),
    with what helps; None when it can."""
    network = client.find_network(name)
    if network is None:
        return "libvirt network %r does not exist on %s (%s)" % (name, client.uri, virsh(client.uri, "net-list", "--all"))
    if not client.network_is_active(network):
        return "libvirt network %r is not active; start it first: %s" % (name, virsh(client.uri, "net-start", name))
    if on_host:
        definition = parse(client.network_live_definition(network))
        forward, bridge = definition.find("forward"), definition.find("bridge")
        if forward is not None and forward.get("mode") == "bridge" and bridge is not None and bridge.get("name"):
            # The network's own virtual port, or a port group's.
            ovs = definition.find(".//virtualport[@type='openvswitch']") is not None
            problem = bridge_problem(bridge.get("name"), open_vswitch=ovs)
            if problem:
                return "libvirt network %r forwards to host bridge %s, which does not exist on the host" % (
                    name,
                    bridge.get("name"),
                )
    return None


def device_problem(name: str) -> Optional[str]:
    """Why a guest's card cannot attach to host network device ``name`` (``type='direct'``); None
    when the host has it. Asked only where the module runs on the hypervisor."""
    if "/" in name or name in (".", "..") or not os.path.exists("/sys/class/net/%s" % name):
        return "network device %s does not exist on the host" % name
    return None


def bridge_problem(name: str, open_vswitch: bool = False) -> Optional[str]:
    """Why a guest's card cannot join host bridge ``name``; None when the bridge is there. An Open
    vSwitch bridge (``open_vswitch``: the card or network has its virtual port) is a network device,
    not a Linux bridge. Only the host's own view of /sys can tell, so ask only where the module runs
    on the hypervisor."""
    if open_vswitch:
        return device_problem(name)
    if "/" in name or name in (".", "..") or not os.path.isdir("/sys/class/net/%s/bridge" % name):
        return "bridge %s does not exist on the host" % name
    return None


def image_reader(client: Client) -> Optional[Any]:
    """Reads which files a file disk names in its header (its backing file and its data file, see
    image_header.named_files), where the files are on this host."""
    if not is_local_uri(client.uri):
        return None
    # Imported here: only deletions and new disks follow backing chains (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.image_header import named_files

    return named_files


# How long a run waits for another run that changes the same volume (a download can take long).
VOLUME_LOCK_SECONDS = 3600


def volume_key(pool: str, name: str) -> str:
    return "volume %s/%s" % (pool, name)


def file_key(identity: Tuple[int, int]) -> str:
    """The lock of a file on this host by its (device, inode), whatever name reaches it. Keys sort
    file < guest < volume, and a run that holds some takes more only of a later kind, so two runs
    never wait for each other in a circle."""
    return "file %d:%d" % identity


def file_key_at(path: Optional[str]) -> Optional[str]:
    """file_key of the file at ``path`` on this host (through links); None where there is none."""
    try:
        info = os.stat(path) if path else None
    except (OSError, ValueError):
        return None
    return file_key((info.st_dev, info.st_ino)) if info is not None else None


@contextlib.contextmanager
def changing(uri: str, keys: List[str], timeout: float, check_mode: bool) -> Iterator[None]:
    """Hold this host's locks of the objects a real run may change. Check mode changes nothing: it
    refuses where the real run could not take its locks, and waits, as the real run would, for a run
    that holds them (it would otherwise plan from what that run has half made), holding none itself."""
    # Imported here: only runs that may change something take locks (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import locks

    named = ["%s %s" % (lock_uri(uri), key) for key in keys]
    if check_mode:
        problem = locks.lock_directory_problem()
        if problem:
            raise locks.LockError(problem)
        locks.wait_turn(named, timeout)
        yield
        return
    with locks.held(named, timeout):
        yield


def lock_uri(uri: str) -> str:
    """The daemon a URI reaches, for lock keys: 'qemu+unix:///system?socket=...' and 'QEMU:///system'
    are the same libvirtd as 'qemu:///system' (transport and query do not change which daemon)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    authority, _slash, path = rest.partition("/")
    path = path.split("?", 1)[0].rstrip("/")
    host = authority.rsplit("@", 1)[-1].lower()
    host, port = _host_and_port(host)
    # 'qemu+ssh://hv1/system', 'qemu+ssh://root@hv1:22/system' and 'qemu+tls://hv1:16514/system'
    # reach one daemon; another port may be another daemon (a forwarded one), so it stays.
    if port and port != _DEFAULT_PORTS.get(scheme.partition("+")[2].lower() or "tls"):
        host = "%s:%s" % (host, port)
    return "%s://%s/%s" % (scheme.split("+", 1)[0].lower(), host, path)


# The port libvirt uses for each network transport when the URI names none.
_DEFAULT_PORTS = {"ssh": "22", "libssh": "22", "libssh2": "22", "tls": "16514", "tcp": "16509"}


def _host_and_port(authority: str) -> Tuple[str, str]:
    """'hv1:22' -> ('hv1', '22'); 'hv1:022' -> ('hv1', '22'); '[fe80::1]:22' -> ('[fe80::1]', '22'); 'hv1' -> ('hv1', '')."""
    host, colon, port = authority.rpartition(":")
    if not colon or host.endswith(":") or (authority.startswith("[") and not host.endswith("]")):
        return authority, ""
    # 'hv1:022' is port 22 to libvirt, as to any URI parser.
    number = whole_number(port)
    return host, str(number) if number is not None else port

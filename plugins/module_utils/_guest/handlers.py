# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying guest actions: the handlers for virt_guest_install's plan verbs.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files
from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo, Unfinished
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import FORMAT_XATTR
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import own_directory_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils._guest import initrd, install_tree
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    AUTOSTART,
    DEFINE,
    DESTROY,
    FETCH,
    INSTALL,
    REMOVE,
    SEED,
    START,
    UNDEFINE,
    WAIT,
    AutostartPayload,
    DefinePayload,
    FetchPayload,
    FilePayload,
    InstallPayload,
    Kickstart,
    Reachable,
    SeedPayload,
    WaitPayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import carry_macs
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import KICKSTART_LIMIT
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.boot_mark import (
    log_position,
    mark_boot,
    with_boot_mark,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
    mark_started_from,
    without_mark,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain, patch_definition
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import (
    INSTALL_NAMESPACE,
    INSTALL_PREFIX,
    forget_install_mark,
    install_mark_element,
    install_pending_since,
    never_installed_problem,
    qemu_log_directory,
    serial_log_path,
    with_install_pending,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers

WAIT_POLL_SECONDS = 1.0
WAIT_PROGRESS_SECONDS = 60.0


class GuestHandlers:
    """Handlers for the guest verbs (and the volume verbs of its disks); creating handlers return
    an undo. Each reads only its action's payload (see ``actions.VERBS``)."""

    def __init__(self, client: Client, audit: AuditLog, validate_certs: bool) -> None:
        self.client = client
        self.audit = audit
        self.validate_certs = validate_certs

    def as_mapping(self) -> Dict[str, Handler]:
        handlers = VolumeHandlers(self.client, self.validate_certs).as_mapping()
        handlers.update(
            {
                FETCH: self.fetch,
                SEED: self.seed,
                INSTALL: self.install,
                DEFINE: self.define,
                AUTOSTART: self.autostart,
                WAIT: self.wait,
                START: self.start,
                DESTROY: self.destroy,
                UNDEFINE: self.undefine,
                REMOVE: self.remove,
            }
        )
        return handlers

    def _domain(self, name: str) -> Any:
        domain = self.client.find_domain(name)
        if domain is None:
            raise LibvirtError("look up guest", name, "guest disappeared")
        return domain

    def fetch(self, action: Action) -> Optional[Undo]:
        """Fetch kernel or initrd into a private directory under boot_dir, then rename it into place.

        The private directory (0700, a unique name) keeps the file unseen and unswappable while
        it is written; it goes away with whatever is in it on every failure, so nothing half-made
        stays under boot_dir. An initrd that carries a kickstart stays 0600, as does the copy of a
        host file others may not read: libvirt gives it to the QEMU user when the guest starts
        (dynamic_ownership), and nobody else may read it.
        """
        payload: FetchPayload = action.payload
        source, target = payload.source, payload.target
        boot_dir = os.path.dirname(target)
        _make_boot_dir(boot_dir)
        private = _private_directory(target)
        try:
            partial = os.path.join(private, os.path.basename(target))
            access = download.UrlAccess(validate_certs=self.validate_certs, username=payload.username, password=payload.password)
            public = _copy_source(source, partial, access, _boot_file_check(payload))
            if payload.inject_name and payload.kickstart is not None:
                initrd.append_file(partial, payload.inject_name, self._kickstart(payload.kickstart))
            os.chmod(partial, 0o644 if public and not payload.inject_name else 0o600)
            os.replace(partial, target)
        finally:
            shutil.rmtree(private, ignore_errors=True)
        return lambda: _remove(target)

    def seed(self, action: Action) -> Optional[Undo]:
        """Write the cloud-init seed ISO as fetch writes a kernel: in a private directory under
        boot_dir, mode 0600 (libvirt gives it to the QEMU user when the guest starts), renamed into
        place when complete."""
        payload: SeedPayload = action.payload
        target = payload.path
        boot_dir = os.path.dirname(target)
        _make_boot_dir(boot_dir)
        private = _private_directory(target)
        try:
            partial = os.path.join(private, os.path.basename(target))
            with os.fdopen(_create_private(partial), "wb") as out:
                out.write(payload.image)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            shutil.rmtree(private, ignore_errors=True)
        return lambda: _remove(target)

    def _kickstart(self, kickstart: Kickstart) -> bytes:
        if kickstart.content is not None:
            return kickstart.content.encode("utf-8")
        if kickstart.url is not None:
            access = download.UrlAccess(validate_certs=self.validate_certs)
            return b"".join(download.stream(kickstart.url, hashlib.sha256(), access, limit=KICKSTART_LIMIT))
        if kickstart.path is None:  # the planner fills in one of content, url and path
            raise ValueError("the kickstart has no content, url or path")
        return _read_kickstart_file(kickstart.path)

    def install(self, action: Action) -> Optional[Undo]:
        payload: InstallPayload = action.payload
        stored = self._domain(payload.guest)
        stored_xml = self.client.domain_definition(stored)
        definition = _as_stored_guest(payload.domain, Domain.from_xml(stored_xml))
        log = payload.domain.serial_log.path if payload.domain.serial_log is not None else None
        started = int(time.time())
        # An installer ends the guest (its definition ends on reboot); a first boot with cloud-init is
        # the guest's life from then on, whose later stops say nothing of an install.
        installer = definition.on_reboot == "destroy"
        if installer:
            # Marked before QEMU starts: whenever a run stops from here on, the guest's QEMU log tells a
            # later run whether the installer ended the guest or something else did (see install_mark).
            self._mark_install(stored, install_pending_since(stored_xml), started)
        xml = definition.to_xml()
        position = log_position(log) if self.client.local else None
        if position is not None:
            xml = with_boot_mark(xml, position)  # live only: the install definition is not stored
        with self._log_removed_if_start_fails(payload.guest, log):
            domain = self.client.start_transient_domain(xml)
        # Started: the stored definition no longer says the install never began (see define).
        if installer:
            self._mark_install(stored, None, started)
        else:
            self.client.remove_stored_metadata(stored, INSTALL_NAMESPACE)
        # QEMU read the fetched kernel and initrd when it started; the copies are not needed any more.
        for path in payload.fetched:
            _remove(path)
        return lambda: self.client.destroy_domain(domain)

    def _mark_install(self, domain: Any, pending_since: Optional[int], started: int) -> None:
        self.client.set_stored_metadata(domain, INSTALL_NAMESPACE, INSTALL_PREFIX, install_mark_element(pending_since, started))

    def define(self, action: Action) -> Optional[Undo]:
        payload: DefinePayload = action.payload
        previous_xml = payload.previous_xml
        if payload.new:
            xml = payload.domain.to_xml()
            # Stored in the same call as the definition: a run stopped before the install starts
            # leaves a guest that says it was never installed (see runner.pending_install).
            domain = self.client.define_domain(with_install_pending(xml, int(time.time())) if payload.installs else xml)
            _record_formats(payload.records)
            if previous_xml is None:
                return lambda: self.client.undefine_domain(domain)
        else:
            # A changed guest (not new) exists: the planner passes what it read of it, as XML and as read.
            if previous_xml is None or payload.previous is None:
                raise ValueError("guest %s: the change has no previous definition to apply it to" % payload.guest)
            if payload.mark is not None:
                mark_started_from(self.client, self._domain(payload.guest), payload.mark, self.audit)
            self.client.define_domain(without_mark(patch_definition(previous_xml, payload.previous, payload.domain)))
        _record_formats(payload.records)
        return lambda: self.client.define_domain(previous_xml)

    def autostart(self, action: Action) -> Optional[Undo]:
        payload: AutostartPayload = action.payload
        self.client.set_domain_autostart(self._domain(payload.guest), payload.enable)
        return None

    def wait(self, action: Action) -> Optional[Undo]:
        payload: WaitPayload = action.payload
        if payload.reachable is not None:
            return self._wait_reachable(payload.guest, payload.timeout, payload.reachable)
        timeout, name = payload.timeout, payload.guest
        started = time.monotonic()
        next_report = started + WAIT_PROGRESS_SECONDS
        while True:
            state = self._install_state(name)
            if state is not None and _install_ended(name, *state):
                self._refuse_unfinished_install(name)
                # Seen to end as an installer ends: installed, whatever its log says later (rotated, cut).
                forget_install_mark(self.client, self._domain(name))
                return None
            now = time.monotonic()
            if now - started >= timeout:
                raise Unfinished(
                    "install of %s still running after %d s; it goes on, and a later run with "
                    "state: running starts the installed guest once it has powered off" % (name, timeout)
                )
            if now >= next_report:
                shown = "%s (%s)" % state if state else "unknown: libvirt not reachable"
                self.audit.progress("install of %s running for %d s, state %s" % (name, now - started, shown))
                next_report = now + WAIT_PROGRESS_SECONDS
            time.sleep(WAIT_POLL_SECONDS)

    def _refuse_unfinished_install(self, name: str) -> None:
        """Raises when the guest's QEMU log shows that its installer did not end it (libvirt's reason
        for the stop says no more than unknown after libvirtd restarted during the wait)."""
        xml = self.client.domain_definition(self._domain(name))
        problem = never_installed_problem(name, xml, self.client.local, qemu_log_directory(self.client.uri))
        if problem:
            raise LibvirtError("wait for guest", name, problem)

    def _wait_reachable(self, name: str, timeout: int, reachable: Reachable) -> Optional[Undo]:
        """Poll until the running guest has an address, its marker and its open port, or fail
        after ``timeout`` seconds (the guest goes on running: nothing is rolled back)."""
        # Imported here: only runs that wait for a guest read its addresses (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable as probe

        started = time.monotonic()
        deadline = started + timeout
        next_report = started + WAIT_PROGRESS_SECONDS
        while True:
            missing = self._unreachable(name, reachable, probe, deadline)
            if not missing:
                return None
            now = time.monotonic()
            if now >= deadline:
                raise Unfinished(
                    "guest %s is running but not reachable after %d s: %s; it goes on running, and a "
                    "re-run waits for it again" % (name, timeout, "; ".join(missing))
                )
            if now >= next_report:
                self.audit.progress("waiting %d s for guest %s: %s" % (now - started, name, "; ".join(missing)))
                next_report = now + WAIT_PROGRESS_SECONDS
            time.sleep(min(WAIT_POLL_SECONDS, deadline - now))

    def _unreachable(self, name: str, reachable: Reachable, probe: Any, deadline: float) -> List[str]:
        """What the guest does not show yet; raises when it stopped (it will not show it any more)."""
        domain = self._domain(name)
        state, reason = self.client.domain_state(domain)
        if state != "running":
            raise LibvirtError(
                "wait for guest",
                name,
                "the guest is %s (reason: %s) instead of running; see its serial log %s" % (state, reason, reachable.serial_log),
            )
        return probe.missing_signs(self.client, domain, reachable, deadline)[0]

    def _install_state(self, name: str) -> Optional[Tuple[str, str]]:
        """The guest's (state, reason), or None while libvirt cannot be reached.

        QEMU runs the install on its own while libvirtd restarts: the wait reconnects and goes on
        instead of failing on the first lost call.
        """
        try:
            domain = self.client.find_domain(name)
            if domain is None:
                raise LibvirtError("wait for guest", name, "guest disappeared during the install")
            return self.client.domain_state(domain)
        except LibvirtError as error:
            if error.operation == "wait for guest":
                raise
            self.client.reconnect()
            return None

    def start(self, action: Action) -> Optional[Undo]:
        domain = self._domain(action.payload.guest)
        log = self._stored_serial_log(domain)
        position = log_position(log)
        with self._log_removed_if_start_fails(action.payload.guest, log):
            self.client.start_domain(domain)
        mark_boot(self.client, domain, position, self.audit)
        forget_install_mark(self.client, domain)
        return None

    def _stored_serial_log(self, domain: Any) -> Optional[str]:
        """The stored guest's serial log, where its files are this host's (None elsewhere): read as
        virt_guest_state's start and a re-run's wait read it (a file serial port, or a ``<log file>``)."""
        return serial_log_path(self.client.domain_definition(domain)) if self.client.local else None

    @contextlib.contextmanager
    def _log_removed_if_start_fails(self, name: str, path: Optional[str]) -> Iterator[None]:
        """libvirt makes the guest's serial log before QEMU runs, and keeps it when the start fails:
        one this start made (none was at ``path`` before) goes with the failure, unless the guest
        runs after all (a call cut off after libvirt started it); one there before stays."""
        made_here = path is not None and self.client.files_here() and not os.path.lexists(path)
        try:
            yield
        except Exception:
            if made_here and path is not None and self._surely_stopped(name):
                _remove_made_log(path)
            raise

    def _surely_stopped(self, name: str) -> bool:
        """Whether guest ``name`` is known not to run (False when libvirt cannot tell)."""
        try:
            domain = self.client.find_domain(name)
            return domain is None or not self.client.domain_active_if_present(domain)
        except LibvirtError:
            return False

    def destroy(self, action: Action) -> Optional[Undo]:
        domain = self.client.find_domain(action.payload.guest)
        # Already stopped or gone (another run, or the guest powered off meanwhile): done.
        if domain is not None and self.client.domain_active_if_present(domain):
            self.client.destroy_domain(domain)
        return None

    def undefine(self, action: Action) -> Optional[Undo]:
        domain = self.client.find_domain(action.payload.guest)
        if domain is not None and self.client.domain_is_persistent(domain):
            self.client.undefine_domain(domain)
        return None

    def remove(self, action: Action) -> Optional[Undo]:
        """Remove a file the guest left (its serial log): only a regular file, never through a link."""
        payload: FilePayload = action.payload
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(payload.path).st_mode):
                os.remove(payload.path)
        return None


def _remove_made_log(path: str) -> None:
    """Remove the serial log a failed start made: a regular file only, never through a link."""
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.remove(path)


# Paused or stopped for these reasons, an install does not go on by itself (KVM listed but not
# usable pauses a guest at once with reason "unknown").
# None: stuck whatever the reason.
_STUCK: Dict[str, Optional[Tuple[str, ...]]] = {
    "paused": ("unknown", "ioerror", "watchdog", "crashed", "postcopy failed"),
    # Destroyed: something other than the installer ended it (the installer's own end, a power-off
    # or a reboot under on_reboot=destroy, is libvirt's reason shutdown); saved: a start resumes it.
    "shut off": ("destroyed", "crashed", "failed", "saved"),
    "crashed": None,
}


def _as_stored_guest(install: Domain, stored: Domain) -> Domain:
    """The install definition with the stored guest's UUID (so it starts as that guest) and its
    MACs (the installed system knows its cards by them)."""
    return install.with_changes(uuid=stored.uuid, interfaces=carry_macs(install.interfaces, stored.interfaces))


def _install_ended(name: str, state: str, reason: str) -> bool:
    """True when the install powered the guest off; raises when it cannot finish by itself."""
    stuck_reasons = _STUCK.get(state, ())
    if stuck_reasons is None or reason in stuck_reasons:
        raise LibvirtError(
            "wait for guest",
            name,
            "the install stopped: the guest is %s (reason: %s) before its installer powered it off, so its disk "
            "holds an unfinished install (re-run with reinstall: true); see /var/log/libvirt/qemu/%s.log on the host. "
            "A guest of domain_type kvm that pauses at once means the host lists KVM but cannot run it: reinstall "
            "with domain_type: qemu" % (state, reason, name),
        )
    return state == "shut off"


def _make_boot_dir(path: str) -> None:
    """boot_dir, made 0711 when missing (QEMU's user may enter it, not list it), its missing
    parents 0755 whatever the umask. One that exists now is checked again as the plan checked it:
    another user may have made it since (check_boot_dir found it missing)."""
    missing = []
    directory = path
    while not os.path.lexists(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for made in reversed(missing):
        mode = 0o711 if made == path else 0o755
        try:
            os.mkdir(made, mode)
        except FileExistsError:
            continue  # made by someone else meanwhile: judged below (boot_dir) or as any parent is
        os.chmod(made, mode)  # mkdir's mode passes through the umask
        _drop_inherited_acl(made)
    problem = own_directory_problem(path, "install.boot_dir")
    if problem:
        raise RemotevirtError(problem)


def _drop_inherited_acl(directory: str) -> None:
    """Make the mode bits what counts for a directory the run made, and for the files written in
    it: one made under a parent with a default access control list inherits its entries (one that
    keeps QEMU's group out, or a default that gives the files' owner nothing), which chmod leaves in
    place and the plan, judging the missing directory by its mode, did not see."""
    for inherited in ("system.posix_acl_access", "system.posix_acl_default"):
        try:
            os.removexattr(directory, inherited)
        except OSError:
            pass  # none inherited, or a file system without access control lists


# The characters of the random part of a name tempfile.mkdtemp makes.
_MKDTEMP_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _private_directory(target: str) -> str:
    """A new private directory (0700) beside ``target`` to write it in, after removing the ones a
    run killed while writing it left behind (a dropped SSH link, a killed task). Their names are
    this guest's own, and runs of one guest hold its lock: none of them is another run's."""
    directory, name = os.path.split(target)
    prefix = ".%s." % name
    with os.scandir(directory) as entries:
        stale = [entry.path for entry in entries if _is_left_behind(entry, prefix)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    private = tempfile.mkdtemp(prefix=prefix, dir=directory)
    _drop_inherited_acl(private)  # the files written in it get the modes the run gives them
    return private


def _is_left_behind(entry: "os.DirEntry[str]", prefix: str) -> bool:
    """Whether ``entry`` is a private directory tempfile.mkdtemp made for ``prefix`` (8 random
    characters after it), this user's and not a link."""
    suffix = entry.name[len(prefix) :]
    if not entry.name.startswith(prefix) or len(suffix) != 8 or not set(suffix) <= _MKDTEMP_CHARACTERS:
        return False
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _create_private(path: str) -> int:
    """A new file only this user can read, refusing to follow or reuse anything already there."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)


def _read_kickstart_file(path: str) -> bytes:
    """The host file ``path`` as a kickstart, read as the plan judged it: a file of at most
    KICKSTART_LIMIT bytes. It may have been replaced since (a FIFO would block the run, /dev/zero or a
    growing log would never end), so it is opened without blocking and read one byte over the limit."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            raise download.DownloadError("install.kickstart: %s is no longer a file on the host" % path)
        # Judged where it leads now (the plan judged it too): one of the host's own files, such as
        # /etc/shadow behind a link another user put in a kickstart directory, never goes to a guest.
        problem = host_files.host_file_problem(path, "install.kickstart")
        if problem:
            raise download.DownloadError(problem)
        content = source.read(KICKSTART_LIMIT + 1)
    if len(content) > KICKSTART_LIMIT:
        raise download.DownloadError(
            "install.kickstart: %s grew past the %d bytes a kickstart or preseed file may have since the plan"
            % (path, KICKSTART_LIMIT)
        )
    return content


def _boot_file_check(payload: FetchPayload) -> Optional[download.ContentCheck]:
    """What the first bytes fetched from a tree must be (see install_tree.boot_file_problem), judged
    again on the bytes stored: the tree may have changed since the plan."""
    kind, arch = payload.boot_file, payload.arch
    if kind is None:
        return None
    return lambda head, content_type: install_tree.boot_file_problem(kind, head, content_type, arch)


def _copy_source(source: str, partial: str, access: download.UrlAccess, check: Optional[download.ContentCheck] = None) -> bool:
    """Copy kernel or initrd from an NFS or other URL, or a host path, to ``partial``, all of it;
    whether everyone on the host could read the source already (a URL's, or a host file readable
    by others): a copy of anything else stays 0600. ``check`` judges the first bytes of a URL's
    content (a host file's are not judged)."""
    if source.startswith("nfs://"):
        install_tree.copy_from_nfs(source, partial)  # nfs-cp makes the file itself, in the private directory
        problem = check(install_tree.file_head(partial), None) if check is not None else None
        if problem:
            raise download.DownloadError("%s: %s" % (source, problem))
        return True
    with os.fdopen(_create_private(partial), "wb") as out:
        if "://" in source:
            public = True
            for chunk in download.stream(source, hashlib.sha256(), access, check=check):
                out.write(chunk)
        else:
            # Judged again where the path leads now: the tree may have changed since the plan.
            problem = host_files.boot_source_problem(source, "install.location")
            if problem:
                raise download.DownloadError(problem)
            public = _copy_file(source, out)
        out.flush()
        os.fsync(out.fileno())
    return public


def _copy_file(source: str, out: Any) -> bool:
    """Copy the host file ``source`` (through links: trees link their kernels) into ``out``; whether
    others may read the file copied. A tree in a directory another user writes may link its kernel
    to a file only root may read, which a copy readable by all would give away."""
    with open(source, "rb") as handle:
        info = os.fstat(handle.fileno())
        copied = 0
        for chunk in iter(lambda: handle.read(download.CHUNK_SIZE), b""):
            out.write(chunk)
            copied += len(chunk)
    if copied != info.st_size:
        raise download.DownloadError("copy of %s ended after %d of %d bytes (truncated)" % (source, copied, info.st_size))
    # The file and the way to it: a file everyone may read inside a directory only root may enter is private too.
    return bool(info.st_mode & stat.S_IROTH) and host_files.readable_by_everyone(source)


def _remove(path: Optional[str]) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _record_formats(records: Tuple[Tuple[str, str], ...]) -> None:
    """Record on each volume file the format a stored definition attaches it as (see format_record);
    where it cannot be recorded (a file system without user extended attributes, a file that became
    a link meanwhile), the volume stays unrecorded, as one made by another tool."""
    for path, fmt in records:
        try:
            os.setxattr(path, FORMAT_XATTR, fmt.encode("ascii"), os.XATTR_CREATE, follow_symlinks=False)
        except (OSError, UnicodeEncodeError):
            continue

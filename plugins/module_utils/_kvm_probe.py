# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether KVM on this host can run guests, found out by running one for a moment.

libvirt lists KVM in its capabilities wherever /dev/kvm exists, but some hosts (nested
virtualisation without the features boot loaders use) pause every KVM guest at once with
reason "unknown": an install would then wait for hours. The probe boots a tiny transient guest
whose boot sector enters protected mode, executes an ``iret`` as boot loaders do and then
triple-faults: where KVM works the guest resets, and ``on_reboot=destroy`` makes it vanish in
well under a second; where KVM cannot emulate it, the guest is paused instead.

Imported only by virt_preflight runs that have a guest to start under KVM.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from typing import Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import own_directory_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError

# The code of scripts/kvm-probe/boot.S as assembled (as --32; ld -m elf_i386 -Ttext 0x7c00 --oformat
# binary); the rest of the sector is zeros and the 0x55AA signature. A unit test re-assembles it.
_BOOT_CODE = bytes.fromhex(
    "fa31c08ed88ed0bc007cbaf803b052ee0f0116687c0f20c06683c8010f22c0ea247c080066b810008ed88ed08ec0bc00"
    "7000009c6a08683c7c0000cf0f011d487c0000ccf48d760000000000000066900000000000000000ffff0000009acf00"
    "ffff00000092cf001700507c"
)

PROBE_PREFIX = "remotevirt-probe-"

POLL_SECONDS = 0.1

# A working KVM resets the probe in well under a second; where it cannot run guests the probe is
# paused after about 3.5 s on an idle host (QEMU gives up on the instruction it cannot emulate),
# but after more than 10 s on a busy one (measured: two probes at once on a loaded 2-core host).
# Either verdict ends the wait at once: the limit only costs time where KVM neither works nor
# fails, so it is generous.
TIMEOUT_SECONDS = 30.0

# Architectures whose guests boot the probe's x86 boot sector.
PROBED_ARCHES = ("x86_64", "i686")


def boot_sector() -> bytes:
    """The probe's 512-byte disk image."""
    return _BOOT_CODE.ljust(510, b"\0") + b"\x55\xaa"


class Verdict(Record):
    """What a probe found: ``works`` True (the guest reset and vanished), False (it stopped:
    ``detail`` says how), or None (still running at the deadline: no verdict). ``lasting`` is False
    for what may pass (libvirt could not start the probe: a moment short of memory, a daemon
    restarting), which is never remembered."""

    works: Optional[bool]
    detail: str = ""
    lasting: bool = True


def probe_xml(name: str, image: str, arch: str) -> str:
    """The probe guest: 16 MiB, one vCPU, no network, no display, gone on reboot, crash or power-off."""
    return (
        "<domain type='kvm'><name>%s</name><memory unit='KiB'>16384</memory><vcpu>1</vcpu>"
        "<os><type arch='%s'>hvm</type><boot dev='hd'/></os>"
        "<on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>"
        "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
        "<target dev='hda' bus='ide'/></disk><memballoon model='none'/></devices></domain>" % (name, arch, image)
    )


def watch(client: Client, name: str, timeout: float = TIMEOUT_SECONDS, poll: float = POLL_SECONDS) -> Verdict:
    """Poll the probe guest ``name`` until it is gone (KVM works), stopped (it does not) or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        domain = client.find_domain(name)
        if domain is None:
            return Verdict(works=True)
        try:
            state, reason = client.domain_state(domain)
        except LibvirtError as error:
            if _gone(client, name):
                return Verdict(works=True)  # destroyed between the lookup and the read
            # A daemon restarting, a connection cut: no verdict, and nothing remembered.
            return Verdict(works=None, detail="its state could not be read: %s" % error.message)
        if state in ("paused", "crashed", "pmsuspended"):
            return Verdict(works=False, detail="%s, %s" % (state, reason))
        if state == "shut off":
            return Verdict(works=True)  # a transient guest that stopped is about to vanish
        if time.monotonic() >= deadline:
            return Verdict(works=None, detail="still %s after its time" % state)
        time.sleep(poll)


def _gone(client: Client, name: str) -> bool:
    """Whether the probe guest ``name`` is gone (False when libvirt cannot say)."""
    try:
        return client.find_domain(name) is None
    except LibvirtError:
        return False


def run_probe(client: Client, boot_dir: str, arch: str, timeout: float = TIMEOUT_SECONDS) -> Verdict:
    """Boot the probe guest and watch it; the guest and its disk image are always removed."""
    name = PROBE_PREFIX + os.urandom(6).hex()
    # Under boot_dir (where the host's QEMU reads kernels already), in a private directory with a
    # name no one can guess; made traversable only once the image is complete. A boot_dir another
    # user owns or may write, or may reach by a way of theirs, is not used: they could swap the
    # private directory for a link.
    parent = boot_dir if os.path.isdir(boot_dir) and own_directory_problem(boot_dir, "boot_dir") is None else None
    directory = tempfile.mkdtemp(prefix=".%s" % PROBE_PREFIX, dir=parent)
    try:
        image = os.path.join(directory, "boot.img")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(image, flags, 0o600), "wb") as out:
            out.write(boot_sector())
        os.chmod(image, 0o644)
        os.chmod(directory, 0o711)
        try:
            client.start_transient_domain(probe_xml(name, image, arch))
        except LibvirtError as error:
            return Verdict(works=False, detail="it could not start: %s" % error.message, lasting=False)
        return watch(client, name, timeout)
    finally:
        with contextlib.suppress(LibvirtError):
            domain = client.find_domain(name)
            if domain is not None:
                client.destroy_domain(domain)
        shutil.rmtree(directory, ignore_errors=True)


# -- the verdict, remembered per host --------------------------------------------------------------
def cache_key(client: Client, arch: str) -> Optional[str]:
    """What a verdict depends on: libvirt's version and the QEMU binary (its path, size and mtime).
    None when the binary cannot be read (a remote URI): then the verdict is not remembered."""
    emulator = client.emulator_path(arch, "kvm")
    if not emulator:
        return None
    try:
        info = os.stat(emulator)
    except OSError:
        return None
    return "libvirt %d %s %s %d %d" % (client.version(), client.uri, emulator, info.st_size, info.st_mtime_ns)


def _cache_file(key: str) -> str:
    # Imported here: only probes remember their verdict there.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import lock_dir

    return os.path.join(lock_dir(), "kvm-probe-%s.json" % hashlib.sha256(key.encode("utf-8")).hexdigest()[:32])


def cached(key: str) -> Optional[Verdict]:
    """The verdict an earlier probe with the same ``key`` found, if any."""
    # Imported here: only probes remember their verdict there.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import read_private_json

    data = read_private_json(_cache_file(key))
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("works"), bool):
        return None
    return Verdict(works=data["works"], detail=str(data.get("detail", "")))


def remember(key: str, verdict: Verdict) -> None:
    """Keep a definite verdict for later preflights (best effort: a failure only means probing again)."""
    # Imported here: only probes remember their verdict there.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import write_private_json

    if verdict.works is not None and verdict.lasting:
        write_private_json(_cache_file(key), {"key": key, "works": verdict.works, "detail": verdict.detail})


def kvm_verdict(client: Client, boot_dir: str, arch: str, use_cache: bool = True) -> Verdict:
    """Whether KVM runs guests of ``arch`` here: remembered from an earlier probe, or probed now."""
    key = cache_key(client, arch) if use_cache else None
    known = cached(key) if key is not None else None
    if known is not None:
        return known
    verdict = run_probe(client, boot_dir, arch)
    if key is not None:
        remember(key, verdict)
    return verdict

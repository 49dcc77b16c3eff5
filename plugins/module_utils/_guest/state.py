# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a guest request, as the runner reads it."""

from __future__ import annotations

from typing import List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import Mark
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import TuningHost
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState


# -- what the runner reads ---------------------------------------------------------------------
class InstallTree(Record):
    """Where a tree's kernel and initrd are, and how its installer takes a kickstart."""

    family: str  # "redhat" (inst.ks=) or "debian" (preseed)
    kernel: str
    initrd: str

    def kickstart_args(self, reference: Optional[str], injected: bool) -> List[str]:
        if self.family == "redhat":
            if injected:
                return ["inst.ks=file:/%s" % self.injected_name]
            return ["inst.ks=%s" % reference] if reference else []
        if injected:
            return ["auto=true", "priority=critical", "preseed/file=/%s" % self.injected_name]
        return ["auto=true", "priority=critical", "preseed/url=%s" % reference] if reference else []

    @property
    def injected_name(self) -> str:
        return "ks.cfg" if self.family == "redhat" else "preseed.cfg"


class DiskState(Record):
    """A pool disk's volume as read (``volume``) or None for host paths; ``format`` of a path disk.
    ``probed_format`` is libvirt's reading of a volume read as made instead (see asked_as_made);
    ``guessed_format`` the image format libvirt reads an existing volume's file on this host as, from
    its content alone (no record of this collection's says it was made or attached so; see format_record)."""

    volume: Optional[VolumeState] = None
    format: Optional[str] = None
    probed_format: Optional[str] = None
    guessed_format: Optional[str] = None
    # The file of an existing volume on this host without a format record: a definition that attaches
    # it records the format it reads it as (see handlers.define).
    unrecorded_path: Optional[str] = None


class GuestState(Record):
    """What the host has. ``existing`` is the persistent definition (secure XML), None if undefined."""

    existing: Optional[Domain] = None
    existing_xml: Optional[str] = Field(default=None, in_repr=False)
    # A running guest of that name without a stored definition (started by hand, or an install
    # whose definition is gone): removed by state absent and by reinstall, refused otherwise.
    transient: bool = False
    active: bool = False
    # A running guest that still runs an install's definition (one that ends on reboot, the stored
    # one does not): an earlier run's install goes on, its job killed, cut off or out of time.
    installing: bool = False
    # What the running guest (or a saved one this run resumes) started from, as its mark says (see
    # definition_mark); None: not running, or no mark.
    running_mark: Optional[Mark] = None
    # A stopped guest saved with virsh managedsave that the run starts: it resumes its saved definition.
    resumes_saved: bool = False
    autostart: bool = False
    detected_type: str = "kvm"
    disks: Tuple[DiskState, ...] = ()
    media_format: str = "raw"
    # The install ISO's file on the host: QEMU's user must reach it.
    media_path: Optional[str] = None
    tree: Optional[InstallTree] = None
    kickstart_bytes: int = 0
    boot_dir_exists: bool = True
    # Volumes of an existing guest's disks as (pool, volume): what remove_storage deletes.
    storage: Tuple[Tuple[str, str], ...] = ()
    # The serial log a removal deletes: a regular file on the host, None when kept or not there.
    serial_log_file: Optional[str] = None
    # The guest's cloud-init seed ISO when it is on the host and no running definition uses it any more.
    seed_file: Optional[str] = None
    # The serial log's size when read: a wait_for marker is looked for in what the guest writes after it.
    serial_log_offset: int = 0
    # Whether the running guest runs with a channel to its guest agent (read only for a wait_for
    # that asks the agent alone; None: not read).
    running_agent: Optional[bool] = None
    # What the host offers for the tuning options (TPM, RNG, CPUs, NUMA nodes, huge pages).
    tuning_host: TuningHost = TuningHost()

    def platform(self, arch: Optional[str], domain_type: Optional[str], reinstall: bool) -> Tuple[str, str]:
        """The architecture and virtualization type of the definition the guest gets: as requested,
        else as stored (a reinstall starts anew), else x86_64 and the type the host was found to run."""
        stored = None if reinstall else self.existing
        return (
            arch or (stored.os.arch if stored is not None else None) or "x86_64",
            domain_type or (stored.type if stored is not None else None) or self.detected_type,
        )

    def sets_vcpus(self, vcpus: Optional[int], reinstall: bool) -> bool:
        """Whether the run gives a guest its number of vCPUs (a new guest, or a change): checked
        against its machine type's limit, which libvirt enforces only when it defines the guest."""
        if self.existing is None or reinstall:
            return True
        return vcpus is not None and vcpus != self.existing.vcpus

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_guest_install
short_description: Define and install a libvirt guest from PXE, a cdrom, an install tree, or an existing disk
version_added: 0.1.0
description:
  - Installs a new guest on the hypervisor the module runs on, with one idempotent task.
  - The install boots a transient I(install definition) that starts the media (network boot, a
    cdrom, or a kernel and initrd the host fetches from an install tree). The stored I(final
    definition) boots the first disk with no install media, so when the installer powers off or
    reboots the guest, its next start comes up from disk.
  - A guest whose installer was stopped before it powered the guest off (destroyed, crashed, or the host gone
    down) is refused at plan time by every later run, check mode included, until O(reinstall=true) installs it
    again or O(state=absent) removes it; the guest's QEMU log in C(/var/log/libvirt/qemu) tells, also after
    libvirtd restarted (a local C(qemu:///system) URI; elsewhere only a run that waits for the installer sees
    it). A run waiting for the installer fails at once when the guest is destroyed.
  - A guest that exists is never installed again unless O(reinstall=true). Fields you set
    (memory, vcpus, disks, networks, graphics, serial log, cpu) are updated in place in its
    definition, keeping its UUID, MAC addresses and device addresses; a running guest then
    reports RV(reboot_required).
  - New disk volumes are created through the same code as M(remotevirt.install.virt_pool_volume)
    and removed again when defining or starting the guest fails.
  - Check mode returns the exact plan the real run executes; every action of a real run is logged
    on the host under the syslog identifier C(remotevirt).
author:
  - remotevirt.install maintainers (@remotevirt)
requirements:
  - libnfs-utils on the host, for install trees on NFS only
  - Nothing more for O(cloud_init) (the host writes the seed ISO in Python, without genisoimage or xorriso); PyYAML
    on the host, where present, checks C(#cloud-config) text of O(cloud_init.user_data)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
  - remotevirt.install.audit
attributes:
  check_mode:
    support: full
    description: Reports the planned actions as C(plan), as the equivalent C(virsh) command lines, and changes nothing.
  diff_mode:
    support: full
    description:
      - Shows the guest's stored definition before and after, limited to the fields this module manages.
      - "Each side ends with a comment that gives the guest's power state and autostart, such as
        C(<!-- state: running; autostart: on -->), which no definition holds: a run that only starts a guest
        or changes its autostart shows that too."
options:
  name:
    description:
      - Guest name. Letters, digits and C(._+:@-), at most 227 bytes (libvirt and this module keep files
        named after it); no XML metacharacters.
    type: str
    required: true
  state:
    description:
      - V(present) defines the guest. A new guest's install is started (V(import) only defines it);
        an existing guest's run state is left alone.
      - V(running) also makes sure it runs. With O(wait=true) a new guest is started from disk
        after its install ends; an imported guest is started at once.
      - The start of an existing guest is refused at plan time when a network card or disk it keeps
        from its stored definition (O(networks) or O(disks) left out) names a libvirt network the host
        does not have or has not started, a storage pool that is gone or not active, or a volume that
        is gone; with a local URI also a bridge, a disk file, or a backing file of a disk image that is gone.
      - V(installed) starts the install of a new guest and waits until it ends (implies O(wait)); the
        guest is left shut off. An imported guest (V(import)) has no install, so it is only defined, as with
        V(present).
      - V(absent) destroys and undefines the guest (with its NVRAM) and removes its serial log file
        (unless O(keep_serial_log=true)); volumes are kept unless O(remove_storage=true). A removal
        needs no O(install) options (they are not read). The definition is removed last, after the
        volumes and files, so a removal stopped or failing halfway leaves the guest defined, and a re-run
        removes what is left.
    type: str
    default: present
    choices: [present, running, installed, absent]
  domain_type:
    description:
      - libvirt domain type. V(auto) uses V(kvm) where the host's domain capabilities offer it and
        V(qemu) (software emulation) otherwise.
      - Set V(qemu) on hosts whose KVM is listed but unusable.
      - A type the host's capabilities do not offer for the guest's O(arch) is refused at plan time.
    type: str
    default: auto
    choices: [auto, kvm, qemu]
  memory:
    description:
      - Memory of the guest. A number (or text of digits only) is MiB; text is a size such as V(2G),
        V(2GiB) or V(1536M). More than libvirt takes (2^53 - 1 KiB) is refused at plan time.
      - A new guest gets 1 GiB when this is not set.
    type: raw
  vcpus:
    description: Number of virtual CPUs. A new guest gets 1 when this is not set.
    type: int
  cpu:
    description:
      - CPU mode. Not set leaves libvirt's default model.
      - A mode the host does not offer for the guest's virtualization type (V(host-passthrough) for
        V(qemu), which is TCG) is refused at plan time.
    type: str
    choices: [host-model, host-passthrough, maximum]
  machine:
    description:
      - Machine type, such as V(pc) or V(q35). Not set uses libvirt's default. Cannot be changed
        on an existing guest (use O(reinstall)).
      - A new guest's machine type that is not one of the host's for its O(arch) and O(domain_type)
        (as C(virsh capabilities) lists them) is refused at plan time, naming the first few it has.
    type: str
  arch:
    description:
      - Guest architecture. A new guest gets V(x86_64) when this is not set.
      - An architecture the host runs no guests of (no QEMU emulator for it) is refused at plan
        time, naming those it runs.
    type: str
  firmware:
    description:
      - V(bios) or V(uefi). With V(uefi) the host's libvirt picks the loader and creates the NVRAM.
      - V(uefi) where the host's domain capabilities offer no UEFI firmware for the guest's machine
        type is refused at plan time.
      - Cannot be changed on an existing guest (use O(reinstall)).
    type: str
    choices: [bios, uefi]
  secure_boot:
    description:
      - Enable secure boot (needs O(firmware=uefi)).
      - Refused at plan time where no firmware with secure boot fits the guest's machine type (on
        x86, OVMF has secure boot for V(q35) only).
    type: bool
    default: false
  install:
    description:
      - How a new guest is installed. Ignored for a guest that exists, unless O(reinstall=true).
    type: dict
    suboptions:
      method:
        description:
          - V(pxe) boots from the network first during the install.
          - V(cdrom) boots O(install.cdrom) first during the install.
          - V(location) fetches the kernel and initrd of the install tree O(install.location) onto the
            host and boots them directly with the kickstart and O(install.extra_args).
          - V(import) boots an existing disk; there is no install phase.
        type: str
        choices: [pxe, cdrom, location, import]
      cdrom:
        description: The ISO to boot, as a pool volume (O(install.cdrom.pool) and O(install.cdrom.volume)) or a host path.
        type: dict
        suboptions:
          pool:
            description: Pool of the ISO volume.
            type: str
          volume:
            description: Name of the ISO volume.
            type: str
          path:
            description:
              - Absolute path of the ISO on the host, without V(..) components.
              - Never one of the host's own files (under C(/etc), C(/boot), C(/dev), C(/proc), C(/sys), C(/usr), C(/bin),
                C(/sbin) or C(/lib*), or in a C(.ssh) or C(.gnupg) directory, also through a symbolic link, a hard link
                or a bind mount), nor a directory, nor its swap file or the file behind a loop device it
                uses, nor a disk another guest writes (also when given as O(install.cdrom.pool) and
                O(install.cdrom.volume)).
            type: str
      location:
        description:
          - Install tree as an V(http://), V(https://), V(ftp://) or V(nfs://server/path) URL
            (also V(nfs:server:/path)), or a path on the host. The host itself fetches the kernel and initrd.
          - NFS trees are read with libnfs's C(nfs-ls) and C(nfs-cp) on the host (package C(libnfs-utils));
            libnfs options go in the URL's query, for example V(nfs://server/export/tree?version=4).
            An http, https or ftp tree URL has no query or fragment.
          - Known layouts are Fedora/RHEL (C(images/pxeboot/)) and Debian/Ubuntu netboot trees.
          - Schemes are read in any case; a URL names a host and holds no spaces; a host path is
            absolute, without V(..) components. URL credentials are masked in plans, messages and logs.
          - A tree that needs a login takes it from O(url_username) and O(url_password). Credentials
            written into the URL work as well; plans and messages show them as C(***).
          - Kernel and initrd must arrive whole (as long as announced, or as the file on the host or
            the NFS server); a short copy fails the task and nothing is left in O(install.boot_dir).
        type: str
      kickstart:
        description:
          - Kickstart (Red Hat family) or preseed (Debian family) for a V(location) install.
          - An V(http://), V(https://), V(ftp://), V(nfs:), V(cdrom:) or V(hd:) reference is passed to
            the installer as it is (C(inst.ks=) or C(preseed/url=)).
          - A path on the host (absolute, without V(..) components) is read there and put into the initrd. It is
            never one of the host's own files, a log of the host (under C(/var/log), by any name), a disk another
            guest writes, or another guest's serial or console log.
          - Schemes are read in any case (V(HTTP://) is a URL, not a path) and passed on in lower case.
          - The installer, not the host, reads a kickstart URL, so O(url_username) and
            O(url_password) do not apply to it. A kickstart URL that carries credentials
            (V(https://user:password@host/ks.cfg)) or a query value of six characters or more (a token)
            is fetched by the host instead and put into the initrd, so they never reach the guest's
            kernel command line; plans and diffs show them masked. Only V(http://), V(https://) and
            V(ftp://) kickstarts are fetched so; an V(nfs://) URL with credentials or a token is refused.
        type: str
      kickstart_content:
        description:
          - Kickstart or preseed text, written into the initrd by the module and never logged.
          - Lines and tabs are its content; a NUL character is refused.
        type: str
      extra_args:
        description:
          - More kernel command line arguments for a V(location) install, such as V(console=ttyS0).
          - Shown in plans, diffs, results and the host log, as the kernel command line is readable on the host;
            a URL's user information in it is masked, a bare value (V(rootpw=...)) is not. Put passwords in
            O(install.kickstart_content) (never shown) or a kickstart file instead.
        type: str
      boot_dir:
        description:
          - Directory on the host where the fetched kernel and initrd wait until the install starts.
          - An absolute path without V(..) components.
          - Must be an absolute path, owned by root (or the user the module runs as) and not writable
            by its group or others; made with mode C(0711) when missing, without the entries a default
            access control list of its parent would give it. No directory or symbolic link of another
            user may be on its way, nor a directory everyone may write without the sticky bit.
          - Never one of the host's system directories (V(/etc), V(/proc), V(/dev), V(/var/lib/libvirt)...);
            refused at plan time.
          - Files are written under unique names in a private directory and renamed into place when
            complete. An initrd that carries a kickstart stays mode C(0600), as does the copy of a host
            file (from an install tree on the host) that others may not read; libvirt hands them to the
            QEMU user when the guest starts (C(dynamic_ownership), on by default).
          - A missing boot_dir made by another user between the plan and the run is checked again
            before anything is written there, and refused the same way.
          - Refused at plan time too when the user QEMU runs as (the DAC label of the host's
            capabilities, C(virsh capabilities)) may not enter it or a directory on its way (by its access
            control list, else its mode bits), since libvirt hands QEMU the files, not the directories, and
            the guest's start would fail. The refusal names the directory and the command that lets that
            user in.
        type: path
        default: /var/lib/libvirt/boot
  boot:
    description:
      - Direct kernel boot of the stored definition, for images without a boot loader (a kernel and
        initrd kept next to a cloud image). Not set leaves a new guest booting its first disk and an
        existing guest as it is.
      - The kernel and initrd must be files on the host (checked with a local O(uri)); libvirt gives
        them to the QEMU user while the guest runs.
    type: dict
    suboptions:
      kernel:
        description:
          - Absolute path of the kernel on the host, without V(..) components.
          - Never one of the host's own files but its kernels under C(/boot) (also through a symbolic link),
            since QEMU reads it into the guest. Checked at plan time with a local O(uri).
          - One the stored definition does not boot yet is also never a log of the host (under C(/var/log), by any
            name, where libvirt keeps each guest's QEMU command line), a disk another guest writes, or another
            guest's serial or console log.
        type: path
      initrd:
        description:
          - Absolute path of the initrd on the host, without V(..) components; refused like O(boot.kernel).
        type: path
      cmdline:
        description: Kernel command line, such as V(root=/dev/vda rw console=ttyS0).
        type: str
  cloud_init:
    description:
      - cloud-init configuration of a cloud image imported with O(install.method=import); refused with
        other install methods and with O(state=installed) (a cloud image does not power off).
      - The host writes a NoCloud seed ISO (volume label C(cidata), files C(user-data), C(meta-data) and
        C(network-config)) into O(install.boot_dir) as C(remotevirt-<name>-cidata.iso), mode C(0600), in
        a private directory renamed into place. Pool volumes are not offered for the seed.
      - The seed is attached as a read-only cdrom to the first boot only. That live definition keeps
        libvirt's default C(on_reboot=restart), since cloud-init may reboot the guest during its first
        boot; the stored definition never has the seed, so the guest's next start after a power-off
        boots without it. A later run that finds the seed still on the host while no running
        definition uses it removes it (a planned V(remove) action), as does O(state=absent).
      - The first boot is started with O(state=present) too. The plan shows the seed's path, size and
        sha256 prefix, never its content.
      - cloud-init reads its seed at a guest's first boot only. A guest that exists is never seeded
        again; a O(cloud_init) that differs from the one it first booted with (its sha256 fingerprint is
        kept in the guest's C(<metadata>)) is reported as RV(cloud_init.changed) with a warning, not applied.
    type: dict
    suboptions:
      user_data:
        description:
          - A dictionary, written as C(#cloud-config) YAML with its keys in the order given, or text kept
            as it is, which must start with C(#cloud-config), C(#!), C(#include), C(#cloud-boothook),
            C(#part-handler) or C(## template), or be a MIME multipart archive. C(#cloud-config-archive) and
            C(#cloud-config-jsonp) text must be a YAML list.
          - O(cloud_init) may hold 16 MiB (user-data, meta-data and network-config together); more is refused
            before anything is made.
          - Never shown in results, plans, diffs or the host log (no_log). With a dictionary, Ansible masks
            each of its values wherever it appears in the task's output, so short values (numbers, words
            like V(sh)) mask parts of unrelated output; pass text (for example a template that renders
            C(#cloud-config), a newline and the dictionary through C(to_nice_yaml)) to mask only the whole.
          - Text starting with C(#cloud-config) is read as YAML where the host has PyYAML (cloud-init's own
            parser); text that is not YAML of a dictionary is refused before anything is made, naming the line and
            column, never the text. Without PyYAML on the host such text is taken as it is.
          - Without it the guest gets an empty C(#cloud-config).
        type: raw
      meta_data:
        description:
          - NoCloud meta-data as a dictionary.
          - C(instance-id) defaults to the guest's name and the first 16 hex digits of the sha256 of
            O(cloud_init) (user-data, meta-data and network-config as given), the same in check mode, in the
            run and in every re-run, so cloud-init never takes a re-run for a new instance.
          - C(local-hostname) defaults to the guest's name when that is a valid host name.
          - C(instance-id) and C(local-hostname) must be one word, without C(/), blanks or control characters
            (cloud-init keeps an instance's state in C(/var/lib/cloud/instances/<instance-id>) on the guest).
        type: dict
      network_config:
        description:
          - cloud-init network configuration, version 1 or 2, as a dictionary or text. Without it,
            cloud-init configures DHCP on the first card.
          - Text must be YAML of a dictionary (checked where the host has PyYAML; the refusal names the line
            and column, never the text).
          - Never shown (no_log); see O(cloud_init.user_data) about how dictionaries are masked.
        type: raw
  disks:
    description:
      - The guest's disks. Set, the list is the guest's full set of disks (cdroms aside), each known by its
        target. Disks given a O(disks[].target) may be listed in any order, while the others take their targets
        from their order in the list, so reordering those moves an existing guest's disks to other targets (a
        redefinition its plan shows, and O(update_existing=false) refuses).
      - The guest boots its first disk in BIOS order, normally V(vda); disks without O(disks[].target)
        get the next free target on their bus in list order, so the first virtio disk listed becomes V(vda).
      - A new guest gets no disk when this is not set; an existing guest's disks are left as they are.
      - A disk of a kind this collection does not make (a C(network) disk of an NBD, iSCSI or HTTP server, an
        C(nvme) or C(dir) disk) is kept as stored while this is not set, and not part of the full set when it is.
        Results and diffs show it with its source (C(nbd://host:port/name)), an HTTP server's cookies and query,
        what a source's name holds after a C(?), C(;) or C(#), and a host name's user information masked.
    type: list
    elements: dict
    suboptions:
      pool:
        description: Pool of a volume disk.
        type: str
      volume:
        description:
          - Volume name in O(disks[].pool). With O(disks[].size) it is created when missing (and grown
            when smaller); without, it must exist.
          - Defaults to C(<name>-disk<index>.qcow2) when O(disks[].size) is given, and to C(<name>-disk<index>.img)
            with O(disks[].format=raw) (the name follows O(disks[].format) as given, not a pool's own format).
        type: str
      size:
        description:
          - Size of a new volume, such as V(20G); an existing smaller volume is grown.
          - Disks are never shrunk; an existing volume larger than this size is refused at plan time.
        type: str
      format:
        description:
          - Format of a new volume, or of a host path disk.
          - A new volume without it is V(qcow2) on file-based pools (dir, fs, netfs) and the pool's own
            format on others (V(raw) on LVM), as with M(remotevirt.install.virt_pool_volume).
          - A path disk without it keeps the format the guest's definition stores, and a new one is
            V(raw). Formats are never read from a disk's content (a guest writes its disk); a new
            path disk that holds a qcow2 image is refused until O(disks[].format) says so.
          - A disk the guest has keeps the format it was defined with, and another format for it is refused
            (the guest would read the same bytes in another format, and its writes would destroy them).
          - An existing volume this collection made V(raw) (the format is recorded on its file) is read as
            made, whatever header its content now holds (libvirt reads the format of a directory pool's file
            from its content). A new disk takes it with V(raw) only; without a format, as V(qcow2) or grown, it
            is refused.
          - An existing volume made otherwise is attached, the first time, in the format libvirt reads it as (or
            O(disks[].format)), and with a local O(uri) that format is recorded on its file once the definition is
            stored, so a later guest on it is treated as for a volume this collection made. A volume read raw whose
            content reads as an image is used at its file's size and never grown.
        type: str
        choices: [qcow2, raw]
      preallocation:
        description: Preallocation of a new volume.
        type: str
        choices: [sparse, metadata, full]
      path:
        description:
          - A file or block device on the host, as an absolute path without V(..) components.
          - Two disks never share a volume or a path, and no disk is the install cdrom.
          - Never one of the host's own files (under C(/etc), C(/boot), C(/proc), C(/sys), C(/usr), C(/bin), C(/sbin)
            or C(/lib*), or in a C(.ssh) or C(.gnupg) directory, also through a symbolic link, a hard link or a bind
            mount), a directory, its swap file or the file behind a loop device it uses, nor a block
            device the host uses (mounted, also in another mount namespace, as swap, or held by device-mapper, LVM or
            RAID, also through one of its partitions); a pool volume whose file leads there is refused the same way.
          - With a local O(uri), the qcow2 backing chain of the disk (a path or a pool volume) is read too; a backing
            file that is one of the host's own files, or that the image's owner may not read (an image another user
            left in a pool directory they may write), is refused at plan time.
        type: path
      bus:
        description: Disk bus.
        type: str
        default: virtio
        choices: [virtio, sata, scsi, ide]
      target:
        description: Device name in the guest, such as V(vda); the next free one on the bus when not set.
        type: str
      allow_in_use:
        description:
          - Attach the volume or path although other guests use it (directly or as the backing file
            of their disks). Without it such a disk is refused, since two guests writing one disk
            destroy its file system.
        type: bool
        default: false
      cache:
        description:
          - The disk's host cache mode (C(<driver cache=...>)). V(none) and V(directsync) bypass the host's page
            cache; V(unsafe) ignores the guest's flushes (for throw-away guests only).
          - Not set leaves a new disk at QEMU's default (writeback) and an existing disk's mode as stored.
        type: str
        choices: [none, writeback, writethrough, directsync, unsafe]
      io:
        description:
          - How QEMU submits the disk's I/O (C(<driver io=...>)). V(native) (Linux AIO) needs O(disks[].cache=none)
            or O(disks[].cache=directsync), given here or stored; other combinations are refused at plan time.
            V(io_uring) needs QEMU 5.0 or later built with it.
          - Not set leaves it to QEMU (new disk) or as stored (existing disk).
        type: str
        choices: [native, threads, io_uring]
      discard:
        description:
          - Whether the guest's discard (TRIM) requests free space in the disk's file (V(unmap)) or are
            dropped (V(ignore)). Not set leaves it to QEMU (new disk) or as stored (existing disk).
        type: str
        choices: [unmap, ignore]
      detect_zeroes:
        description:
          - Whether QEMU turns writes of zeroes into zero writes (V(on)) or discards (V(unmap), which needs
            O(disks[].discard=unmap)). Not set leaves it to QEMU (new disk) or as stored (existing disk).
        type: str
        choices: ['off', 'on', unmap]
  networks:
    description:
      - Network cards, in order. Set, the list is the guest's full set of cards.
      - A new guest gets B(no network card) when this is not set (libvirt adds none); a guest that
        needs a network needs at least one entry here, for example with O(networks[].network=default).
        An existing guest's cards are left as they are; an empty list removes them all.
    type: list
    elements: dict
    suboptions:
      network:
        description: A libvirt network; it must exist and be active.
        type: str
      bridge:
        description: A bridge on the host; a kernel interface name (at most 15 bytes, no V(:)).
        type: str
      type:
        description: Kind of card; inferred from O(networks[].network) or O(networks[].bridge) when not set.
        type: str
        choices: [network, bridge, user]
      model:
        description: Card model.
        type: str
        default: virtio
      mac:
        description:
          - Fixed MAC address; libvirt generates one when not set, and it is kept from then on.
          - A MAC address (in any case) that a card of another guest on the host has is refused at
            plan time, for a new guest and for a change that gives it to this one; a MAC the guest
            has already is never refused.
          - A multicast address and V(00:00:00:00:00:00) are no card's address and are refused.
        type: str
  graphics:
    description: Graphical console. A new guest gets VNC on 127.0.0.1 when this is not set.
    type: dict
    suboptions:
      type:
        description: V(none) removes the graphical console.
        type: str
        default: vnc
        choices: [none, vnc, spice]
      listen:
        description: Address the console listens on.
        type: str
        default: 127.0.0.1
      port:
        description:
          - Fixed port; libvirt picks a free one when not set.
          - A port another guest on the host has as its fixed port (on any listen address) is refused
            at plan time (the guest started second would fail to start), unless this guest has it already.
        type: int
      password:
        description: Console password. Never logged or shown in diffs.
        type: str
  filesystems:
    description:
      - Host directories shared with the guest over virtiofs; the guest mounts each by its tag
        (C(mount -t virtiofs <target> /mnt)). Set, the list is the guest's full set of virtiofs shares
        (other filesystem types stay as they are); an empty list removes them. Not set leaves an existing
        guest's shares as they are.
      - A guest with shares gets memfd-backed shared memory (C(<memoryBacking><source type='memfd'/>
        <access mode='shared'/>)), which virtiofsd needs; it stays when the shares are removed.
      - Refused at plan time when the host's domain capabilities do not offer the virtiofs driver, and, when
        the run starts the guest (checked with a local O(uri)), when the host has no virtiofsd or the
        source is not a directory. Defining the guest needs neither.
      - libvirt before 10 refuses read-only virtiofs shares, so none is offered.
    type: list
    elements: dict
    suboptions:
      source:
        description:
          - The host directory, an absolute path without V(..) components.
          - Never one of the host's system directories (V(/), V(/etc) and what is in it, V(/usr), V(/var/lib)
            and the like), which the guest could change, as libvirt has no read-only virtiofs.
          - Nor libvirt's state (anything in V(/var/lib/libvirt), its images and boot directories included), the
            services' runtime state (V(/run), V(/var/run)), the host's program, package, queue and log trees, or a
            directory that is, holds or lies in a storage pool's directory (where it leads through links, or
            the same directory through a bind mount), as the guest could change libvirt's state or other
            guests' disks.
          - With a local O(uri), also none that reaches such a directory through a symbolic link, a bind mount or
            an overlay (another name of one, or a directory holding a mount of one), none that is or holds a kernel
            interface file system (proc, sysfs and the like) wherever it is mounted, nor Debian's backups of the
            user database in V(/var/backups).
        type: path
        required: true
      target:
        description: The mount tag the guest mounts, 1 to 36 letters, digits, V(_), V(.) or V(-); unique per guest.
        type: str
        required: true
  hostdevs:
    description:
      - Host devices passed through to the guest, managed (libvirt takes a device from its host driver
        when the guest starts and gives it back when it stops). Each entry gives either O(hostdevs[].pci)
        or O(hostdevs[].usb). Set, the list is the guest's full set of PCI and USB host devices (an empty
        list removes them). Not set leaves an existing guest's devices as they are.
      - Refused at plan time when the syntax is wrong, when the host's domain capabilities do not offer
        that kind of passthrough, when a PCI device does not exist on the host (libvirt's node device
        C(pci_0000_03_00_0)), or when another guest (named in the refusal) already has the device. Only
        devices the guest does not have yet are looked up.
      - A started guest takes the device away from the host; never pass through the device of the host's
        own disk or network card. With a local O(uri), a PCI device that has one of the host's disks or
        network interfaces is refused at plan time.
    type: list
    elements: dict
    suboptions:
      pci:
        description: A PCI address, V(0000:03:00.0) (domain:bus:slot.function; V(03:00.0) is in domain V(0000)).
        type: str
      usb:
        description: A USB device by V(vendor:product) (V(0x1234:0xabcd)), or by V(bus.device) as lsusb numbers them (V(1.4)).
        type: str
  serial_log:
    description:
      - File on the host that receives the guest's serial console (BIOS, boot loader, kernel and
        installer output), appended across boots.
      - A new guest uses C(/var/log/libvirt/qemu/<name>-serial.log) when this is not set.
      - An absolute path without V(..) components. Its directory must exist on the host (QEMU does
        not create it), or an install is refused at plan time (checked with a local O(uri)).
      - Its directory (where it leads) must belong to root or to the user the module runs as, with no
        directory or link of another user on its way, and nobody else may write it, as the log is
        appended as root through whatever a link at its path leads to.
        Otherwise a run that starts the guest is refused at plan time (checked with a local O(uri)).
      - O(state=absent) removes the file too, unless O(keep_serial_log=true).
      - A file that is the serial or console log of another guest on the host (by any path leading
        to it, with a local O(uri)) is refused at plan time, unless this guest writes it already.
      - A new serial log among the host's own files is refused at plan time, as spelled or where its
        directory leads - in C(/etc), C(/boot), C(/usr), C(/root), C(/run), C(/var/lib), C(/var/spool),
        C(/var/cache) and the like, or directly in C(/), C(/var) or C(/home) - and so is, with a local
        O(uri), an existing file that is one of the host's files, lies in a storage pool's directory,
        or is a file another guest uses (a disk, a boot file).
      - A serial log that is one of this guest's own disks or its install ISO (as spelled, or with a
        local O(uri) by any path leading to it) is refused at plan time, as is one that is the log
        libvirt keeps of a guest itself, C(/var/log/libvirt/qemu/<guest>.log) on the system daemon
        (the guest would fail to start with the file busy); so is a new guest whose such log is
        another guest's serial log (a guest named V(db01-serial) beside V(db01)).
      - A serial log the guest does not write yet that names a file which holds something already (another
        program's log, through a link too), or whose rotated names C(<log>.0) to C(<log>.2) are taken, is
        refused at plan time with a local O(uri), as libvirt's log daemon rotates a log over its size limit
        when it opens it (renaming it, deleting the oldest of its backups), and removing the guest would
        delete the file. An empty file is taken, and so is the default log of a guest of this name in
        C(/var/log/libvirt/qemu), which a removal with O(keep_serial_log=true) left.
    type: path
  autostart:
    description: Start the guest when the host boots. Not set leaves it as it is.
    type: bool
  wait:
    description:
      - Wait until the install ends (the installer powers off or reboots the guest); with
        O(state=running) the installed guest is then started from disk.
      - Without it the module returns as soon as the install has started.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the install to end. When they pass, the task fails but the install goes
        on; a later run converges.
    type: int
    default: 3600
  wait_for:
    description:
      - After the guest is started (needs O(state=running)), wait until it is reachable and return its
        RV(addresses). Planned as a V(wait) action, so check mode shows it.
      - A run that finds the guest running waits read-only, up to O(wait_for_timeout), for all that O(wait_for)
        asks (an address, the marker, the port), then reports its addresses. It waits after letting go of the
        guest's lock, so a run that stops or removes the guest does not wait for it; a paused guest fails at once.
        The marker counts in the serial log the guest runs with, in what it wrote since its QEMU started (a
        reboot inside the guest keeps its QEMU), where the run that started it left that place in the running
        guest's live metadata; in a guest started otherwise, or whose log was rotated or cut since, anywhere in
        the log.
      - When O(wait_for_timeout) passes, the task fails, also in a run that found the guest running (a retry of
        a run whose wait failed fails again until the guest shows what it waits for); the guest goes on running
        and nothing is rolled back. Check mode only reads the addresses.
    type: dict
    suboptions:
      ip:
        description: Wait until a card of the guest has an address (not loopback, not link-local).
        type: bool
        default: true
      source:
        description:
          - Where libvirt reads the addresses, as C(virsh domifaddr --source). V(lease), the DHCP leases of
            the guest's libvirt network; V(arp), the host's ARP table (bridged guests); V(agent), the QEMU
            guest agent in the guest (the guest needs O(guest_agent) and the agent running; refused at plan
            time when the definition the guest runs with has no channel to it); V(any), the first of them
            that has one.
          - An address counts when another host can reach the guest there (not loopback, link-local,
            multicast or one of this host's own); a port is tried on the first eight.
        type: str
        default: any
        choices: [lease, arp, agent, any]
      marker:
        description:
          - A regular expression that must show in the guest's serial log, after what the log held when
            the run started, such as V(Cloud-init v\\. \\S+ finished). Needs a local O(uri).
        type: str
      port:
        description: A TCP port that must accept connections on the guest's address, tried from where the module runs.
        type: int
  wait_for_timeout:
    description: Seconds O(wait_for) waits.
    type: int
    default: 600
  reinstall:
    description:
      - Install an existing guest again (destroy a running guest, replace its stored definition, install).
        Destructive; the plan marks it so.
      - The guest keeps its UUID, its MAC addresses and its NVRAM file (check mode reports them too); its disks
        are kept, and created only where missing.
      - Until its install (or its first boot with O(cloud_init)) has started, a new guest's stored definition
        carries a mark. A guest still marked that shows no sign of having run (a serial log written since it was
        defined) was left by a run stopped in between; it is never taken for installed, and a run without
        O(reinstall=true) is refused at plan time, saying so.
    type: bool
    default: false
  update_existing:
    description:
      - Whether a guest that exists with another definition is updated in place to match the options (redefined, its
        disks grown or made again, its autostart changed). With V(false) any such change is refused at plan time,
        naming what differs, since its name may belong to another guest than the one meant; a guest that already
        matches, a start, and O(reinstall=true) are not refused.
      - The roles set this from their C(*_update_existing) variable, so a guest that another run made after their
        preflight found none is refused as the preflight would, not changed.
    type: bool
    default: true
  update_hint:
    description:
      - How the caller allows updates, named in the refusal of O(update_existing=false) (for example
        V(iso_install_update_existing=true) in a role).
    type: str
    default: "update_existing: true"
  remove_storage:
    description: With O(state=absent), also delete the pool volumes of the guest's disks (never its cdroms).
    type: bool
    default: false
  keep_serial_log:
    description:
      - With O(state=absent), keep the guest's serial log file (see O(serial_log)) on the host.
      - When false, a removal also deletes that file (the path its stored definition names), if it
        is a regular file; a symbolic link is never followed. Only with a local O(uri), where the
        module runs on the host that holds the file.
      - A file that O(serial_log) would refuse for a new log (among the host's files, in a storage
        pool's directory, used or logged to by another guest, a disk of this guest) is never deleted.
    type: bool
    default: false
  validate_certs:
    description: Verify TLS certificates when the host fetches an install tree over HTTPS.
    type: bool
    default: true
  url_username:
    description:
      - User name for an http, https or ftp O(install.location) (HTTP basic or digest
        authentication; for FTP, the login), used for the host's reads of the tree and its kernel
        and initrd. Not for O(install.kickstart), which the installer reads.
      - Sent with the first request to the tree's host and never along a redirect to another host.
    type: str
  url_password:
    description: Password for O(url_username). Never shown in results, plans or the host log.
    type: str
  tpm:
    description:
      - An emulated TPM (swtpm, which libvirt starts with the guest); V(false) for none, V(true) for
        the defaults, or a dictionary with C(model) (V(tpm-crb), the default, or V(tpm-tis)) and
        C(version) (V(2.0), the default, or V(1.2) with V(tpm-tis)).
      - When not set, a new guest with O(firmware=uefi) gets an emulated TPM 2.0 where the host's
        libvirt offers one (swtpm installed), as virt-install does; an existing guest's TPM is left
        as it is. V(false) removes it from an existing guest's definition.
      - Refused at plan time when the host's domain capabilities offer no emulated TPM (libvirt
        cannot even define such a guest); install swtpm and swtpm-tools on the host.
      - A change is applied to the stored definition and takes effect at the guest's next boot.
    type: raw
  rng:
    description:
      - A virtio RNG device that feeds the guest's entropy from a host device; V(true) for
        C(/dev/urandom), V(false) for none, or a dictionary with C(backend) (V(/dev/urandom), the
        default, V(/dev/random) or V(/dev/hwrng)), C(rate_bytes) and C(rate_period) (milliseconds)
        to limit it to that many bytes per period.
      - Refused at plan time where the host's libvirt offers no virtio RNG fed from a host device, or
        where the host has no such device (V(/dev/hwrng) needs a hardware RNG and its driver).
      - Not added unless set; virt-install adds it only for guest operating systems it knows to
        have the driver, and this module does not know the guest's system. V(false) removes it
        from an existing guest's definition.
    type: raw
  guest_agent:
    description:
      - V(true) gives the guest a virtio-serial channel for the QEMU guest agent (C(qemu-ga),
        Debian's and Fedora's C(qemu-guest-agent) package), whose socket on the host libvirt makes
        and names. Through it the host asks the guest for its addresses (O(wait_for.source=agent),
        M(remotevirt.install.virt_guest_info)) and for a clean shutdown. V(false) removes the channel
        from an existing guest's definition.
      - Not added unless set (the module does not know whether the guest's system runs the agent);
        a change to a running guest applies at its next boot.
      - What the agent reports is the guest's word, so its cards are checked before they reach a result
        (names without control characters, real MAC and IP addresses, at most 64 cards of 64 addresses).
    type: bool
  cpu_pinning:
    description:
      - Pins the guest's vCPUs and its emulator threads to host CPUs (C(<cputune>)). Given, it
        replaces every pin of the definition; V({}) removes them all.
      - Each cpuset is libvirt's syntax, such as C(0-3,^2,6); it is compared in libvirt's stored
        form (C(0,1) is C(0-1)). The host CPUs are checked against the host's capabilities.
    type: dict
    suboptions:
      vcpus:
        description:
          - The host CPUs of each vCPU, as a dictionary from vCPU number to cpuset, or a list whose
            N-th cpuset is vCPU N's (vCPU 0 on host CPU 2 and vCPU 1 on 3 is V(["2", "3"])).
          - A vCPU number must be below O(vcpus).
        type: raw
      emulator:
        description: The host CPUs of the guest's emulator threads (QEMU's main loop and I/O), as a cpuset.
        type: str
  numa:
    description:
      - The host NUMA nodes the guest's memory comes from (C(<numatune><memory>)); checked against
        the host's NUMA cells. V({}) (no O(numa.nodeset)) removes the placement.
    type: dict
    suboptions:
      nodeset:
        description: Host NUMA node numbers, as a cpuset (V(0), V(0-1)).
        type: str
      mode:
        description: How strictly the memory stays on those nodes; V(strict) when not set.
        type: str
        choices: [strict, preferred, interleave, restrictive]
  hugepages:
    description:
      - Backs the guest's memory with huge pages (C(<memoryBacking><hugepages>)); V(true) for the
        host's default huge page size, V(false) for none, or a dictionary with C(size) (V(2M), V(1G)).
      - The size must be a huge page size of the host (its capabilities). When the run may start the
        guest and the module runs on the host, the host must have enough free huge pages of that
        size for the guest's memory (C(/sys/kernel/mm/hugepages)); reserve them beforehand.
      - Other C(<memoryBacking>) settings of the definition stay as they are.
    type: raw
notes:
  - A guest whose install was interrupted is not installed again by a re-run; use O(reinstall=true).
  - Without O(wait), a guest whose installer reboots stays shut off after the install (the
    install definition ends on reboot); a later run with O(state=running) starts it from disk.
  - The disks (volumes and paths), install ISO (volume or path), O(boot) kernel and initrd, and
    O(install.boot_dir) of a guest that the run starts (new, reinstalled, or started by O(state=running),
    then with the path disks of its stored definition when O(disks) is not given, and its cdroms) must
    lie where the user QEMU runs as (the DAC label of C(virsh capabilities)) may enter every directory
    the host searches on the way, those of each symbolic link it follows included, by their access
    control lists, else their mode bits; libvirt gives QEMU's user the files, not the directories, so
    the guest's start would fail. The same holds for the backing and data files a qcow2, QED or VMDK
    image names, and such a file that is missing is refused. A file's own permissions count too;
    libvirt makes QEMU's user its owner and keeps the mode (C(dynamic_ownership), read from
    C(/etc/libvirt/qemu.conf)), so a disk of mode V(0444) cannot be written; a qcow2 data file, a
    file on a read-only file system, an immutable or append-only file (never written) and a disk
    libvirt is told to leave as it is (C(relabel='no'), C(<seclabel type='none'/>)) keep their owner
    and are judged as they are. An existing guest with a DAC label of its own runs QEMU as that user
    (a label naming nobody is refused), a read-only disk of its definition is judged for reading, and
    a missing file of its definition is refused (a cdrom with C(startupPolicy='optional') aside).
    Otherwise the task is
    refused at plan time (check mode and virt_preflight too, one problem for each file), naming the
    directory or file and the command that would let QEMU's user in. Volumes of network pools (rbd,
    gluster) are not host files and not judged.
seealso:
  - module: remotevirt.install.virt_pool_volume
"""

EXAMPLES = r"""
- name: A guest with tuned disk I/O, a virtiofs share and a passed-through PCI device
  remotevirt.install.virt_guest_install:
    name: db01
    memory: 4G
    disks:
      - {pool: default, volume: db01.qcow2, cache: none, io: native, discard: unmap}
    filesystems:
      - {source: /srv/exports/db01, target: data}
    hostdevs:
      - {pci: "0000:03:00.0"}
    install: {method: import}

- name: Install a guest from an ISO volume and wait until its installer powers off
  remotevirt.install.virt_guest_install:
    name: web01
    memory: 2G
    vcpus: 2
    disks:
      - pool: default
        size: 20G
    networks:
      - network: default
    install:
      method: cdrom
      cdrom:
        pool: isos
        volume: debian-12-netinst.iso
    state: running
    wait: true

- name: Kickstart install from an install tree the host fetches itself
  remotevirt.install.virt_guest_install:
    name: db01
    memory: 4096
    disks:
      - pool: default
        size: 40G
    networks:
      - bridge: br0
    install:
      method: location
      location: http://mirror.example.com/fedora/releases/40/Everything/x86_64/os/
      kickstart: http://config.example.com/ks/db01.cfg
      extra_args: console=ttyS0
    graphics:
      type: none

- name: PXE install on a libvirt network
  remotevirt.install.virt_guest_install:
    name: node07
    disks:
      - pool: default
        size: 10G
    networks:
      - network: provisioning
        mac: "52:54:00:00:07:01"
    install:
      method: pxe

- name: Import an existing disk and start it
  remotevirt.install.virt_guest_install:
    name: legacy01
    disks:
      - pool: default
        volume: legacy01.qcow2
    networks:
      - network: default
    install:
      method: import
    state: running

- name: A cloud image's overlay, seeded by cloud-init at its first boot, waited for until it has its lease
  remotevirt.install.virt_guest_install:
    name: app01
    memory: 1G
    disks:
      - pool: default
        volume: app01.qcow2  # an overlay of the image (virt_pool_volume backing_volume)
    networks:
      - network: default
    install:
      method: import
    cloud_init:
      user_data:
        hostname: app01
        ssh_authorized_keys:
          - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey admin@example.com
        runcmd:
          - echo provisioned > /dev/ttyS0
    wait_for:
      source: lease
      marker: Cloud-init v\. \S+ finished
    state: running
  register: app01

- name: Reach it from the next play
  ansible.builtin.add_host:
    name: app01
    ansible_host: "{{ app01.addresses[0].addresses[0].addr }}"

- name: Remove a guest and its volumes
  remotevirt.install.virt_guest_install:
    name: web01
    state: absent
    remove_storage: true

- name: A UEFI guest with an explicit vTPM, a virtio RNG, pinned vCPUs and 2M huge pages
  remotevirt.install.virt_guest_install:
    name: db01
    memory: 4096
    vcpus: 2
    firmware: uefi
    tpm: {model: tpm-crb, version: "2.0"}
    rng: {backend: /dev/urandom, rate_bytes: 1024, rate_period: 1000}
    cpu_pinning:
      vcpus: {0: "2", 1: "3"}
      emulator: "0-1"
    numa: {nodeset: "0", mode: strict}
    hugepages: {size: 2M}
    disks:
      - {pool: default, volume: db01.qcow2, size: 20G}
    install: {method: import}
"""

RETURN = r"""
plan:
  description: The actions taken (or, in check mode, to be taken), in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Verb, such as V(create), V(fetch), V(seed), V(install), V(define), V(wait), V(start) or V(remove).
      type: str
    kind:
      description: Kind of object, V(guest), V(volume), V(kernel), V(initrd), V(seed ISO) or V(serial log).
      type: str
    name:
      description: Object name (C(pool/volume) for volumes).
      type: str
    command:
      description: The equivalent command line an admin could run by hand.
      type: str
    destructive:
      description: Whether the action destroys data or a running guest.
      type: bool
  sample:
    - action: create
      kind: volume
      name: default/web01-disk0.qcow2
      command: virsh vol-create-as --pool default --name web01-disk0.qcow2 --capacity 21474836480 --allocation 0 --format qcow2
      destructive: false
    - action: install
      kind: guest
      name: web01
      command: virsh create web01-install.xml
      destructive: false
    - action: define
      kind: guest
      name: web01
      command: virsh define web01.xml
      destructive: false
reboot_required:
  description:
    - The guest runs, after this run, an older definition than its stored one, changed by this run or by an earlier
      one since the guest's QEMU started; the change applies at the guest's next start (a reboot inside the guest
      keeps its QEMU). A run that destroys or starts the guest leaves it running its stored definition, unless the
      start resumes a guest saved with C(virsh managedsave), which runs what it was saved with. A change undone or
      rolled back since is pending no more; changes made by other tools are not reported.
  returned: always
  type: bool
created:
  description:
    - Whether the run made (or, in check mode, makes) a guest that did not exist on the host before,
      installed or only defined. V(false) for a guest that existed, also one only running (transient).
  returned: always
  type: bool
domain:
  description: The guest after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    name:
      description: Guest name.
      type: str
    uuid:
      description: Guest UUID (not known in check mode for a new guest).
      type: str
    state:
      description: V(running), V(shut off) or V(absent).
      type: str
    memory:
      description: Memory in MiB.
      type: int
    vcpus:
      description: Number of virtual CPUs.
      type: int
    macs:
      description: MAC addresses of the network cards (those libvirt generates are not known in check mode).
      type: list
      elements: str
    disks:
      description:
        - Disks and cdroms of the stored definition, each with C(target), C(source) (C(pool/volume) or a
          path), C(device), C(size), and C(modes) when driver modes are set (as V(cache=none io=native)).
        - C(size) is the capacity in bytes of a pool disk (to be created, in check mode); V(null) for a host
          path and for cdroms.
      type: list
      elements: dict
    networks:
      description: Each network card, as V(network NAME), V(bridge NAME) or V(user).
      type: list
      elements: str
    filesystems:
      description: Each virtiofs share, as V(SOURCE as TAG).
      type: list
      elements: str
    hostdevs:
      description: Each passed-through host device, as V(pci 0000:03:00.0), V(usb 0x1234:0xabcd) or V(usb 1.4).
      type: list
      elements: str
    serial_log:
      description: File on the host with the guest's serial console.
      type: str
    tuning:
      description:
        - The guest's devices and tuning of O(tpm), O(rng), O(cpu_pinning), O(numa) and O(hugepages),
          one line of text each, only those it has.
      type: dict
  sample:
    name: web01
    uuid: 8f0e6c1e-4a0c-4b8e-9a55-0f1b2f0c9d11
    state: running
    memory: 2048
    vcpus: 2
    macs: ["52:54:00:6b:3c:58"]
    disks: [{target: vda, source: default/web01-disk0.qcow2, device: disk, size: 21474836480}]
    networks: [network default]
    filesystems: []
    hostdevs: []
    serial_log: /var/log/libvirt/qemu/web01-serial.log
    tuning: {tpm: tpm-crb 2.0 (emulated), rng: virtio /dev/urandom}
addresses:
  description:
    - The running guest's network cards and their addresses, as libvirt reads them from O(wait_for.source)
      (empty in check mode for a guest that does not run yet). Cards are named as the source names them
      (the host's C(vnetN) for leases, the guest's own names for the agent).
  returned: when O(wait_for.ip) is set
  type: list
  elements: dict
  contains:
    name:
      description: Interface name.
      type: str
    mac:
      description: MAC address.
      type: str
    addresses:
      description: Each address as C(addr), C(prefix) and C(type) (V(ipv4) or V(ipv6)).
      type: list
      elements: dict
  sample:
    - name: vnet3
      mac: "52:54:00:e4:b3:50"
      addresses: [{addr: 192.168.122.124, prefix: 24, type: ipv4}]
cloud_init:
  description: The guest's cloud-init instance.
  returned: when O(cloud_init) is set
  type: dict
  contains:
    instance_id:
      description:
        - The meta-data's instance-id (given, or derived from the guest's name and O(cloud_init)).
        - V(null) when O(cloud_init) changed since the guest's first boot (RV(cloud_init.changed)), since the id
          the guest got then is not the one this O(cloud_init) would give, and the guest's definition does not keep it.
      type: str
    changed:
      description:
        - Whether O(cloud_init) differs from the one the existing guest first booted with. It is not
          applied (cloud-init reads its seed at the first boot only); the task warns.
      type: bool
  sample:
    instance_id: app01-ef01eb6adb32395f
    changed: false
media:
  description:
    - How the planned install boots the installer. URL credentials are shown as C(***@); an inline kickstart
      is shown as V(inline), never its content.
  returned: when the plan installs the guest from install media (O(install.method) V(pxe), V(cdrom) or V(location));
    not for an imported guest, whose first boot with a O(cloud_init) seed the plan also names V(install)
  type: dict
  contains:
    method:
      description: V(pxe), V(cdrom) or V(location).
      type: str
    source:
      description: The cdrom's C(pool/volume) or path, or the install tree's location; V(null) for PXE.
      type: str
    kickstart:
      description: The kickstart's URL or path, V(inline), or V(null).
      type: str
  sample:
    method: cdrom
    source: isos/Rocky-9-x86_64-minimal.iso
    kickstart: null
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec


def argument_spec() -> dict:
    return dict(
        guest_argument_spec(),
        update_existing=dict(type="bool", default=True),
        update_hint=dict(type="str", default="update_existing: true"),
    )


def main() -> None:
    module = RemotevirtModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()

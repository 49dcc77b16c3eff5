#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_pool_volume
short_description: Manage a volume in an existing libvirt storage pool
version_added: 0.1.0
description:
  - Asserts that a volume exists and returns its facts, or creates it in an existing, active pool
    (empty and sparse or preallocated, cloned from another volume, as a qcow2 overlay on a backing
    volume, or filled from a URL that the host downloads itself).
  - Grows an existing volume in place. Never shrinks, converts or deletes data unless asked to.
  - Runs on the hypervisor host and talks to libvirt through libvirt-python.
  - Check mode returns the exact plan the real run executes; every action of a real run is logged
    on the host under the syslog identifier C(remotevirt).
author:
  - remotevirt.install maintainers (@remotevirt)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
  - remotevirt.install.audit
attributes:
  check_mode:
    support: full
    description: Reports the planned actions as C(plan) and changes nothing.
  diff_mode:
    support: full
    description: Shows the volume's XML (the fields a user can set) before and after.
options:
  pool:
    description:
      - Name of an existing, active storage pool.
      - With a local O(uri), a new volume is refused at plan time in a pool whose directory another user may
        write (or, for a V(dir) pool, owns); they could put a link under the name the volume is made as.
    type: str
    required: true
  name:
    description:
      - Name of the volume in O(pool).
      - "Letters, digits and C(. _ + - : @), at most 255 bytes, not starting with C(.) or C(-)."
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the volume exists. Without O(capacity), O(clone_from),
        O(backing_volume) or O(source_url) it only asserts an existing volume and returns its facts.
      - V(absent) deletes the volume. A volume that a guest uses (as its disk, or as a backing file or
        qcow2 data file on the way from its disk) or that another volume names as its backing file or
        data file is kept unless O(delete_in_use=true).
    type: str
    choices: [present, absent]
    default: present
  capacity:
    description:
      - Size of the volume as bytes or a size string. V(20G) and V(20GiB) are 20 * 2^30 bytes,
        V(20GB) is 20 * 10^9 bytes (libvirt's units).
      - In file-based pools libvirt rounds the capacity of every format but V(raw) up to whole KiB
        when creating (and to 512 bytes when resizing), so V(1GB) in qcow2 becomes 1000000512
        bytes; the plan shows the rounded size and a re-run with the same value changes nothing.
        qemu-img makes a V(vpc) image whole cylinders of its disk geometry (V(1G) becomes 1073995776
        bytes), which the plan shows too; a re-run with the same value changes nothing there either.
      - With O(source_url), at least the size of the download; the raw image is grown after it.
        For a compressed raw or iso image, the size of the volume the image is decompressed into
        (required, see O(compression)).
      - For an existing volume, a larger capacity grows it in place; a smaller one is refused
        unless O(allow_shrink=true).
      - A V(vmdk), V(vdi) or V(vpc) image cannot be resized (qemu-img refuses it), so a capacity it does
        not have, also for a clone or a download of one, is refused at plan time.
      - A directory inside the pool's directory, which libvirt lists as a volume of format C(dir), is
        never resized, deleted, cloned or used as a backing volume; such a request is refused at plan time.
      - With O(clone_from) or O(backing_volume), defaults to the size of that volume.
    type: str
  format:
    description:
      - Volume format. Defaults to V(qcow2) on file-based pools (dir, fs, netfs) for new empty
        volumes, to the source's format for clones and to V(raw) for downloads.
      - The format of an existing volume is never converted; a different value is refused.
      - A volume this collection made V(raw) or V(iso), whose content now reads as another format (a guest wrote
        an image header into it, which libvirt probes), is that format only as made; asked for as made, it is
        left as it is and reported as made, and any change to it is refused.
    type: str
    choices: [raw, qcow2, iso, qed, vmdk, vdi, vpc]
  preallocation:
    description:
      - V(sparse) allocates nothing up front, V(metadata) preallocates qcow2 metadata,
        V(full) allocates the whole capacity.
      - Defaults to V(sparse), except in a V(logical) pool, whose volumes are allocated whole (a sparse one is
        refused there, as libvirt would make it an LVM snapshot whose data is lost once writes fill its allocation).
      - A raw clone (O(clone_from)) of a volume of another format is converted by qemu-img, which writes it sparse;
        V(full) or an O(allocation) is refused for it, outside pools whose volumes are allocated whole.
      - A preallocated V(qcow2) volume needs room in the pool for its tables too (up to about 1/6500 of its
        capacity and a few clusters), which the plan counts.
      - Growing a volume with V(full) allocates the whole file, any part still sparse too (C(virsh vol-resize
        --allocate)), which the pool's free space must hold; libvirt does that
        for V(raw) volumes only, so growing a V(qcow2) one with V(full) is refused at plan time (leave
        O(preallocation) out to grow it sparse).
    type: str
    choices: [sparse, metadata, full]
  allocation:
    description:
      - Bytes to allocate up front (size string), instead of O(preallocation).
      - A V(qcow2) volume is allocated whole (an allocation equal to its capacity) or, below that, has its
        metadata preallocated only (as O(preallocation=metadata)); qemu-img, which makes it, allocates nothing between.
      - Growing a V(raw) volume with an allocation of its whole new capacity allocates the grown part, as
        O(preallocation=full) does; libvirt allocates all of a growth or none of it, so an allocation between what
        the volume has allocated and its new capacity is refused at plan time. An allocation no larger than what
        it has allocated grows it sparse; a volume that exists and does not grow is left as it is allocated.
    type: str
  overcommit:
    description:
      - Allow a sparse volume whose capacity exceeds the pool's free space.
      - Fully preallocated space must always be free.
    type: bool
    default: false
  clone_from:
    description:
      - Create the volume as a full copy of this volume, V(name) in O(pool) or V(pool/name).
      - Ignored when the volume already exists.
      - In a directory pool on the host (a local O(uri)), the copy is made as C(.NAME.part) and renamed to the
        volume's name once whole, as every new volume there is; a copy cut off (libvirtd, the host or the
        module gone) never passes for the volume, and the next run that makes it deletes it first.
      - With a local O(uri), refused at plan time when the volume's qcow2 backing chain leads to one of the
        host's own files or to a file the image's owner may not read (the copy would hold its bytes); the
        same holds for O(backing_volume).
    type: str
  backing_volume:
    description:
      - Create the volume as a qcow2 overlay backed by this volume, V(name) in O(pool) or
        V(pool/name). The backing volume is never written to.
      - Refused when a guest has the backing volume as a disk it writes (not read-only, not a cdrom; on
        the host, also under another name of the same file), since the overlay would be corrupt after
        the guest's next write. Guests that only read it, such as those on other overlays, do not count.
    type: str
  source_url:
    description:
      - Create the volume from the content of this http, https, ftp or file URL. The host fetches
        it; nothing passes through the controller.
      - The scheme is read in any case (V(HTTPS://) is V(https://)); the URL names a host
        (V(file:///path) for a file on the host) and holds no spaces or control characters.
      - User information in the URL (V(https://user:password@host/...)) is used for the download and
        masked everywhere else (plan, messages, results, the host's log), and so are the values of its
        query (V(?token=...)) and of its path's parameters (V(;jsessionid=...)).
      - A V(file:) URL never names one of the host's own files (C(/etc), C(/boot), C(/proc) and the
        like, also through a link) nor a file that not every user of the host may read (the file, or a
        directory on its way, keeps others out), as the volume would hand its content to a guest.
        Refused at plan time.
      - When the volume exists it is left alone, unless O(checksum) is set and its content differs;
        then the task fails, or with O(replace_content=true) the volume is replaced.
      - The body must be exactly as long as the server announces (C(Content-Length)), and its first
        bytes must be of the declared O(format) (V(qcow2) starts with C(QFI\xfb), V(iso) holds an
        ISO 9660 descriptor, V(raw) refuses an HTML error page and an image with a header libvirt would
        read it by, such as a qcow2 one; a V(qcow2) or V(qed) image that names a backing file, a path on
        the host, a V(qcow2) image with an external data file, of another version than 2 and 3, with
        a header cut short or a disk of no size, and a V(vmdk) text descriptor, which names its
        extents' files, are refused too);
        otherwise the new volume is deleted
        and the task fails before the rest of the body is written. The first bytes are also read when
        planning (a ranged request, for at most 60 seconds), so check mode refuses what the download
        would, and a V(qcow2) image's size is read from its header, so check mode reports the capacity
        the volume will have; that size must fit the pool's free space unless O(overcommit=true).
      - A V(qcow2) image served without a length needs O(checksum) (see above); its volume starts
        small and the image may be as long as the pool's free space.
      - Until the download is verified complete, the volume's file carries the extended attribute
        C(user.remotevirt.incomplete). A later run that finds it (the module was killed mid-download)
        deletes the volume and downloads it again, with or without O(checksum).
      - To authenticate, use O(url_username) and O(url_password). Credentials written into the URL
        (V(https://user:password@host/)) work as well; plans and messages show them as C(***).
      - A compressed image (see O(compression)) is decompressed on the host while it streams into
        the volume; no temporary file holds it.
    type: str
  compression:
    description:
      - How the body of O(source_url) is compressed. V(auto) decides by the end of the URL's path
        (V(.xz), V(.gz), V(.bz2), V(.zst)); V(none) stores the body as served.
      - With V(auto) and a URL without such an ending, a V(raw) body that starts like compressed
        data is refused (it would be stored compressed); V(none) stores it anyway.
      - xz, gzip and bzip2 use Python's decompressors; zstd needs Python's (C(compression.zstd) of
        Python 3.14, or the C(zstandard) module) or the C(zstd) program on the host, otherwise the
        task fails at plan time. Concatenated streams (C(pbzip2), C(cat a.xz b.xz)) are read whole.
      - The compressed body must start with its format's signature (an HTML error page is refused),
        be exactly as long as announced and end with its format's end marker and checks (xz's
        index and check, gzip's CRC-32 and length, bzip2's CRC); the decompressed image must be of
        O(format). Otherwise the new volume is deleted and the task fails.
      - When planning (check mode too), up to 1 MiB of the compressed body is read (a ranged request)
        and decompressed to judge the signature and the image's first bytes as the download would,
        and to read a V(qcow2) image's size from its header; a body no longer than that must also end
        where its compressed data ends. What that does not reach (a bzip2 block
        that compresses to more, data the C(zstd) program decompresses) is judged by the download only.
      - How long a compressed image is shows only once it is decompressed. A V(raw) or V(iso) image
        therefore needs O(capacity), the size of the volume the image is written into
        (an image longer than the volume is refused, never cut; a shorter one is followed by zeros),
        so check mode states the volume exactly. Other formats (V(qcow2)) keep their size in their
        header; the volume is created as for an uncompressed download (sized by the compressed
        length, which the image then replaces; libvirt reads the image's size from its header, as
        the plan does where it read the header) and the image may be as long as the pool's free
        space when planned.
    type: str
    choices: [auto, none, xz, gzip, bzip2, zstd]
    default: auto
  url_username:
    description:
      - User name for O(source_url) (HTTP basic or digest authentication; for FTP, the login).
      - Sent with the first request to the URL's host and never along a redirect to another host.
    type: str
  url_password:
    description: Password for O(url_username). Never shown in results, plans or the host log.
    type: str
  checksum:
    description:
      - Expected digest of O(source_url) as V(algorithm:hex), for example V(sha256:9f86d0...).
      - A download that does not match is deleted and the task fails.
      - A verified digest is remembered on the volume file together with the downloaded length,
        so re-runs do not read it again unless the file changed, and a raw image grown by
        O(capacity) after its download still verifies by its downloaded bytes.
      - That record counts only on a file nobody but its owner may write (anyone who may write a file
        may set its attributes), owned by the module's user or lying in a directory of that user's
        that nobody else may write (libvirt gives a running guest's images to QEMU's user); any other
        file is read and hashed again.
      - For a compressed download, see O(checksum_of). The digests of the compressed and of the
        decompressed bytes are both remembered with the decompressed length, so a re-run neither
        downloads again nor decompresses; if the file changed, its decompressed bytes are read and
        compared with their remembered digest. This needs a file-based pool and a local O(uri).
    type: str
  checksum_of:
    description:
      - What O(checksum) is the digest of when the download is compressed.
      - V(download), the bytes as served (what publishers list in C(SHA256SUMS) next to the
        C(.xz) file); V(content), the decompressed image.
      - The same for an uncompressed download.
    type: str
    choices: [download, content]
    default: download
  validate_certs:
    description: Verify the TLS certificate of an https O(source_url).
    type: bool
    default: true
  allow_shrink:
    description: Allow O(capacity) below the current size. Data beyond the new end is lost.
    type: bool
    default: false
  delete_in_use:
    description:
      - With O(state=absent), delete the volume even though guests use it or other volumes are
        overlays on it (they lose their disk or backing file).
    type: bool
    default: false
  replace_content:
    description:
      - Replace an existing volume whose content does not match O(checksum) by a new download of
        O(source_url). A volume that guests use or that backs other volumes is never replaced.
      - The new content is downloaded into the volume C(.NAME.replacement) beside it, verified, and
        renamed over the volume's file; until then the old content stays whole, whatever fails. This
        needs a file-based pool and a local O(uri).
      - A run stopped before the rename leaves C(.NAME.replacement) marked as unfinished; the next run
        deletes it and downloads again, and O(state=absent) deletes it with the volume. A volume of that
        name without the mark is refused, never deleted.
      - The new file keeps the old one's mode, owner and group unless O(mode), O(owner) or O(group) is set.
        A volume that is a symbolic link is refused.
    type: bool
    default: false
  mode:
    description:
      - Octal file mode of the volume, for example V('0640'). File-based pools only.
      - Between V('0000') and V('0777'); setuid, setgid and sticky bits (V('4755'), V('07777')) are refused.
      - Quote it. An unquoted number is its value (YAML reads V(0640) as 416, mode V('0640'), but V(400) as
        mode V('0620')); one that would let the group or others write the file is refused.
      - Set at creation; changing it on an existing volume needs a local O(uri).
      - Never set (nor owner and group, nor a new capacity) on a volume whose file is a symbolic link or has
        other names (hard links), which would change too. Refused at plan time, and again when the file turns
        into one between the plan and the change (a link swapped in by someone who may write the pool's
        directory).
    type: raw
  owner:
    description: User name or uid (digits 0-9) that owns the volume file. File-based pools only.
    type: str
  group:
    description: Group name or gid (digits 0-9) of the volume file. File-based pools only.
    type: str
notes:
  - Pool volumes are listed again (C(virsh pool-refresh)) before every lookup, so files placed in
    a directory pool by other tools are seen.
  - A download is streamed into the volume through libvirt; the volume is only kept when the
    whole content (and its checksum) arrived. If the module is killed mid-download (not a network
    error, which rolls back), the volume keeps its C(user.remotevirt.incomplete) mark and the
    next run replaces it. Pools whose volumes are not files on the host the module runs on
    (remote O(uri), LVM, iSCSI) and file systems without user extended attributes cannot carry
    the mark; use O(checksum) there.
seealso:
  - name: libvirt storage volume XML
    description: The format this module builds and reads.
    link: https://libvirt.org/formatstorage.html#storage-volume-xml
"""

EXAMPLES = r"""
- name: A 20 GiB sparse qcow2 disk
  remotevirt.install.virt_pool_volume:
    pool: default
    name: web01-root.qcow2
    capacity: 20G

- name: Assert that an ISO volume exists and read its path
  remotevirt.install.virt_pool_volume:
    pool: isos
    name: debian-12.iso
  register: iso

- name: The host downloads an install ISO into the pool, verified
  remotevirt.install.virt_pool_volume:
    pool: isos
    name: debian-12.7.0-amd64-netinst.iso
    format: iso
    source_url: https://mirror.example.com/debian-cd/12.7.0/amd64/iso-cd/debian-12.7.0-amd64-netinst.iso
    checksum: sha256:8fde79cfc6b20a696200fc5c15219cf6d721e8feb367e9e0e33a79d1cb68fa83

- name: The host downloads an xz-compressed raw cloud image and decompresses it into a 10 GiB volume
  remotevirt.install.virt_pool_volume:
    pool: images
    name: debian-12-genericcloud-amd64.raw
    format: raw
    capacity: 10G
    source_url: https://images.example.org/debian-12-genericcloud-amd64.raw.xz
    # the digest of the .xz file, as published next to it in SHA256SUMS
    checksum: sha256:0c1c8b1e6a0bf1c3f2d2c3e0f4cbb7a0b1c7b1a8c6d9e2f3a4b5c6d7e8f9a0b1

- name: A zstd-compressed qcow2 image, verified by the digest of the decompressed image
  remotevirt.install.virt_pool_volume:
    pool: images
    name: fedora-coreos.qcow2
    format: qcow2
    source_url: https://images.example.org/fedora-coreos-qemu.x86_64.qcow2.zst
    checksum_of: content
    checksum: sha256:5e9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7

- name: A thin overlay on a golden image
  remotevirt.install.virt_pool_volume:
    pool: default
    name: web02-root.qcow2
    backing_volume: golden/debian-12-base.qcow2

- name: A full copy of a template, grown to 40 GiB
  remotevirt.install.virt_pool_volume:
    pool: default
    name: db01-root.qcow2
    clone_from: templates/debian-12.qcow2
    capacity: 40G

- name: Preview, then delete a volume no guest uses
  remotevirt.install.virt_pool_volume:
    pool: default
    name: scratch.qcow2
    state: absent
  check_mode: true
"""

RETURN = r"""
changed:
  description: Whether the volume was (or in check mode would be) changed.
  returned: always
  type: bool
plan:
  description:
    - The actions in order, each with an equivalent command line. Check mode and the real run
      return the same plan.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Verb, one of V(create), V(clone), V(upload), V(resize), V(chmod), V(delete).
      type: str
    kind:
      description: Kind of object, V(volume).
      type: str
    name:
      description: V(pool/volume).
      type: str
    command:
      description: Equivalent virsh or shell command line.
      type: str
    destructive:
      description: Whether the action destroys data.
      type: bool
  sample:
    - action: create
      kind: volume
      name: default/web01-root.qcow2
      command: virsh vol-create-as --pool default --name web01-root.qcow2 --capacity 21474836480 --allocation 0 --format qcow2
      destructive: false
volume:
  description:
    - Facts of the volume after the run (predicted in check mode); empty for O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: Volume name.
      type: str
    pool:
      description: Pool name.
      type: str
    path:
      description: Path of the volume on the host.
      type: str
    key:
      description: libvirt's unique key of the volume (not known in check mode for a new volume).
      type: str
    format:
      description: Volume format.
      type: str
    capacity:
      description: Size in bytes.
      type: int
    allocation:
      description: Bytes allocated on the host (not known in check mode for a new volume).
      type: int
    backing_path:
      description: Path of the backing volume of an overlay.
      type: str
  sample:
    name: web01-root.qcow2
    pool: default
    path: /var/lib/libvirt/images/web01-root.qcow2
    key: /var/lib/libvirt/images/web01-root.qcow2
    format: qcow2
    capacity: 21474836480
    allocation: 200704
    backing_path: null
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import audit_options, connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        **audit_options(),
        pool=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        capacity=dict(type="str"),
        format=dict(type="str", choices=["raw", "qcow2", "iso", "qed", "vmdk", "vdi", "vpc"]),
        preallocation=dict(type="str", choices=["sparse", "metadata", "full"]),
        allocation=dict(type="str"),
        overcommit=dict(type="bool", default=False),
        clone_from=dict(type="str"),
        backing_volume=dict(type="str"),
        source_url=dict(type="str"),
        compression=dict(type="str", default="auto", choices=["auto", "none", "xz", "gzip", "bzip2", "zstd"]),
        checksum=dict(type="str"),
        checksum_of=dict(type="str", default="download", choices=["download", "content"]),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        validate_certs=dict(type="bool", default=True),
        allow_shrink=dict(type="bool", default=False),
        delete_in_use=dict(type="bool", default=False),
        replace_content=dict(type="bool", default=False),
        mode=dict(type="raw"),
        owner=dict(type="str"),
        group=dict(type="str"),
    )


def main() -> None:
    module = RemotevirtModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("clone_from", "backing_volume", "source_url"), ("preallocation", "allocation")],
        required_by={"checksum": "source_url", "url_username": "source_url", "url_password": "source_url"},
    )
    run_module(module, run)


if __name__ == "__main__":
    main()

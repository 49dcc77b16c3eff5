# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of a guest: one declaration for virt_guest_install and virt_preflight."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.remotevirt.install.plugins.module_utils._common.options import audit_options, connection_options


def guest_argument_spec() -> Dict[str, Any]:
    """virt_guest_install's options; virt_preflight checks each of its guests against them too."""
    disk = dict(
        pool=dict(type="str"),
        volume=dict(type="str"),
        size=dict(type="str"),
        format=dict(type="str", choices=["qcow2", "raw"]),
        preallocation=dict(type="str", choices=["sparse", "metadata", "full"]),
        path=dict(type="path"),
        bus=dict(type="str", default="virtio", choices=["virtio", "sata", "scsi", "ide"]),
        target=dict(type="str"),
        allow_in_use=dict(type="bool", default=False),
        # -- devices: disk driver modes --
        cache=dict(type="str", choices=["none", "writeback", "writethrough", "directsync", "unsafe"]),
        io=dict(type="str", choices=["native", "threads", "io_uring"]),
        discard=dict(type="str", choices=["unmap", "ignore"]),
        detect_zeroes=dict(type="str", choices=["off", "on", "unmap"]),
    )
    network = dict(
        network=dict(type="str"),
        bridge=dict(type="str"),
        type=dict(type="str", choices=["network", "bridge", "user"]),
        model=dict(type="str", default="virtio"),
        mac=dict(type="str"),
    )
    install = dict(
        method=dict(type="str", choices=["pxe", "cdrom", "location", "import"]),
        cdrom=dict(type="dict", options=dict(pool=dict(type="str"), volume=dict(type="str"), path=dict(type="str"))),
        location=dict(type="str"),
        kickstart=dict(type="str"),
        kickstart_content=dict(type="str", no_log=True),
        extra_args=dict(type="str"),
        boot_dir=dict(type="path", default="/var/lib/libvirt/boot"),
    )
    graphics = dict(
        type=dict(type="str", default="vnc", choices=["none", "vnc", "spice"]),
        listen=dict(type="str", default="127.0.0.1"),
        port=dict(type="int"),
        password=dict(type="str", no_log=True),
    )
    boot = dict(kernel=dict(type="path"), initrd=dict(type="path"), cmdline=dict(type="str"))
    cloud_init = dict(
        user_data=dict(type="raw", no_log=True), meta_data=dict(type="dict"), network_config=dict(type="raw", no_log=True)
    )
    # -- devices: virtiofs shares and host-device passthrough --
    filesystem = dict(source=dict(type="path", required=True), target=dict(type="str", required=True))
    hostdev = dict(pci=dict(type="str"), usb=dict(type="str"))
    wait_for = dict(
        ip=dict(type="bool", default=True),
        source=dict(type="str", default="any", choices=["lease", "arp", "agent", "any"]),
        marker=dict(type="str"),
        port=dict(type="int"),
    )
    return dict(
        **connection_options(),
        **audit_options(),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "running", "installed", "absent"]),
        domain_type=dict(type="str", default="auto", choices=["auto", "kvm", "qemu"]),
        memory=dict(type="raw"),
        vcpus=dict(type="int"),
        cpu=dict(type="str", choices=["host-model", "host-passthrough", "maximum"]),
        machine=dict(type="str"),
        arch=dict(type="str"),
        firmware=dict(type="str", choices=["bios", "uefi"]),
        secure_boot=dict(type="bool", default=False),
        install=dict(type="dict", options=install),
        boot=dict(type="dict", options=boot),
        cloud_init=dict(type="dict", options=cloud_init),
        disks=dict(type="list", elements="dict", options=disk),
        networks=dict(type="list", elements="dict", options=network),
        graphics=dict(type="dict", options=graphics),
        # -- devices: virtiofs shares and host-device passthrough --
        filesystems=dict(type="list", elements="dict", options=filesystem),
        hostdevs=dict(type="list", elements="dict", options=hostdev),
        serial_log=dict(type="path"),
        autostart=dict(type="bool"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=3600),
        wait_for=dict(type="dict", options=wait_for),
        wait_for_timeout=dict(type="int", default=600),
        reinstall=dict(type="bool", default=False),
        remove_storage=dict(type="bool", default=False),
        keep_serial_log=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        # -- devices and tuning: vTPM, virtio-rng, guest agent, CPU pinning, NUMA, huge pages ---
        tpm=dict(type="raw"),
        rng=dict(type="raw"),
        guest_agent=dict(type="bool"),
        cpu_pinning=dict(type="dict", options=dict(vcpus=dict(type="raw"), emulator=dict(type="str"))),
        numa=dict(
            type="dict",
            options=dict(
                nodeset=dict(type="str"), mode=dict(type="str", choices=["strict", "preferred", "interleave", "restrictive"])
            ),
        ),
        hugepages=dict(type="raw"),
    )

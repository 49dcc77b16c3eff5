"""Golden plans of the guest planner: for each install method, reinstall, removal and drift, the exact
actions (verb, kind, name, command line, destructive) in golden/plan-<case>.json.

REMOTEVIRT_UPDATE_GOLDEN=1 rewrites the files from the code; review the diff before committing it.
"""

from __future__ import annotations

import os

import pytest

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState

GiB = 1 << 30
POOL = Pool(
    name="default", type="dir", target_path="/var/lib/libvirt/images", capacity=500 * GiB, allocation=0, available=400 * GiB
)
ISOS = "isos"
TREE_URL = "https://tree-user:Tr33-Secret@mirror.example.org/almalinux/9/BaseOS/x86_64/os/"
KICKSTART_CONTENT = "rootpw --plaintext Hunter2-Secret\nreboot\n"
# Every secret a case below passes in: none may reach a golden file.
SECRETS = (
    "Tr33-Secret",
    "tree-user",
    "Url-Pa55-Secret",
    "Hunter2-Secret",
    "Vnc-Sec9",
    "s3cret",
    "Cl0ud-Pa55-Secret",
    "Net-Wifi-Secret",
)

# web01 as libvirt stores it (shared with test_plan.py): disk p/web01-disk0.qcow2, VNC password s3cret.
STORED = fixtures.read(__file__, "web01-stored.xml")
STORED_POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
DISK0 = Volume(name="web01-disk0.qcow2", capacity=10 * GiB, format="qcow2", path="/srv/p/web01-disk0.qcow2")


def new_disk():
    return DiskState(volume=VolumeState(POOL))


def stored(**fields):
    fields.setdefault("storage", (("p", "web01-disk0.qcow2"),))
    return GuestState(
        existing=Domain.from_xml(STORED),
        existing_xml=STORED,
        disks=(DiskState(volume=VolumeState(STORED_POOL, existing=DISK0)),),
        **fields,
    )


# case: (module parameters, what the host has)
CASES = {
    "pxe": (
        dict(
            name="pxe1",
            memory=2048,
            vcpus=2,
            disks=[dict(pool="default", size="20G")],
            networks=[dict(network="default")],
            autostart=True,
            install=dict(method="pxe"),
        ),
        GuestState(disks=(new_disk(),)),
    ),
    "cdrom_volume": (
        dict(
            name="cdvol",
            memory="4G",
            machine="q35",
            firmware="uefi",
            secure_boot=True,
            disks=[dict(pool="default", size="40G")],
            networks=[dict(bridge="br0")],
            graphics=dict(type="vnc", password="Vnc-Sec9"),
            wait=True,
            wait_timeout=1800,
            state="running",
            install=dict(method="cdrom", cdrom=dict(pool=ISOS, volume="debian-12.5.0-amd64-netinst.iso")),
        ),
        GuestState(disks=(new_disk(),), media_format="raw"),
    ),
    "cdrom_path": (
        dict(
            name="cdpath",
            disks=[dict(path="/dev/vg0/cdpath")],
            networks=[dict(type="user")],
            install=dict(method="cdrom", cdrom=dict(path="/srv/iso/AlmaLinux-9-latest-x86_64-minimal.iso")),
        ),
        GuestState(disks=(DiskState(format="block"),), media_format="raw"),
    ),
    "location_kickstart_url": (
        dict(
            name="loc1",
            memory="3G",
            disks=[dict(pool="default", size="10G", format="raw")],
            networks=[dict(network="default")],
            url_username="alice",
            url_password="Url-Pa55-Secret",
            install=dict(
                method="location",
                location=TREE_URL,
                kickstart="http://ks.example.org/alma9.ks",
                extra_args="console=ttyS0,115200n8",
            ),
        ),
        GuestState(
            disks=(new_disk(),),
            tree=InstallTree(
                family="redhat", kernel=TREE_URL + "images/pxeboot/vmlinuz", initrd=TREE_URL + "images/pxeboot/initrd.img"
            ),
        ),
    ),
    "location_inline_kickstart": (
        dict(
            name="loc2",
            disks=[dict(pool="default", size="10G")],
            networks=[dict(network="default")],
            state="installed",
            install=dict(
                method="location",
                location="/srv/trees/alma9",
                boot_dir="/var/lib/remotevirt/boot",
                kickstart_content=KICKSTART_CONTENT,
            ),
        ),
        GuestState(
            disks=(new_disk(),),
            tree=InstallTree(family="redhat", kernel="/srv/trees/alma9/vmlinuz", initrd="/srv/trees/alma9/initrd.img"),
            kickstart_bytes=len(KICKSTART_CONTENT),
            boot_dir_exists=False,
        ),
    ),
    "import": (
        dict(
            name="imported",
            memory="512M",
            disks=[dict(pool="default", volume="imported.qcow2", size="30G")],
            networks=[dict(network="default")],
            state="running",
            install=dict(method="import"),
        ),
        GuestState(
            disks=(
                DiskState(
                    volume=VolumeState(
                        POOL,
                        existing=Volume(
                            name="imported.qcow2",
                            capacity=20 * GiB,
                            format="qcow2",
                            path="/var/lib/libvirt/images/imported.qcow2",
                        ),
                    )
                ),
            )
        ),
    ),
    "import_cloud_init": (
        dict(
            name="cloud1",
            memory="512M",
            disks=[dict(pool="default", volume="cloud1.qcow2")],
            networks=[dict(network="default")],
            state="running",
            install=dict(method="import"),
            boot=dict(
                kernel="/var/lib/images/vmlinuz", initrd="/var/lib/images/initrd.img", cmdline="root=/dev/vda rw console=ttyS0"
            ),
            cloud_init=dict(
                user_data=dict(hostname="cloud1", chpasswd=dict(list="root:Cl0ud-Pa55-Secret")),
                network_config=dict(version=2, wifis=dict(wlan0=dict(password="Net-Wifi-Secret"))),
            ),
            wait_for=dict(source="lease", marker="Cloud-init v\\. \\S+ finished", port=22),
            wait_for_timeout=900,
        ),
        GuestState(
            disks=(
                DiskState(
                    volume=VolumeState(
                        POOL,
                        existing=Volume(
                            name="cloud1.qcow2", capacity=2 * GiB, format="qcow2", path="/var/lib/libvirt/images/cloud1.qcow2"
                        ),
                    )
                ),
            ),
            serial_log_offset=4096,
        ),
    ),
    "reinstall": (
        dict(
            name="web01",
            reinstall=True,
            disks=[dict(pool="p", volume="web01-disk0.qcow2")],
            networks=[dict(network="default")],
            wait=True,
            state="running",
            install=dict(method="cdrom", cdrom=dict(pool=ISOS, volume="debian-12.5.0-amd64-netinst.iso")),
        ),
        stored(active=True),
    ),
    "absent_remove_storage": (
        dict(name="web01", state="absent", remove_storage=True),
        stored(active=True, storage=(("p", "web01-disk0.qcow2"), ("p", "web01-data.img"))),
    ),
    "drift_update": (
        dict(name="web01", memory="2G", vcpus=4, graphics=dict(type="vnc", password="s3cret"), autostart=True, state="running"),
        stored(),
    ),
}


def golden_path(case):
    return os.path.join(golden.folder(__file__), "plan-%s.json" % case)


def planned(case):
    params, state = CASES[case]
    return plan_guest(GuestRequest.from_params(params), state)


@pytest.mark.parametrize("case", list(CASES))
def test_plan_matches_golden_file(case):
    """The planner's actions are exactly the reviewed golden file."""
    golden.compare(golden_path(case), golden.plan_text(planned(case)))


@pytest.mark.parametrize("case", list(CASES))
def test_golden_plans_hold_no_secret(case):
    """URL credentials, the URL password, kickstart content and console passwords never reach a plan."""
    text = golden.read(golden_path(case))
    assert [secret for secret in SECRETS if secret in text] == []


def test_url_credentials_are_masked_not_dropped():
    """The location's user information shows as ***, and the URL user as curl's -u (which prompts for the password)."""
    text = golden.read(golden_path("location_kickstart_url"))
    assert "https://***@mirror.example.org/almalinux/9/BaseOS/x86_64/os/images/pxeboot/vmlinuz" in text
    assert "curl -fsSL -u alice -o " in text


def test_golden_plans_are_all_known():
    """No stale golden plan lingers for a case that is gone."""
    assert golden.stale(golden.folder(__file__), ".json", ("plan-%s.json" % case for case in CASES)) == []

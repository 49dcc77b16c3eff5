"""The guest_preview filter: one check-mode result of virt_guest_install -> the block an operator reads."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.filter.guest_preview import guest_preview, outcome_of


def step(action, kind, name, command, destructive=False):
    return {"action": action, "kind": kind, "name": name, "command": command, "destructive": destructive}


NEW_WEB01 = {
    "changed": True,
    "reboot_required": False,
    "plan": [
        step(
            "create",
            "volume",
            "rvtb/web01-disk0.qcow2",
            "virsh vol-create-as --pool rvtb --name web01-disk0.qcow2 --capacity 67108864 --allocation 0 --format qcow2",
        ),
        step("install", "guest", "web01", "virsh create web01-install.xml"),
        step("wait", "guest", "web01", "virsh event web01 lifecycle --timeout 300"),
        step("define", "guest", "web01", "virsh define web01.xml"),
    ],
    "domain": {
        "name": "web01",
        "uuid": None,
        "state": "shut off",
        "memory": 256,
        "vcpus": 1,
        "macs": [],
        "disks": [
            {"target": "vda", "source": "rvtb/web01-disk0.qcow2", "device": "disk", "size": 67108864},
            {"target": "vdb", "source": "/srv/data.img", "device": "disk", "size": None},
        ],
        "networks": ["network default", "bridge br0"],
        "serial_log": "/var/log/libvirt/qemu/web01-serial.log",
    },
    "media": {"method": "cdrom", "source": "isos/mini.iso", "kickstart": None},
}


def test_a_new_guest_is_one_aligned_block_then_its_commands():
    assert guest_preview(NEW_WEB01) == [
        "web01: install",
        "  memory   256M, 1 vCPU",
        "  disk     vda 64M, new volume rvtb/web01-disk0.qcow2",
        "  disk     vdb, /srv/data.img",
        "  media    cdrom isos/mini.iso",
        "  network  network default, bridge br0",
        "  state    shut off after the install",
        "  $ virsh vol-create-as --pool rvtb --name web01-disk0.qcow2 --capacity 67108864 --allocation 0 --format qcow2",
        "  $ virsh create web01-install.xml",
        "  $ virsh event web01 lifecycle --timeout 300",
        "  $ virsh define web01.xml",
    ]


def test_destructive_commands_are_marked_and_reboot_required_shown():
    result = {
        "changed": True,
        "reboot_required": True,
        "plan": [
            step("define", "guest", "db01", "virsh define db01.xml"),
            step("destroy", "guest", "db01", "virsh destroy db01", destructive=True),
        ],
        "domain": {"name": "db01", "state": "running", "memory": 2048, "vcpus": 4, "disks": [], "networks": []},
    }
    lines = guest_preview(result)
    assert lines[0] == "db01: update in place"
    assert "  memory   2G, 4 vCPUs" in lines and "  network  none" in lines
    assert "  ! virsh destroy db01  [destructive]" in lines
    assert lines[-1] == "  reboot required: the changed definition applies at the guest's next start"


def test_unchanged_failed_and_removed_guests():
    assert guest_preview({"changed": False, "plan": [], "domain": {"name": "a", "state": "running"}}) == [
        "a: nothing to do (running)"
    ]
    pending = {"changed": False, "plan": [], "reboot_required": True, "domain": {"name": "a", "state": "running"}}
    assert guest_preview(pending) == ["a: nothing to do (running); reboot required"]
    assert guest_preview({"failed": True, "msg": "install.cdrom: /x.iso is not a file on the host\nmore"}, "b") == [
        "b: failed: install.cdrom: /x.iso is not a file on the host"
    ]
    removed = guest_preview(
        {
            "changed": True,
            "domain": {"name": "c", "state": "absent"},
            "plan": [step("undefine", "guest", "c", "virsh undefine c")],
        }
    )
    assert removed == ["c: remove", "  $ virsh undefine c"]


def test_media_with_kickstart_is_shown_as_the_module_returns_it():
    result = dict(NEW_WEB01, media={"method": "location", "source": "http://***@mirror/tree/", "kickstart": "inline"})
    assert "  media    location http://***@mirror/tree/, kickstart inline" in guest_preview(result)


def test_outcome_names_what_the_plan_does():
    assert outcome_of(NEW_WEB01) == "installed"
    assert outcome_of({"changed": False}) == "unchanged"
    assert outcome_of({"failed": True}) == "failed"


def test_devices_and_tuning_show_a_line_each_when_set():
    domain = dict(
        NEW_WEB01["domain"],
        tuning={
            "tpm": "tpm-crb 2.0 (emulated)",
            "rng": "virtio /dev/urandom",
            "cpu_pinning": "vCPU 0 on 2, emulator on 0-1",
            "numa": "memory on node 0 (strict)",
            "hugepages": "2M",
        },
    )
    lines = guest_preview(dict(NEW_WEB01, domain=domain))
    network = lines.index("  network  network default, bridge br0")
    assert lines[network + 1 : network + 7] == [
        "  tpm      tpm-crb 2.0 (emulated)",
        "  rng      virtio /dev/urandom",
        "  pinning  vCPU 0 on 2, emulator on 0-1",
        "  numa     memory on node 0 (strict)",
        "  hugepage 2M",
        "  state    shut off after the install",
    ]


def test_device_rows_show_driver_modes_shares_and_host_devices():
    result = {
        "changed": True,
        "domain": {
            "name": "db01",
            "state": "shut off",
            "disks": [{"target": "vda", "source": "p/db01.qcow2", "device": "disk", "modes": "cache=none io=native"}],
            "networks": [],
            "filesystems": ["/srv/exports/db01 as data"],
            "hostdevs": ["pci 0000:03:00.0", "usb 0x1234:0xabcd"],
        },
        "plan": [step("define", "guest", "db01", "virsh define db01.xml")],
    }
    assert guest_preview(result) == [
        "db01: update in place",
        "  disk     vda, p/db01.qcow2, cache=none io=native",
        "  network  none",
        "  share    virtiofs /srv/exports/db01 as data",
        "  hostdev  pci 0000:03:00.0",
        "  hostdev  usb 0x1234:0xabcd",
        "  state    shut off",
        "  $ virsh define db01.xml",
    ]


RUNNING_INSTALL_WEB01 = {
    "changed": True,
    "plan": [
        step(
            "wait", "guest", "web01", "timeout 3600 sh -c 'until virsh domstate web01 | grep -q \"shut off\"; do sleep 5; done'"
        ),
        step("start", "guest", "web01", "virsh start web01"),
    ],
    "domain": dict(NEW_WEB01["domain"], state="running"),
}


def test_a_wait_for_an_earlier_runs_install_is_named_as_such_not_as_a_start():
    """The guest still runs an install a cancelled run left going: this run waits for it to end."""
    lines = guest_preview(RUNNING_INSTALL_WEB01)
    assert lines[0] == "web01: wait for the install that runs (an earlier run's) to finish"
    assert "  state    running after the install" in lines
    assert outcome_of(RUNNING_INSTALL_WEB01) == "installed"
    waits_only = dict(RUNNING_INSTALL_WEB01, plan=RUNNING_INSTALL_WEB01["plan"][:1])
    assert outcome_of(waits_only) == "installed"  # state: installed, without a start


def test_a_start_then_a_wait_for_an_address_is_a_start():
    plan = [step("start", "guest", "web01", "virsh start web01"), step("wait", "guest", "web01", "timeout 300 sh -c ...")]
    result = dict(RUNNING_INSTALL_WEB01, plan=plan)
    assert outcome_of(result) == "started"
    assert guest_preview(result)[0] == "web01: start"


GROWN_DB01 = {
    "changed": True,
    "plan": [
        step("resize", "volume", "rvtb/db01-disk0.qcow2", "virsh vol-resize --pool rvtb db01-disk0.qcow2 50331648"),
        step("define", "guest", "db01", "virsh define db01.xml"),
    ],
    "domain": {
        "name": "db01",
        "state": "shut off",
        "disks": [
            {"target": "vda", "source": "rvtb/db01-disk0.qcow2", "device": "disk", "size": 33554432},
            {"target": "vdb", "source": "rvtb/db01-data.qcow2", "device": "disk", "size": 16777216},
        ],
        "networks": [],
    },
}


def test_a_disk_the_plan_grows_shows_its_new_size_and_its_size_now():
    """The result's disks carry their size before the run; the resize step says what the guest gets."""
    lines = guest_preview(GROWN_DB01)
    assert "  disk     vda 48M (now 32M), rvtb/db01-disk0.qcow2" in lines
    assert "  disk     vdb 16M, rvtb/db01-data.qcow2" in lines


def test_a_resize_over_another_uri_is_read_the_same():
    plan = [
        step(
            "resize",
            "volume",
            "rvtb/db01-disk0.qcow2",
            "virsh -c 'qemu+ssh://root@hv2/system' vol-resize --pool rvtb db01-disk0.qcow2 50331648",
        )
    ]
    assert "  disk     vda 48M (now 32M), rvtb/db01-disk0.qcow2" in guest_preview(dict(GROWN_DB01, plan=plan))


INSTALLER_LEFT_RUNNING = dict(
    NEW_WEB01, plan=[s for s in NEW_WEB01["plan"] if s["action"] != "wait"], domain=dict(NEW_WEB01["domain"], state="running")
)


def test_an_install_that_returns_while_its_installer_runs_says_so():
    """Without a wait, the task ends while the installer runs; the installer's definition ends with
    it, leaving the guest shut off: not "running after the install"."""
    lines = guest_preview(INSTALLER_LEFT_RUNNING)
    assert "  state    running its installer when the task ends (shut off once it ends)" in lines
    assert not any("running after the install" in line for line in lines)


def test_a_cloud_images_first_boot_runs_on_after_the_install():
    first_boot = dict(INSTALLER_LEFT_RUNNING, cloud_init={"instance_id": "web01", "changed": False})
    assert "  state    running after the install" in guest_preview(first_boot)


def test_an_install_that_waits_only_for_its_marker_leaves_the_installer_running():
    """A wait for the installer's marker or address ends the task while the installer still runs."""
    marker_wait = step(
        "wait", "guest", "web01", "timeout 600 sh -c 'until tail -c +1 /var/log/x.log | grep -qE x; do sleep 2; done'"
    )
    result = dict(INSTALLER_LEFT_RUNNING, plan=INSTALLER_LEFT_RUNNING["plan"] + [marker_wait])
    assert "  state    running its installer when the task ends (shut off once it ends)" in guest_preview(result)

"""The pool planner: golden plans for each kind of request (golden/plan-<case>.json), and its refusals.

REMOTEVIRT_UPDATE_GOLDEN=1 rewrites the files from the code; review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest

import golden
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition, PoolTypeCapability
from ansible_collections.remotevirt.install.plugins.module_utils._pool.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._pool.plan import plan_pool
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import PoolRequest, source_host_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._pool.state import PoolState
from ansible_collections.remotevirt.install.plugins.modules.virt_pool import argument_spec

URI = "qemu:///system"
CAPABILITIES = {
    "dir": PoolTypeCapability(True),
    "fs": PoolTypeCapability(True, ("auto", "ext4", "xfs")),
    "netfs": PoolTypeCapability(True, ("auto", "nfs", "glusterfs", "cifs")),
    "logical": PoolTypeCapability(True, ("unknown", "lvm2")),
    "iscsi": PoolTypeCapability(True),
    "rbd": PoolTypeCapability(False),
}
IMAGES = PoolDefinition(name="images", type="dir", target_path="/srv/images", uuid="0b3c1cf5-5bb4-4a0f-9f2b-1d5e2ad5f5a1")


def params(**overrides):
    base = {name: option.get("default") for name, option in argument_spec().items()}
    base.update(overrides)
    return base


def state(**fields):
    return PoolState(uri=URI, capabilities=CAPABILITIES, **fields)


# case: (module parameters, what the host has)
CASES = {
    "new_dir": (dict(name="images", type="dir", target_path="/srv/images/", autostart=True), state()),
    "new_fs_present": (
        dict(name="fast", type="fs", source_devices=["/dev/vdb1"], source_format="xfs", target_path="/srv/fast", state="present"),
        state(),
    ),
    "new_netfs": (
        dict(name="isos", type="netfs", source_host="nas.example.com", source_path="/export/isos", target_path="/srv/isos"),
        state(),
    ),
    "new_logical": (dict(name="vg_guests", type="logical", source_devices=["/dev/sdb", "/dev/sdc"]), state()),
    "new_iscsi": (
        dict(name="san", type="iscsi", source_host="san.example.com", source_path="iqn.2004-04.com.example:storage.lun1"),
        state(),
    ),
    "new_from_xml": (
        dict(name="images", xml="<pool type='dir'>\n  <target><path>/srv/images</path></target>\n</pool>\n", state="inactive"),
        state(),
    ),
    "unchanged": (dict(name="images", type="dir", target_path="/srv/images"), state(existing=IMAGES, active=True)),
    "start_only": (dict(name="images"), state(existing=IMAGES)),
    # A run stopped between its define and its build: the re-run builds, then starts.
    "unbuilt_after_define": (
        dict(name="images", type="dir", target_path="/srv/images", autostart=True),
        state(existing=IMAGES, unbuilt=True),
    ),
    "unbuilt_present": (dict(name="images", state="present"), state(existing=IMAGES, unbuilt=True)),
    # An active directory pool whose directory was deleted behind libvirt's back: stop, build, start.
    "unbuilt_active": (
        dict(name="images", type="dir", target_path="/srv/images"),
        state(existing=IMAGES, active=True, unbuilt=True),
    ),
    "redefine_inactive": (dict(name="images", type="dir", target_path="/data/images", state="inactive"), state(existing=IMAGES)),
    "recreate_active": (
        dict(name="images", type="dir", target_path="/data/images", recreate=True),
        state(existing=IMAGES, active=True, autostart=True),
    ),
    "retype": (
        dict(name="images", type="fs", source_devices=["/dev/vdb1"], target_path="/srv/images", recreate=True, state="present"),
        state(existing=IMAGES),
    ),
    "stop": (dict(name="images", state="inactive", autostart=False), state(existing=IMAGES, active=True, autostart=True)),
    "absent_keep_storage": (dict(name="images", state="absent"), state(existing=IMAGES, active=True)),
    "absent_delete_volumes": (
        dict(name="images", state="absent", delete_volumes=True),
        state(existing=IMAGES, active=True, volumes=("a.qcow2", "b.iso")),
    ),
    # Its directory deleted behind libvirt's back: nothing is left to delete but the definition.
    "absent_delete_volumes_directory_gone": (
        dict(name="images", state="absent", delete_volumes=True),
        state(existing=IMAGES, active=True, unbuilt=True),
    ),
    "absent_missing": (dict(name="images", state="absent"), state()),
}


def planned(case):
    overrides, host = CASES[case]
    return plan_pool(PoolRequest.from_params(params(**overrides)), host)


@pytest.mark.parametrize("case", sorted(CASES))
def test_plans_match_their_golden_files(case):
    plan = planned(case)
    text = json.dumps({"plan": plan.summaries(), "before": plan.before, "after": plan.after}, indent=2) + "\n"
    golden.compare(os.path.join(golden.folder(__file__), "plan-%s.json" % case), text)
    for action in plan.actions:  # the executor never meets an action it cannot apply
        assert isinstance(action.payload, VERBS[action.verb].payload)


def test_no_stale_golden_plans():
    assert golden.stale(golden.folder(__file__), ".json", ["plan-%s.json" % case for case in CASES]) == []


@pytest.mark.parametrize("pool_type", ["fs", "logical"])
def test_an_unbuilt_device_pool_is_built_without_overwriting_then_started(pool_type):
    unbuilt = state(existing=IMAGES.with_changes(type=pool_type, source_devices=("/dev/vdb1",)), unbuilt=True)
    actions = plan_pool(PoolRequest.from_params(params(name="images")), unbuilt).actions
    assert [action.verb for action in actions] == ["build", "start"]
    assert "--no-overwrite" in actions[0].command_line


def test_an_unbuilt_pool_is_not_built_without_build():
    no_build = plan_pool(PoolRequest.from_params(params(name="images", build=False)), state(existing=IMAGES, unbuilt=True))
    assert [action.verb for action in no_build.actions] == ["start"]


def test_a_redefinition_carries_the_pools_uuid_and_undoes_to_the_old_one():
    define = planned("redefine_inactive").actions[0]
    assert "<uuid>%s</uuid>" % IMAGES.uuid in define.payload.xml
    assert PoolDefinition.from_xml(define.payload.previous) == IMAGES


@pytest.mark.parametrize(
    "case, no_overwrite, mount_existing",
    [("new_dir", False, False), ("new_fs_present", True, True), ("new_logical", True, False)],
)
def test_builds_never_format_and_only_fs_pools_mount_what_a_device_has(case, no_overwrite, mount_existing):
    build = [action for action in planned(case).actions if action.verb == "build"][0]
    assert (build.payload.no_overwrite, build.payload.mount_existing) == (no_overwrite, mount_existing)


@pytest.mark.parametrize(
    "overrides, host, message",
    [
        (
            dict(name="images", type="dir", target_path="/data/images"),
            state(existing=IMAGES, active=True),
            "pool images (dir, active) differs from the request: target path: /srv/images -> /data/images; libvirt applies",
        ),
        (
            dict(name="images", type="fs", source_devices=["/dev/vdb"], target_path="/srv/images", state="inactive"),
            state(existing=IMAGES),
            "type: dir -> fs; source devices: (none) -> /dev/vdb; a pool's type cannot change",
        ),
        (
            dict(name="images", type="dir", target_path="/data", recreate=True),
            state(existing=IMAGES, active=True, users=(("web01", True), ("db01", False))),
            "pool images cannot be stopped to change its definition: running guests use its volumes: web01;",
        ),
        (
            dict(name="images", type="dir", target_path="/data/images", recreate=True),
            state(existing=IMAGES, active=True, users=(("db01", False),)),
            "pool images would move from /srv/images to /data/images, but guests have disks in it: db01;",
        ),
        (
            dict(name="images", state="inactive"),
            state(existing=IMAGES, active=True, users=(("web01", True),)),
            "pool images cannot be stopped to make it inactive: running guests use its volumes: web01",
        ),
        (
            dict(name="images", state="absent"),
            state(existing=IMAGES, active=True, users=(("web01", True),)),
            "pool images cannot be stopped to remove it: running guests use its volumes: web01",
        ),
        (
            dict(name="images", state="absent", delete_volumes=True),
            state(existing=IMAGES, active=True, users=(("db01", False),)),
            "pool images's volumes are used by guests: db01;",
        ),
        (
            dict(name="images", state="absent", delete_volumes=True),
            state(existing=IMAGES),
            "pool images is inactive, so its volumes cannot be listed",
        ),
        (dict(name="images"), state(), "storage pool 'images' does not exist on qemu:///system; give its type"),
        (
            dict(name="fast", type="fs", source_devices=["/dev/vdb"], target_path="/srv/f", source_format="ext5"),
            state(),
            "source_format 'ext5' is not one libvirt on qemu:///system offers for fs pools: auto, ext4, xfs; "
            "did you mean 'ext4'?",
        ),
        (
            dict(name="s", type="iscsi", source_host="h", source_path="iqn.2004-04.com.example:x"),
            PoolState(uri=URI, capabilities={"dir": PoolTypeCapability(True), "iscsi": PoolTypeCapability(False)}),
            "libvirt on qemu:///system does not support iscsi pools (virsh pool-capabilities); it supports dir",
        ),
        (
            dict(name="etc", type="dir", target_path="/etc/"),
            state(),
            "pool etc: target_path /etc is a directory of the host's system",
        ),
        (
            dict(name="root", type="dir", target_path="//"),
            state(),
            "pool root: target_path / is a directory of the host's system",
        ),
        (
            dict(name="over", type="fs", source_devices=["/dev/vdb"], target_path="/etc/ssh"),
            state(),
            "pool over: target_path /etc/ssh is a directory of the host's system",
        ),
        (
            dict(name="dot", type="dir", target_path="/./var/./lib"),
            state(),
            "pool dot: target_path /var/lib is a directory of the host's system",  # in one spelling
        ),
        (
            dict(name="rootdot", type="dir", target_path="/."),
            state(),
            "pool rootdot: target_path / is a directory of the host's system",
        ),
        (
            dict(name="link", type="dir", target_path="/srv/link"),
            state(real_target="/etc"),
            "pool link: target_path /srv/link leads (through a symbolic link) to /etc, a directory of the host's system",
        ),
        (
            dict(name="twin", type="dir", target_path="/srv/images/"),
            state(other_targets=(("images", "/srv/images"),)),
            "pool twin: target_path /srv/images is the target of pool images; pools whose directories overlap",
        ),
        (
            dict(name="inner", type="dir", target_path="/srv/images/inner"),
            state(other_targets=(("images", "/srv/images"),)),
            "pool inner: target_path /srv/images/inner lies in the target /srv/images of pool images",
        ),
        (
            dict(name="outer", type="netfs", source_host="nas", source_path="/x", target_path="/data"),
            state(other_targets=(("images", "/data/images"),)),
            "pool outer: target_path /data holds the target /data/images of pool images",
        ),
        (
            dict(name="images", type="dir", target_path="/data/images", state="inactive"),
            state(existing=IMAGES, other_targets=(("isos", "/data"),)),
            "pool images: target_path /data/images lies in the target /data of pool isos",
        ),
    ],
)
def test_refusals_say_what_and_why(overrides, host, message):
    with pytest.raises(PlanError) as refused:
        plan_pool(PoolRequest.from_params(params(**overrides)), host)
    assert message in str(refused.value)


@pytest.mark.parametrize("host", ["admin:S3cret-pw@nas", "admin:S3cret@pw@nas", "S3cret-pw@"])
def test_a_source_host_with_credentials_is_refused_without_showing_them(host):
    with pytest.raises(PlanError) as refused:
        PoolRequest.from_params(params(name="n", type="netfs", source_host=host, source_path="/x", target_path="/srv/n"))
    message = str(refused.value)
    assert "S3cret" not in message and "admin" not in message
    assert "not '***@" in message and "libvirt takes no credentials there" in message


@pytest.mark.parametrize(
    "overrides",
    [
        dict(type="netfs", source_host="nas", source_path="//admin:S3cret-pw@nas/export", target_path="/srv/n"),
        dict(type="netfs", source_host="nas", source_path="/admin:S3cret@pw@nas/export", target_path="/srv/n"),
        dict(xml="<pool type='netfs'><source><host name='nas'/><dir path='//admin:S3cret-pw@nas/x'/></source></pool>"),
    ],
)
def test_a_source_path_with_credentials_is_refused_without_showing_them(overrides):
    with pytest.raises(PlanError, match="libvirt takes no credentials there") as refused:
        PoolRequest.from_params(params(name="n", **overrides))
    assert "S3cret" not in str(refused.value) and "admin" not in str(refused.value) and "pw" not in str(refused.value)


def test_credentials_in_a_source_path_or_an_xml_are_secrets_of_the_run():
    path = {"source_path": "//admin:S3cret@pw@nas/export"}
    assert list(source_host_secrets(path)) == ["admin:S3cret@pw", "S3cret@pw"]
    xml = {"xml": "<pool><source><host name='admin:S3cret@pw@nas'/><dir path=\"/u:Pw-2@x/y\"/></source></pool>"}
    assert list(source_host_secrets(xml)) == [xml["xml"], "admin:S3cret@pw", "S3cret@pw", "u:Pw-2", "Pw-2"]
    # A directory without a password holds no secret to mask; an xml with an '@' is masked whole.
    assert list(source_host_secrets({"source_path": "/export/a@b"})) == []
    assert list(source_host_secrets({"xml": "<host name='admin@nas'/>"})) == ["<host name='admin@nas'/>"]


# BREAK (fixed): a dir pool's XML with a <source><dir/> was defined (libvirt drops that part), and every
# later run was refused as differing from the request; its options refuse the same at once.
@pytest.mark.parametrize(
    "xml, extra",
    [
        ("<pool type='dir'><source><dir path='/srv/data'/></source><target><path>/srv/d</path></target></pool>", "source/dir"),
        ("<pool type='dir'><source><host name='nas'/></source><target><path>/srv/d</path></target></pool>", "source/host"),
        ("<pool type='netfs'><source><host name='nas'/><dir path='/x'/><device path='/dev/sdb'/></source>"
         "<target><path>/srv/n</path></target></pool>", "source/device"),
        ("<pool type='fs'><source><device path='/dev/sdb'/><name>vg</name></source><target><path>/srv/f</path></target></pool>",
         "source/name"),
    ],
)  # fmt: skip
def test_parts_of_a_pool_xml_its_type_does_not_take_are_refused(xml, extra):
    with pytest.raises(PlanError, match="xml: a [a-z]+ pool takes no %s .libvirt drops it" % extra):
        PoolRequest.from_params(params(name="p", xml=xml))


def test_a_source_host_with_a_port_is_refused_and_an_ipv6_address_taken():
    netfs = dict(name="n", type="netfs", source_path="/x", target_path="/srv/n")
    with pytest.raises(PlanError, match="source_host 'nas.example:2049' has a ':' but is no IPv6 address"):
        PoolRequest.from_params(params(source_host="nas.example:2049", **netfs))
    request = PoolRequest.from_params(params(source_host="fd00::5", **netfs))
    assert request.definition.source_hosts == ("fd00::5",)


def test_an_iscsi_name_with_credentials_is_refused_without_showing_them():
    iscsi = dict(name="san", type="iscsi", source_host="h")
    for overrides in (
        dict(source_path="iqn.2004-04.com.example:x", initiator="chap:IniPw66xyz@iqn.2004-04.com.example:init"),
        dict(source_path="chap:IniPw66xyz@iqn.2004-04.com.example:x"),
    ):
        with pytest.raises(PlanError, match="libvirt takes no credentials there") as refused:
            PoolRequest.from_params(params(**iscsi, **overrides))
        assert "IniPw66xyz" not in str(refused.value) and "chap" not in str(refused.value)
        assert "IniPw66xyz" in list(source_host_secrets(overrides))


def test_source_host_credentials_are_secrets_of_the_run():
    assert list(source_host_secrets({"source_host": "admin:S3cret@pw@nas"})) == ["admin:S3cret@pw", "S3cret@pw"]
    assert list(source_host_secrets({"source_host": "nas"})) == []
    assert list(source_host_secrets({"source_host": None})) == []


def test_a_target_that_leads_to_a_directory_of_its_own_passes():
    request = PoolRequest.from_params(params(name="link", type="dir", target_path="/srv/link"))
    assert plan_pool(request, state(real_target="/data/pools/link")).changed


def test_iscsi_pools_share_the_by_path_directory_and_a_similar_prefix_is_no_overlap():
    others = state(other_targets=(("san1", "/dev/disk/by-path"), ("images", "/srv/images")))
    san = dict(name="san2", type="iscsi", source_host="h", source_path="iqn.2004-04.com.example:x")
    assert plan_pool(PoolRequest.from_params(params(**san)), others).changed
    sibling = dict(name="images2", type="dir", target_path="/srv/images2")
    assert plan_pool(PoolRequest.from_params(params(**sibling)), others).changed


def test_without_capabilities_the_host_decides():
    request = PoolRequest.from_params(
        params(name="s", type="fs", source_devices=["/dev/vdb"], target_path="/s", source_format="x")
    )
    assert plan_pool(request, PoolState(uri="test:///default")).changed


def test_check_mode_facts_come_from_the_same_outcome():
    # present keeps an existing pool's activity; a new one stays inactive
    assert "<!-- inactive" in planned("new_fs_present").after
    assert planned("unchanged").changed is False and planned("unchanged").after is None


REMOTE = "qemu+tls://hv1:16514/system?pkipath=/etc/pki/hv1"
VIRSH_REMOTE = "virsh -c 'qemu+tls://hv1:16514/system?pkipath=/etc/pki/hv1'"


@pytest.mark.parametrize("case", sorted(CASES))
def test_remote_uri_commands_name_the_connection(case):
    """Over another URI each command of the plan connects to it, so a preview runs as it is from
    where the module ran; the host's own URI keeps them plain (the golden plans)."""
    overrides, host = CASES[case]
    remote = plan_pool(PoolRequest.from_params(params(uri=REMOTE, **overrides)), host.with_changes(uri=REMOTE))
    local = planned(case)
    assert [command.replace(VIRSH_REMOTE, "virsh", 1) for command in remote.commands()] == local.commands()
    assert all(shlex.split(command)[:3] == ["virsh", "-c", REMOTE] for command in remote.commands())


def test_remote_uri_refusal_names_the_connection():
    request = PoolRequest.from_params(
        params(uri=REMOTE, name="s", type="iscsi", source_host="h", source_path="iqn.2004-04.com.example:x")
    )
    with pytest.raises(PlanError) as refused:
        plan_pool(request, PoolState(uri=REMOTE, capabilities={"dir": PoolTypeCapability(True)}))
    assert "(%s pool-capabilities)" % VIRSH_REMOTE in str(refused.value)


def test_an_active_pool_without_its_directory_is_stopped_built_and_started():
    """Its directory deleted behind libvirt's back; inactive wanted, it is only stopped."""
    gone = state(existing=IMAGES, active=True, unbuilt=True)
    present = plan_pool(PoolRequest.from_params(params(name="images")), gone)
    assert [action.verb for action in present.actions] == ["stop", "build", "start"]
    inactive = plan_pool(PoolRequest.from_params(params(name="images", state="inactive")), gone)
    assert [action.verb for action in inactive.actions] == ["stop"]


@pytest.mark.parametrize("existing_field, value", [("mode", "0700"), ("owner", 1000), ("group", 107)])
def test_a_directory_pools_new_permissions_are_built_onto_its_directory(existing_field, value):
    """libvirt reads a running directory pool's mode, owner and group back from its directory: without a
    build that sets them there, the redefinition would be undone by the start and asked for on every run."""
    existing = IMAGES.with_changes(**dict({"mode": "0711", "owner": 0, "group": 0}, **{existing_field: value}))
    xml = (
        "<pool type='dir'><name>images</name><target><path>/srv/images</path><permissions><mode>0711</mode>"
        "<owner>0</owner><group>0</group></permissions></target></pool>"
    )
    running = state(existing=existing, active=True)
    plan = plan_pool(PoolRequest.from_params(params(name="images", xml=xml, recreate=True)), running)
    assert [action.verb for action in plan.actions] == ["stop", "define", "build", "start"]
    unbuilt = plan_pool(PoolRequest.from_params(params(name="images", xml=xml, build=False)), state(existing=existing))
    assert [action.verb for action in unbuilt.actions] == ["define", "start"]


@pytest.mark.parametrize(
    "pool_type, source", [("fs", "<device path='/dev/vdb1'/>"), ("netfs", "<host name='nas'/><dir path='/x'/>")]
)
def test_a_mounted_pools_permissions_are_refused_not_changed_in_a_loop(pool_type, source):
    """libvirt reads an fs or netfs pool's mode from the mounted file system on every start and never sets it."""
    existing = PoolDefinition.from_xml(
        "<pool type='%s'><name>fast</name><source>%s</source><target><path>/srv/fast</path>"
        "<permissions><mode>0755</mode></permissions></target></pool>" % (pool_type, source)
    )
    xml = existing.to_xml().replace("<mode>0755</mode>", "<mode>0711</mode>")
    with pytest.raises(
        PlanError, match="pool fast .%s.: target mode 0755, as libvirt reads it from the mounted file system" % pool_type
    ):
        plan_pool(PoolRequest.from_params(params(name="fast", xml=xml, recreate=True)), state(existing=existing, active=True))


@pytest.mark.parametrize(
    "path",
    [
        "/root/.ssh",
        "/home/alice/.gnupg/keys",
        "/var/lib/dpkg",
        "/var/spool/cron",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/modules",
        "/usr/lib64/sasl2",
        "/usr/local/bin",
        "/usr/src/linux",
        "/var/lib/libvirt/qemu/nvram",
        "/var/lib/libvirt/swtpm",
        "/var/lib/rpm",
        "/var/mail",
        "/root/.config",
        "/home/alice",
        "//home/alice/",
    ],
)
def test_a_directory_of_the_hosts_own_data_is_no_pool_target(path):
    """A pool lists every file there as a volume, and delete_volumes would delete them."""
    from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import system_directory_problem

    assert "is a directory of the host's system" in (system_directory_problem(path) or "")


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/libvirt/images",
        "/var/lib/libvirt/images/fast",
        "/var/lib/libvirt/boot",
        "/srv/pools/a",
        "/home/alice/vms",
        "/root/vms",
        "/data/ssh-images",
        "/usr/share/virtio-win",
        "/usr/local/share/isos",
    ],
)
def test_directories_of_its_own_are_pool_targets(path):
    from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import system_directory_problem

    assert system_directory_problem(path) is None


# BREAK (fixed): a removal with delete_volumes stopped after it deleted the volumes and stopped the
# pool was refused by every re-run (an inactive pool's volumes cannot be listed).
@pytest.mark.parametrize("gone, verbs", [(False, ["delete", "undefine"]), (True, ["undefine"])])
def test_a_removal_stopped_once_the_volumes_went_is_finished_by_the_rerun(gone, verbs):
    plan = plan_pool(
        PoolRequest.from_params(params(name="images", state="absent", delete_volumes=True)),
        state(existing=IMAGES, emptied=True, unbuilt=gone),
    )
    assert [action.verb for action in plan.actions] == verbs


NAS = PoolDefinition(name="nas", type="netfs", source_hosts=("nas.example.com",), source_dir="/export/isos", target_path="/srv/a")
SAN = PoolDefinition(
    name="san", type="iscsi", source_hosts=("san.example.com",), source_devices=("iqn.2004-04.com.example:lun1",)
)
VG = PoolDefinition(name="vg", type="logical", source_name="vg0", source_devices=("/dev/sdb",))


# BREAK (fixed): check mode planned a second pool on another pool's NFS export, which libvirt refused
# only when the real run defined it.
@pytest.mark.parametrize(
    "wanted, message",
    [
        (
            dict(name="b", type="netfs", source_host="nas.example.com", source_path="/export//isos", target_path="/srv/b"),
            "pool b: its source, nas.example.com:/export/isos, is the source of pool nas already",
        ),
        (
            dict(name="b", type="iscsi", source_host="san.example.com", source_path="iqn.2004-04.com.example:lun1"),
            "pool b: its source, target iqn.2004-04.com.example:lun1 on san.example.com, is the source of pool san",
        ),
        (
            dict(name="b", type="fs", source_devices=["/dev/sdb"], target_path="/srv/b"),
            "device /dev/sdb, is the source of pool vg",
        ),
        (dict(name="b", type="logical", source_name="vg0"), "volume group vg0, is the source of pool vg"),
    ],
)
def test_a_source_another_pool_has_is_refused_at_plan_time(wanted, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        plan_pool(PoolRequest.from_params(params(**wanted)), state(other_sources=(NAS, SAN, VG)))


def test_other_exports_targets_and_devices_are_no_clash():
    other = dict(name="b", type="netfs", source_host="nas.example.com", source_path="/export/other", target_path="/srv/b")
    assert plan_pool(PoolRequest.from_params(params(**other)), state(other_sources=(NAS, SAN, VG))).actions
    fs = dict(name="b", type="fs", source_devices=["/dev/sdc"], target_path="/srv/b")
    assert plan_pool(PoolRequest.from_params(params(**fs)), state(other_sources=(NAS, SAN, VG))).actions


def test_a_device_another_pool_has_under_another_spelling_is_refused():
    """A link to the device, or a second loop device on the same image: the same keys on the host."""
    keys = (("/dev/sdb", frozenset({"block:8:16"})), ("/dev/disk/by-id/wwn-1", frozenset({"block:8:16", "path:/dev/sdb"})))
    fs = dict(name="b", type="fs", source_devices=["/dev/disk/by-id/wwn-1"], target_path="/srv/b")
    with pytest.raises(
        PlanError, match=re.escape("its source, device /dev/disk/by-id/wwn-1 (as /dev/sdb), is the source of pool vg")
    ):
        plan_pool(PoolRequest.from_params(params(**fs)), state(other_sources=(NAS, SAN, VG), device_keys=keys))
    unrelated = (("/dev/sdb", frozenset({"block:8:16"})), ("/dev/disk/by-id/wwn-1", frozenset({"block:8:32"})))
    assert plan_pool(PoolRequest.from_params(params(**fs)), state(other_sources=(NAS, SAN, VG), device_keys=unrelated)).actions


@pytest.mark.parametrize(
    "host",
    ["admin:S3cretPw&#64;nas", "admin&#58;S3cretPw&#x40;nas", "admin:S&#51;cretPw&#64;nas", "//admin:S3cretPw&#X40;nas/export"],
)
def test_credentials_written_with_character_references_in_an_xml_are_secrets_of_the_run(host):
    """The parser reads 'admin:pw&#64;nas' as credentials: the host log's invocation line shows the xml
    as written, so the xml is masked whole."""
    xml = "<pool type='netfs'><source><host name=\"%s\"/></source></pool>" % host
    assert xml in list(source_host_secrets({"xml": xml}))
    assert list(source_host_secrets({"xml": "<pool><source><host name='nas&#46;lan'/></source></pool>"})) == []


@pytest.mark.parametrize(
    "xml",
    [
        # a comment with a quote, which threw a pattern of attribute values out of step
        '<pool type="netfs"><!-- a=" --><source><host name="admin:Rt7pw&#64;nas"/></source></pool>',
        # an entity of its own
        "<!DOCTYPE pool [<!ENTITY at '&#64;'>]><pool type='netfs'><source><host name='admin:Rt7pw&at;nas'/></source></pool>",
        # a lone token, a password holding '/'
        "<pool type='netfs'><source><host name='Rt7TokA1b2c3@nas'/></source></pool>",
        "<pool type='netfs'><source><host name='admin:Rt7/pw&#64;nas'/></source></pool>",
    ],
)
def test_an_xml_that_may_hide_credentials_is_masked_whole(xml):
    assert xml in list(source_host_secrets({"xml": xml}))

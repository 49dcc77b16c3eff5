"""Property: any virt_guest_install options end in a plan or a refusal with a message, never another
error; plans hold no control character and no URL credential in their command lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._guest.handlers import GuestHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState
from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install
from strategies import examples, option, options, spec_checked

GiB = 1 << 30
POOL = Pool(name="p", type="dir", target_path="/srv/p", capacity=100 * GiB, allocation=0, available=50 * GiB)
SECRET = "Url-Pw-2"

DISK = options(
    required={},
    optional=dict(
        pool=option(examples("p", "default")),
        volume=option(examples("a.qcow2", "b.img")),
        size=option(examples("1G", "10G", "0")),
        format=option(st.sampled_from(["qcow2", "raw"])),
        preallocation=option(st.sampled_from(["sparse", "full"])),
        path=option(examples("/srv/a.img", "/dev/vg/x", "x.img")),
        bus=option(st.sampled_from(["virtio", "sata", "scsi", "ide"])),
        target=option(examples("vda", "sdb", "hdc", "xvda")),
    ),
)
NETWORK = options(
    required={},
    optional=dict(
        network=option(examples("default", "prov")),
        bridge=option(examples("br0", "virbr-longer-than-15")),
        type=option(st.sampled_from(["network", "bridge", "user"])),
        model=option(examples("virtio", "e1000e")),
        mac=option(examples("52:54:00:12:34:56", "01:00:00:00:00:01", "52:54:00:12:34")),
    ),
)
INSTALL = options(
    required=dict(method=option(st.sampled_from(["pxe", "cdrom", "location", "import"]))),
    optional=dict(
        cdrom=option(
            options(
                required={},
                optional=dict(
                    pool=option(examples("iso")),
                    volume=option(examples("d.iso")),
                    path=option(examples("/srv/d.iso", "/srv/a.img")),
                ),
            )
        ),
        location=option(examples("http://m/os", "https://u:%s@m/os" % SECRET, "nfs://srv/export", "nfs:srv:/x", "/srv/tree")),
        kickstart=option(examples("http://k/ks.cfg", "nfs:srv:/ks.cfg", "cdrom:/ks.cfg", "/srv/ks.cfg", "HTTP://k/ks")),
        kickstart_content=option(examples("rootpw x\nreboot\n")),
        extra_args=option(examples("console=ttyS0", "inst.text")),
        boot_dir=option(examples("/var/lib/libvirt/boot", "/tmp/boot", "boot")),
    ),
)
GUEST_OPTIONS = options(
    required=dict(name=option(examples("web01", "db-1.example")), install=option(INSTALL)),
    optional=dict(
        uri=option(examples("qemu:///system", "qemu+ssh://root@hv1/system", "qemu+tls://hv1/system")),
        state=option(st.sampled_from(["present", "running", "installed", "absent"])),
        domain_type=option(st.sampled_from(["auto", "kvm", "qemu"])),
        memory=option(st.one_of(examples("2G", "1536M", "512"), st.integers(0, 1 << 16))),
        vcpus=option(st.one_of(st.integers(0, 8), examples("2"))),
        cpu=option(st.sampled_from(["host-model", "host-passthrough", "maximum"])),
        machine=option(examples("q35", "pc-i440fx-7.2")),
        arch=option(examples("x86_64", "aarch64")),
        firmware=option(st.sampled_from(["bios", "uefi"])),
        secure_boot=option(st.booleans()),
        disks=option(st.lists(option(DISK), max_size=3)),
        networks=option(st.lists(option(NETWORK), max_size=2)),
        graphics=option(
            options(
                required={},
                optional=dict(
                    type=option(st.sampled_from(["none", "vnc", "spice"])),
                    listen=option(examples("127.0.0.1", "::1", "0.0.0.0")),
                    port=option(st.one_of(st.integers(0, 70000), examples("5901"))),
                    password=option(examples("pw", "123456789")),
                ),
            )
        ),
        serial_log=option(examples("/var/log/x.log", "x.log", "/var/log/../x")),
        autostart=option(st.booleans()),
        wait=option(st.booleans()),
        wait_timeout=option(st.one_of(st.integers(-1, 7200), examples("60"))),
        reinstall=option(st.booleans()),
        remove_storage=option(st.booleans()),
        validate_certs=option(st.booleans()),
    ),
)


def host_of(request: GuestRequest) -> GuestState:
    """A host without the guest: pool disks get new volumes, path disks are raw files."""
    disks = tuple(DiskState(format="raw") if disk.path else DiskState(volume=VolumeState(POOL)) for disk in request.disks or ())
    location = request.install.location or "/srv/tree"
    tree = InstallTree("redhat", location + "/images/pxeboot/vmlinuz", location + "/images/pxeboot/initrd.img")
    return GuestState(disks=disks, detected_type="qemu", tree=tree, kickstart_bytes=10)


@given(GUEST_OPTIONS)
def test_any_options_give_a_plan_or_a_refusal(params):
    validated = spec_checked(virt_guest_install.argument_spec(), params)
    if validated is None:
        return  # AnsibleModule fails the task with its message
    try:
        request = GuestRequest.from_params(validated)
        plan = plan_guest(request, host_of(request))
    except RemotevirtError as error:
        assert str(error) and SECRET not in str(error)
        return
    for command in plan.commands():
        assert control_problem(command, "command") == "" and SECRET not in command
    # Every verb the planner emits has a handler and an undo policy, and carries its verb's payload:
    # the executor never meets an action it cannot apply or roll back.
    handled = GuestHandlers(None, None, True).as_mapping()
    for action in plan.actions:
        assert action.verb in handled and isinstance(action.payload, VERBS[action.verb].payload)

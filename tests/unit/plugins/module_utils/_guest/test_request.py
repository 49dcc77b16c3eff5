"""The guest request: every refusal of the options is found, a run reports the first."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest, Refusals
from runner_params import disk, install, network, params


def test_every_refusal_of_the_options_is_collected():
    given = params(
        name="web01",
        memory="lots",
        disks=[disk(bus="floppy"), disk(pool=None)],
        networks=[network(mac="zz"), network(model="bad model")],
        install=install(method="cdrom"),
    )
    request, problems = GuestRequest.read(given)
    assert request is None
    assert problems == [
        "memory: cannot read size 'lots': use bytes or a number with a unit such as 20G, 20GiB or 500MB",
        "disks[0]: bus must be one of virtio, sata, scsi, ide",
        "disks[1]: give either pool (a pool volume) or path (a host file or device)",
        "networks[0]: mac 'zz' is not a MAC address like 52:54:00:12:34:56",
        "networks[1]: model 'bad model' is not a card model name like virtio or e1000e",
        "install.method cdrom needs install.cdrom",
    ]
    with pytest.raises(Refusals) as error:
        GuestRequest.from_params(given)
    assert str(error.value) == problems[0] and error.value.messages == problems


def test_a_valid_request_has_no_refusals():
    request, problems = GuestRequest.read(params(name="web01", disks=[disk(size="1M")]))
    assert problems == [] and request is not None and request.disks[0].target == "vda"


def test_consistency_is_checked_once_the_options_read():
    request, problems = GuestRequest.read(params(name="web01", install=install(method="import")))
    assert request is None and problems == ["install method import boots an existing disk: give it in disks"]


@pytest.mark.parametrize("boot_dir", ["/", "/etc", "/proc", "/sys/kernel", "/dev/shm", "/var/lib/libvirt", "/usr/./lib", "/boot"])
def test_boot_dir_in_a_system_directory_is_refused(boot_dir):
    """/proc and /sys pass every check of an existing root directory and fail only when the run
    writes the kernel there; /etc and /dev would hold kernels, initrds and seed ISOs."""
    tree = install(method="location", location="http://mirror.example/tree/", boot_dir=boot_dir)
    with pytest.raises(Refusals, match="install.boot_dir %s is one of the host's system directories" % boot_dir):
        GuestRequest.from_params(params(name="web01", install=tree))


def test_boot_dir_of_its_own_under_boot_is_taken():
    tree = install(method="location", location="http://mirror.example/tree/", boot_dir="/boot/guests")
    assert GuestRequest.from_params(params(name="web01", install=tree)).install.boot_dir == "/boot/guests"


@pytest.mark.parametrize("kickstart", ['http://ks.example/k"s.cfg', 'cdrom:/k"s.cfg', 'nfs:srv:/k"s.cfg'])
def test_a_kickstart_reference_with_a_double_quote_is_refused(kickstart):
    """inst.ks=... goes on the kernel command line before extra_args: an unbalanced quote there would
    make the kernel read 'console=ttyS0' and the rest as part of the kickstart's URL."""
    tree = install(method="location", location="http://mirror.example/tree/", kickstart=kickstart, extra_args="console=ttyS0")
    with pytest.raises(Refusals, match="install.kickstart must not contain a double quote"):
        GuestRequest.from_params(params(name="web01", install=tree))


@pytest.mark.parametrize(
    "kickstart",
    ["nfs://ku:KsPwX91@srv/ks.cfg", "nfs://ku@srv/ks.cfg", "nfs://srv/ks.cfg?token=KsTok9876", "NFS://u:p@srv/ks.cfg"],
)
def test_an_nfs_kickstart_url_with_credentials_or_a_token_is_refused(kickstart):
    """The host fetches only http, https and ftp kickstarts into the initrd: an nfs URL would go to the
    installer on the guest's kernel command line, where any libvirt client reads it."""
    tree = install(method="location", location="http://mirror.example/tree/", kickstart=kickstart)
    with pytest.raises(
        Refusals, match="install.kickstart: an nfs URL goes to the installer on the guest's kernel command line"
    ) as raised:
        GuestRequest.from_params(params(name="web01", install=tree))
    assert "KsPwX91" not in str(raised.value) and "KsTok9876" not in str(raised.value)


@pytest.mark.parametrize("kickstart", ["nfs://srv/ks.cfg", "nfs://srv/ks.cfg?version=4", "nfs:srv:/ks.cfg"])
def test_an_nfs_kickstart_without_secrets_goes_to_the_installer(kickstart):
    tree = install(method="location", location="http://mirror.example/tree/", kickstart=kickstart)
    request = GuestRequest.from_params(params(name="web01", install=tree))
    assert not request.install.kickstart_injected


@pytest.mark.parametrize("location", ["http://h/tree/?a=b", "https://h/tree/#top", "ftp://h/tree?x"])
def test_an_install_tree_url_with_a_query_or_fragment_is_refused(location):
    """The tree's files are read at paths under the URL's: a query would end up in the middle of each."""
    with pytest.raises(Refusals, match="install.location: an (http|https|ftp) install tree URL has no query"):
        GuestRequest.from_params(params(name="web01", install=install(method="location", location=location)))


def test_an_nfs_install_tree_keeps_its_libnfs_options():
    tree = install(method="location", location="nfs://srv/export/tree?version=4")
    assert GuestRequest.from_params(params(name="web01", install=tree)).install.location == "nfs://srv/export/tree?version=4"


# BREAK (fixed): a removal read no install options, so a seed ISO written to another boot_dir (with the
# guest's no_log user_data in it) stayed on the host.
def test_a_removal_reads_the_boot_dir_of_its_seed_and_nothing_else_of_install():
    removal = params(name="web01", state="absent", install=dict(boot_dir="/var/tmp/seeds", method="cdrom", location="x"))
    assert GuestRequest.from_params(removal).install.boot_dir == "/var/tmp/seeds"
    assert GuestRequest.from_params(params(name="web01", state="absent")).install.boot_dir == "/var/lib/libvirt/boot"
    with pytest.raises(Refusals, match="install.boot_dir /etc is one of the host's system directories"):
        GuestRequest.from_params(params(name="web01", state="absent", install=dict(boot_dir="/etc")))

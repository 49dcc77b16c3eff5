"""Differential: virt_preflight's verdict on a list of guests against virt_guest_install run guest by
guest in list order on libvirt's test driver (each later guest meets what the earlier ones made).
Whatever the installs refuse, the preflight refuses for that guest; whatever it accepts, they
accept; guests that take the same disk, install ISO, seed path, MAC address, serial log or graphics
port from each other are refused although each alone is fine."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import DEFAULT_BOOT_DIR
from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run as install
from ansible_collections.remotevirt.install.plugins.module_utils._preflight import run as preflight
from strategies import twisted

POOL = "default-pool"
SHARED = "rt11-shared.img"
ISO = "rt11-boot.iso"
SECRETS = ("rt11-user-data-secret", "rt11-graphics-secret", "rt11-kickstart-secret")


def guest(name, **options):
    entry = dict(
        name=name,
        memory=256,
        disks=[dict(pool=POOL, size="1M")],
        networks=[dict(network="default")],
        install=dict(method="import"),
        domain_type="qemu",
    )
    entry.update(options)
    return entry


@pytest.fixture
def host(test_client, tmp_path):
    """The test driver with an existing disk volume and ISO volume, and a boot_dir with a file
    named like guest rt11-a's seed ISO; every rt11- guest and made volume removed afterwards."""
    pool = test_client.conn.storagePoolLookupByName(POOL)
    for name in (SHARED, ISO):
        pool.createXML("<volume><name>%s</name><capacity>1048576</capacity></volume>" % name, 0)
    (tmp_path / "remotevirt-rt11-a-cidata.iso").write_bytes(b"\0" * 4096)
    # Empty: a serial log that names a file holding something is refused on its own (libvirt's log
    # daemon would rotate it away), and these cases are about the clash with the other guest.
    (tmp_path / "rt11-disk.img").write_bytes(b"")
    (tmp_path / "rt11-hard.log").hardlink_to(tmp_path / "rt11-disk.img")
    yield str(tmp_path)
    for domain in test_client.conn.listAllDomains(0):
        if domain.name().startswith("rt11-"):
            if domain.isActive():
                domain.destroy()
            domain.undefine()
    for volume in pool.listAllVolumes(0):
        if volume.name().startswith("rt11-"):
            volume.delete(0)


def verdicts(guests):
    """(preflight's refused guests, the installs' refused guests, preflight's problems), the
    installs run for real one after the other, each refusal a message (never a Python error)."""
    result = preflight(dict(uri="test:///default", guests=guests, probe_kvm=False, check_memory=False))
    assert result["ok"] == (not result["problems"])
    installs_refused = {}
    for entry in guests:
        try:
            install(dict(entry, uri="test:///default"), check_mode=False, diff=False)
        except RemotevirtError as error:
            installs_refused.setdefault(entry.get("name"), str(error))
    preflight_refused = {problem["guest"] for problem in result["problems"]}
    for problem in result["problems"]:
        assert not any(secret in problem["message"] for secret in SECRETS), problem
    return preflight_refused, installs_refused, result["problems"]


def clash_cases(tmp):
    seed = "%s/remotevirt-rt11-a-cidata.iso" % tmp
    cloud = dict(cloud_init=dict(user_data="#cloud-config\n{}"), install=dict(method="import", boot_dir=tmp))
    cdrom = dict(install=dict(method="cdrom", cdrom=dict(pool=POOL, volume=ISO)))
    return {
        "same new volume": [
            guest("rt11-a", disks=[dict(pool=POOL, volume="rt11-new.qcow2", size="1M")]),
            guest("rt11-b", disks=[dict(pool=POOL, volume="rt11-new.qcow2", size="1M")]),
        ],
        "same existing disk": [
            guest("rt11-a", disks=[dict(pool=POOL, volume=SHARED)]),
            guest("rt11-b", disks=[dict(pool=POOL, volume=SHARED)]),
        ],
        "shared on purpose by the earlier guest only": [
            guest("rt11-a", disks=[dict(pool=POOL, volume=SHARED, allow_in_use=True)]),
            guest("rt11-b", disks=[dict(pool=POOL, volume=SHARED)]),
        ],
        "ISO written by one, read by the other": [guest("rt11-a", disks=[dict(pool=POOL, volume=ISO)]), guest("rt11-b", **cdrom)],
        "ISO read by one, written by the other": [guest("rt11-b", **cdrom), guest("rt11-a", disks=[dict(pool=POOL, volume=ISO)])],
        "disk on the other's seed ISO": [guest("rt11-a", **cloud), guest("rt11-b", disks=[dict(path=seed)])],
        "seed ISO over the other's disk": [guest("rt11-b", disks=[dict(path=seed)]), guest("rt11-a", **cloud)],
        "same MAC": [
            guest("rt11-a", networks=[dict(network="default", mac="52:54:00:11:00:0a")]),
            guest("rt11-b", networks=[dict(network="default", mac="52:54:00:11:00:0A")]),
        ],
        "same serial log": [guest("rt11-a", serial_log=tmp + "/s.log"), guest("rt11-b", serial_log=tmp + "//./s.log")],
        "serial log on the other's disk": [
            guest("rt11-a", disks=[dict(path=tmp + "/rt11-disk.img")]),
            guest("rt11-b", serial_log=tmp + "/./rt11-disk.img"),
        ],
        "serial log hard-linked to the other's disk": [
            guest("rt11-a", disks=[dict(path=tmp + "/rt11-disk.img")]),
            guest("rt11-b", serial_log=tmp + "/rt11-hard.log"),
        ],
        "disk on the other's serial log": [
            guest("rt11-a", serial_log=tmp + "/rt11-disk.img"),
            guest("rt11-b", disks=[dict(path=tmp + "/rt11-disk.img")]),
        ],
        "same graphics port": [
            guest("rt11-a", graphics=dict(type="vnc", port=5999)),
            guest("rt11-b", graphics=dict(type="spice", port=5999)),
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "same new volume",
        "same existing disk",
        "shared on purpose by the earlier guest only",
        "ISO written by one, read by the other",
        "ISO read by one, written by the other",
        "disk on the other's seed ISO",
        "seed ISO over the other's disk",
        "same MAC",
        "same serial log",
        "serial log on the other's disk",
        "serial log hard-linked to the other's disk",
        "disk on the other's serial log",
        "same graphics port",
    ],
)
def test_guests_that_clash_are_refused_naming_both(host, case):
    guests = clash_cases(host)[case]
    for entry in guests:  # each alone is fine
        assert preflight(dict(uri="test:///default", guests=[entry], probe_kvm=False, check_memory=False))["ok"], entry
    refused, installs_refused, problems = verdicts(guests)
    later, earlier = guests[1]["name"], guests[0]["name"]
    assert refused == {later}, problems
    assert [problem["check"] for problem in problems] == ["clash"]
    assert earlier in problems[0]["message"]
    assert set(installs_refused) <= refused, installs_refused


@pytest.mark.parametrize("maker_first", [True, False])
def test_an_install_iso_another_guest_makes_as_its_disk_names_that_guest(host, maker_first):
    """The ISO volume does not exist yet: the problem is the guest of the list that makes it as a
    disk it writes, not the missing volume."""
    maker = guest("rt11-a", disks=[dict(pool=POOL, volume="rt11-new.iso", size="1M")])
    booter = guest("rt11-b", install=dict(method="cdrom", cdrom=dict(pool=POOL, volume="rt11-new.iso")))
    guests = [maker, booter] if maker_first else [booter, maker]
    refused, installs_refused, problems = verdicts(guests)
    assert refused == {"rt11-b"}, problems
    assert [(problem["check"], problem["message"]) for problem in problems] == [
        (
            "clash",
            "install.cdrom: volume %s/rt11-new.iso does not exist yet: guest rt11-a, %s in this list, makes it as a "
            "disk it writes; give an ISO of its own" % (POOL, "earlier" if maker_first else "later"),
        )
    ]
    assert set(installs_refused) == {"rt11-b"}, installs_refused


def test_an_install_iso_nobody_makes_is_still_missing(host):
    guests = [guest("rt11-a"), guest("rt11-b", install=dict(method="cdrom", cdrom=dict(pool=POOL, volume="rt11-none.iso")))]
    problems = verdicts(guests)[2]
    assert [(problem["check"], problem["message"]) for problem in problems] == [
        ("host", "install.cdrom: volume %s/rt11-none.iso does not exist" % POOL)
    ]


@pytest.mark.parametrize("option", ["serial_log", "disks"])
def test_a_file_reached_through_a_linked_directory_is_the_same_file(host, option):
    """A directory linked to another names the same files: a serial log or disk file spelt through
    the link is a clash (the installs refuse the disk only after the first guest was made)."""
    real = "%s/real" % host
    os.mkdir(real)
    os.symlink(real, "%s/link" % host)
    with open(real + "/d.img", "wb") as disk:
        disk.write(b"\0" * 4096)
    if option == "serial_log":
        guests = [guest("rt11-a", serial_log=real + "/s.log"), guest("rt11-b", serial_log=host + "/link/s.log")]
    else:
        guests = [guest("rt11-a", disks=[dict(path=real + "/d.img")]), guest("rt11-b", disks=[dict(path=host + "/link/d.img")])]
    refused, installs_refused, problems = verdicts(guests)
    assert refused == {"rt11-b"}, problems
    assert [problem["check"] for problem in problems] == ["clash"]
    assert "guest rt11-a" in problems[0]["message"]
    assert set(installs_refused) <= refused, installs_refused


def test_sharing_on_purpose_by_the_later_guest_passes(host):
    guests = [
        guest("rt11-a", disks=[dict(pool=POOL, volume=SHARED)]),
        guest("rt11-b", disks=[dict(pool=POOL, volume=SHARED, allow_in_use=True)]),
    ]
    assert verdicts(guests)[:2] == (set(), {})


def test_guests_that_share_values_already_pass_as_their_runs_converge(host, test_client, tmp_path):
    """Made apart, then given one MAC address, serial log and graphics port by someone else: each
    guest's run changes nothing and is not refused, so the list of both passes too."""
    shared = dict(
        networks=[dict(network="default", mac="52:54:00:11:00:21")],
        serial_log=str(tmp_path / "shared.log"),
        graphics=dict(type="vnc", port=5991),
    )
    guests = [guest("rt11-p", **shared), guest("rt11-q", **shared)]
    install(dict(guests[0], uri="test:///default"), False, False)
    apart = dict(networks=[dict(network="default")], serial_log=str(tmp_path / "b.log"), graphics=dict(type="vnc", port=5992))
    install(dict(guests[1], uri="test:///default", **apart), False, False)
    made_apart = test_client.domain_definition(test_client.find_domain("rt11-q"))
    taken = test_client.domain_definition(test_client.find_domain("rt11-p"))
    mac = taken.split("<mac address='")[1].split("'")[0]
    made_apart = made_apart.replace(made_apart.split("<mac address='")[1].split("'")[0], mac)
    made_apart = made_apart.replace(str(tmp_path / "b.log"), str(tmp_path / "shared.log"))
    made_apart = made_apart.replace("port='5992'", "port='5991'")
    test_client.conn.defineXML(made_apart)
    for entry in guests:
        rerun = install(dict(entry, uri="test:///default"), True, True)
        assert rerun["changed"] is False, (entry["name"], rerun.get("diff"))
    assert verdicts(guests)[:2] == (set(), {})


def test_a_seed_never_replaces_another_guests_disk(host, test_client):
    """virt_guest_install itself: a guest's cloud-init seed path that is a disk of another guest is refused."""
    install(
        dict(guest("rt11-b", disks=[dict(path="%s/remotevirt-rt11-a-cidata.iso" % host)]), uri="test:///default"), False, False
    )
    seed_guest = guest("rt11-a", cloud_init=dict(user_data="#cloud-config\n{}"), install=dict(method="import", boot_dir=host))
    with pytest.raises(RemotevirtError, match="seed ISO's path .* is a disk of guest.s. rt11-b"):
        install(dict(seed_guest, uri="test:///default"), True, False)


@pytest.mark.parametrize("remover_first", [True, False])
def test_a_removal_with_storage_of_a_volume_another_listed_guest_takes_is_refused(host, test_client, remover_first):
    """Removing guest r with remove_storage while guest t of the list takes r's volume: first in the
    list, the removal would delete the volume t's run needs; later, it would be refused with the volume
    in use. The preflight names r either way, before anything runs."""
    install(dict(guest("rt11-r", disks=[dict(pool=POOL, volume="rt11-r.qcow2", size="1M")]), uri="test:///default"), False, False)
    remover = dict(name="rt11-r", state="absent", remove_storage=True)
    taker = guest("rt11-t", disks=[dict(pool=POOL, volume="rt11-r.qcow2", allow_in_use=True)])
    guests = [remover, taker] if remover_first else [taker, remover]
    result = preflight(dict(uri="test:///default", guests=guests, probe_kvm=False, check_memory=False))
    assert [(problem["guest"], problem["check"]) for problem in result["problems"]] == [("rt11-r", "clash")]
    assert "volume %s/rt11-r.qcow2 of this guest is a disk or medium of guest rt11-t" % POOL in result["problems"][0]["message"]
    kept = dict(remover, remove_storage=False)
    assert preflight(dict(uri="test:///default", guests=[kept, taker], probe_kvm=False, check_memory=False))["ok"]


# -- generated lists: valid, careless and hostile entries that meet each other ------------------
NAME = st.sampled_from(["rt11-a", "rt11-b", "rt11-c"]).flatmap(twisted)
DISK = st.one_of(
    st.fixed_dictionaries(dict(pool=st.just(POOL), size=st.sampled_from(["1M", "2M", "0"]).flatmap(twisted))),
    st.fixed_dictionaries(
        dict(pool=st.just(POOL), volume=st.sampled_from(["rt11-v1.qcow2", SHARED, ISO]).flatmap(twisted)),
        optional=dict(size=st.just("1M"), allow_in_use=st.booleans()),
    ),
    st.fixed_dictionaries(
        dict(path=st.sampled_from(["{tmp}/remotevirt-rt11-a-cidata.iso", "/default-pool/" + SHARED, "{tmp}/none.img"])),
        optional=dict(allow_in_use=st.booleans()),
    ),
)
NIC = st.fixed_dictionaries(
    dict(network=st.sampled_from(["default", "rt11-none"])),
    optional=dict(mac=st.sampled_from(["52:54:00:11:00:01", "52:54:00:11:00:02", "52:54:00:11:00:0A"]).flatmap(twisted)),
)
INSTALL = st.one_of(
    st.just(dict(method="import")),
    st.just(dict(method="cdrom", cdrom=dict(pool=POOL, volume=ISO))),
    st.just(dict(method="import", boot_dir="{tmp}")),
    st.just(dict(method="pxe", kickstart_content="rootpw rt11-kickstart-secret")),
)
ENTRY = st.fixed_dictionaries(
    dict(
        name=NAME, memory=st.just(256), disks=st.lists(DISK, min_size=1, max_size=2), install=INSTALL, domain_type=st.just("qemu")
    ),
    optional=dict(
        networks=st.lists(NIC, max_size=2),
        serial_log=st.sampled_from(["{tmp}/s1.log", "{tmp}/s2.log", "{tmp}/no-dir/s.log"]),
        cloud_init=st.just(dict(user_data="#cloud-config\npassword: rt11-user-data-secret\n")),
        graphics=st.sampled_from([dict(type="vnc", port=5990, password="rt11-graphics-secret"), dict(type="none")]),
        state=st.sampled_from(["present", "running", "absent"]),
    ),
)


def placed(value, tmp):
    if isinstance(value, str):
        return value.replace("{tmp}", tmp)
    if isinstance(value, dict):
        return {key: placed(item, tmp) for key, item in value.items()}
    if isinstance(value, list):
        return [placed(item, tmp) for item in value]
    return value


@settings(derandomize=True, max_examples=40)
@given(st.lists(ENTRY, min_size=1, max_size=3))
def test_preflight_refuses_every_guest_the_installs_refuse(request, test_client, tmp_path_factory, guests):
    """Generated lists: a guest virt_guest_install refuses (run in list order) is a guest the
    preflight refuses; a list the preflight passes installs guest by guest without a refusal."""
    tmp = str(tmp_path_factory.mktemp("rt11"))
    pool = test_client.conn.storagePoolLookupByName(POOL)
    for name in (SHARED, ISO):
        pool.createXML("<volume><name>%s</name><capacity>1048576</capacity></volume>" % name, 0)
    with open(tmp + "/remotevirt-rt11-a-cidata.iso", "wb") as seed:
        seed.write(b"\0" * 4096)
    seeds_before = _default_boot_dir_files()
    try:
        entries = [placed(entry, tmp) for entry in guests]
        refused, installs_refused, problems = verdicts(entries)
        host_wide = [problem for problem in problems if problem["guest"] is None]
        assert not host_wide, host_wide
        for name, message in installs_refused.items():
            assert name in refused or any(name in (problem["guest"] or "") for problem in problems), (name, message, problems)
        if not problems:
            assert installs_refused == {}
    finally:
        for domain in test_client.conn.listAllDomains(0):
            if domain.name().startswith("rt11-") or "rt11" in domain.name():
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
        for volume in pool.listAllVolumes(0):
            if "rt11" in volume.name():
                volume.delete(0)
        # Guests installed without a boot_dir wrote their seed ISO in the host's default one.
        for name in _default_boot_dir_files() - seeds_before:
            os.unlink(os.path.join(DEFAULT_BOOT_DIR, name))


def _default_boot_dir_files():
    try:
        return set(os.listdir(DEFAULT_BOOT_DIR))
    except OSError:
        return set()


def test_a_serial_log_that_holds_another_programs_lines_is_a_problem(host):
    """The preflight refuses what the module refuses: a new serial log on a file that holds lines already."""
    log = os.path.join(host, "app.log")
    with open(log, "w") as handle:
        handle.write("another program's lines\n")
    result = preflight(dict(uri="test:///default", guests=[guest("rt11-a", serial_log=log)], probe_kvm=False, check_memory=False))
    assert not result["ok"]
    refusal = "app.log holds 24 bytes already and is no log of this guest"
    assert any(refusal in problem["message"] for problem in result["problems"])

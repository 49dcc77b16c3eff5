"""The client against libvirt's embedded test driver."""

from __future__ import annotations

import os

import libvirt
import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import domains_using
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt import client as client_module
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError, version_text
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume


def test_lookups_return_none_for_missing_objects(test_client):
    assert test_client.find_pool("no-such-pool") is None
    pool = test_client.find_pool("default-pool")
    assert test_client.find_volume(pool, "no-such-volume") is None


def test_describes_pool(test_client):
    pool = test_client.describe_pool(test_client.find_pool("default-pool"))
    assert pool.name == "default-pool" and pool.type == "dir" and pool.available > 0


def test_errors_name_operation_and_object(test_client):
    pool = test_client.find_pool("default-pool")
    bad = Volume(name="x", capacity=1, format="no-such-format").to_xml()
    with pytest.raises(LibvirtError) as error:
        test_client.create_volume(pool, bad)
    assert str(error.value).startswith("create volume in pool default-pool: ")
    assert "no-such-format" in error.value.message


def test_unreachable_uri_is_a_clear_error():
    client = Client("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    with pytest.raises(LibvirtError, match="connect to qemu\\+unix:///system"):
        client.version()


def test_domains_using_matches_path_and_pool_volume(test_client):
    conn = test_client.conn
    xml = (
        "<domain type='test'><name>user-of-vol</name><memory>1024</memory><os><type>hvm</type></os><devices>"
        "<disk type='volume' device='disk'><source pool='default-pool' volume='used.qcow2'/>"
        "<target dev='vda'/></disk></devices></domain>"
    )
    domain = conn.defineXML(xml)
    try:
        assert domains_using(test_client, "default-pool", "used.qcow2", None, None) == ["user-of-vol"]
        assert domains_using(test_client, "default-pool", "other.qcow2", "/guest/diskimage1", None) == ["test"]
        assert domains_using(test_client, "default-pool", "other.qcow2", "/elsewhere", None) == []
    finally:
        domain.undefine()


def test_version_text():
    assert version_text(9000000) == "9.0.0"
    assert version_text(6010002) == "6.10.2"


def test_networks_in_use_lists_active_and_autostarted_networks(test_client, unique_name):
    name = "rvn-" + unique_name("")[-20:].lstrip("-")
    xml = "<network><name>%s</name><bridge name='rvn-iu0'/><ip address='10.215.1.1' prefix='24'/></network>" % name
    network = test_client.conn.networkDefineXML(xml)
    try:
        assert name not in [entry[0] for entry in test_client.networks_in_use()]  # neither running nor at boot
        network.setAutostart(1)
        (found,) = [entry for entry in test_client.networks_in_use() if entry[0] == name]
        assert found[2:] == (False, True) and "10.215.1.1" in found[1]
        assert ("default", True) == [entry[:3:2] for entry in test_client.networks_in_use() if entry[0] == "default"][0]
    finally:
        network.undefine()


def test_power_of_a_guest_that_went_after_its_lookup_is_none(test_client, unique_name):
    """Another tool undefines the guest between its lookup and the reads of its state: None (absent),
    not "Domain not found" from the read."""
    name = unique_name("")
    test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    domain = test_client.find_domain(name)
    assert test_client.domain_power_if_present(domain) == ("shut off", "unknown", False, True)
    test_client.conn.lookupByName(name).undefine()
    assert test_client.domain_power_if_present(domain) is None


def test_activity_of_a_guest_that_went_after_its_lookup_is_none(test_client, unique_name):
    name = unique_name("")
    test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    domain = test_client.find_domain(name)
    assert test_client.domain_active_if_present(domain) is False
    test_client.conn.lookupByName(name).undefine()
    assert test_client.domain_active_if_present(domain) is None


def test_live_definition_of_a_guest_that_went_after_its_lookup_is_none(test_client, unique_name):
    name = unique_name("")
    test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    domain = test_client.find_domain(name)
    assert "<name>%s</name>" % name in test_client.domain_live_definition_if_present(domain)
    test_client.conn.lookupByName(name).undefine()
    assert test_client.domain_live_definition_if_present(domain) is None


def test_a_failure_other_than_not_found_is_not_taken_for_a_vanished_guest(test_client, unique_name):
    """Only "no such guest" means gone: any other failure (a daemon that stopped answering) is raised."""
    name = unique_name("")
    test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    domain = test_client.find_domain(name)

    def refuse(*_args):
        raise libvirt.libvirtError("internal error: the daemon is busy")

    domain.XMLDesc = refuse
    with pytest.raises(LibvirtError) as raised:
        test_client.domain_live_definition_if_present(domain)
    assert not raised.value.not_found


@pytest.mark.parametrize("change", ["start", "stop"])
def test_a_guest_that_starts_or_stops_while_the_host_is_listed_is_listed(test_client, unique_name, change):
    """Another tool starts or stops the guest just after the host's first listing call: the guest
    (and with it the disks it uses, for the in-use checks) is still listed, once."""
    name = unique_name("")
    domain = test_client.conn.defineXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os></domain>" % name
    )
    if change == "stop":
        domain.create()
    conn = test_client.conn
    first = []

    def after_the_first_listing(listing):
        def listed(*args):
            found = listing(*args)
            if not first:
                first.append(listing.__name__)
                domain.create() if change == "start" else domain.destroy()
            return found

        return listed

    for method in ("listAllDomains", "listDefinedDomains", "listDomainsID"):
        setattr(conn, method, after_the_first_listing(getattr(conn, method)))
    try:
        listed = [entry for entry in test_client.guest_names() if entry[0] == name]
        assert listed == [(name, change == "stop")]  # as of the listing
        assert test_client.guest_names().count((name, change == "start")) == 1  # as it is now
    finally:
        for method in ("listAllDomains", "listDefinedDomains", "listDomainsID"):
            delattr(conn, method)
        if domain.isActive():
            domain.destroy()
        domain.undefine()


class _Counted:
    """A libvirt call wrapped to count its calls."""

    def __init__(self, call):
        self.call, self.args = call, []

    def __call__(self, *args):
        self.args.append(args)
        return self.call(*args)


def test_the_platform_documents_are_read_and_parsed_once(test_client, monkeypatch):
    """virt_preflight plans many guests on one connection: each document is asked for and parsed once."""
    capabilities = _Counted(test_client.conn.getCapabilities)
    domain_capabilities = _Counted(test_client.conn.getDomainCapabilities)
    monkeypatch.setattr(test_client.conn, "getCapabilities", capabilities)
    monkeypatch.setattr(test_client.conn, "getDomainCapabilities", domain_capabilities)
    platforms = test_client.host_platforms()
    assert test_client.host_platforms() is platforms and test_client.host_capabilities()
    for _round in range(3):
        # The test driver keeps no domain capabilities: that says nothing, it refuses nothing.
        assert test_client.domain_capabilities_refusal("aarch64", "qemu", "virt") is None
        assert test_client.firmware_offer("aarch64", "qemu", "virt") is None
    assert len(capabilities.args) == 1 and domain_capabilities.args == [(None, "aarch64", "virt", "qemu", 0)]


@pytest.mark.parametrize(
    "code, refused",
    [(libvirt.VIR_ERR_CONFIG_UNSUPPORTED, True), (libvirt.VIR_ERR_INVALID_ARG, True), (libvirt.VIR_ERR_INTERNAL_ERROR, False)],
)
def test_only_a_refusal_of_the_platform_is_kept(test_client, monkeypatch, code, refused):
    """No emulator for the architecture, a machine type it lacks: libvirt's words are the reason. A
    failure of another kind says nothing of the platform."""

    def refuse(*_args):
        error = libvirt.libvirtError("unable to find any emulator to serve 'aarch64' architecture")
        error.err = (code, 0, "unable to find any emulator to serve 'aarch64' architecture", 0, "", None, None, 0, 0)
        raise error

    monkeypatch.setattr(test_client.conn, "getDomainCapabilities", refuse)
    reason = test_client.domain_capabilities_refusal("aarch64", "qemu")
    assert (reason == "unable to find any emulator to serve 'aarch64' architecture") is refused
    assert refused or reason is None


class _BusyPoolError(libvirt.libvirtError):
    """libvirt's refusal to refresh a pool while one of its volume jobs runs."""

    def __init__(self) -> None:  # pylint: disable=super-init-not-called
        self.err = None

    def get_error_code(self) -> int:
        return libvirt.VIR_ERR_INTERNAL_ERROR

    def get_error_message(self) -> str:
        return "internal error: pool 'busy' has asynchronous jobs running."


class _BusyPool:
    """A pool whose volume job ends after ``busy_tries`` refused refreshes."""

    def __init__(self, busy_tries: int) -> None:
        self.busy_tries = busy_tries
        self.tries = 0

    def name(self) -> str:
        return "busy"

    def refresh(self, flags: int) -> int:
        self.tries += 1
        if self.tries <= self.busy_tries:
            raise _BusyPoolError()
        return 0


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch):
    """time.monotonic and time.sleep of the client on a clock that only sleeping moves."""
    now = [0.0]
    monkeypatch.setattr(client_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    return now


def test_refresh_after_a_change_waits_for_the_pools_volume_job(clock):
    pool = _BusyPool(busy_tries=5)
    Client("test:///default").refresh_pool(pool)
    assert pool.tries == 6
    assert 0 < clock[0] < 10


def test_refresh_after_a_change_gives_up_on_a_job_that_never_ends(clock):
    pool = _BusyPool(busy_tries=10**6)
    with pytest.raises(LibvirtError, match=r"asynchronous jobs running\. \(waited 900 s for them to end\)$"):
        Client("test:///default").refresh_pool(pool)
    limit = client_module.POOL_JOBS_WAIT_SECONDS
    assert limit - client_module.POOL_JOBS_MAX_PAUSE <= clock[0] <= limit
    assert pool.tries < 500


def test_refresh_for_a_read_takes_a_busy_pool_as_listed_and_does_not_ask_again(clock):
    pool = _BusyPool(busy_tries=1)
    client = Client("test:///default")
    client.refresh_pool_unless_busy(pool)
    client.refresh_pool_once(pool)
    assert pool.tries == 1 and clock[0] == 0


def test_refresh_fails_at_once_on_other_errors(clock):
    class _Gone(_BusyPool):
        def refresh(self, flags: int) -> int:
            self.tries += 1
            raise _NotFoundError()

    class _NotFoundError(_BusyPoolError):
        def get_error_message(self) -> str:
            return "storage pool 'busy' is not active"

    pool = _Gone(busy_tries=0)
    with pytest.raises(LibvirtError, match="is not active"):
        Client("test:///default").refresh_pool(pool)
    assert pool.tries == 1 and clock[0] == 0


def test_a_volume_made_raw_backs_nothing_whatever_header_libvirt_read(test_client, unique_name, tmp_path, monkeypatch):
    """Its guest wrote the header: naming another volume there must not make that volume one this
    backs (a deletion of it refused as needed). A volume not made plain still counts."""
    pool = test_client.find_pool("default-pool")
    made_raw, other = tmp_path / "made-raw.img", tmp_path / "other.qcow2"
    for path in (made_raw, other):
        path.write_bytes(b"QFI\xfb")
    try:
        os.setxattr(str(made_raw), "user.remotevirt.format", b"raw")
    except OSError:
        pytest.skip("no user extended attributes here")
    names = [unique_name(".img"), unique_name(".qcow2")]
    for name in names:
        pool.createXML("<volume><name>%s</name><capacity>4096</capacity></volume>" % name, 0)
    files = dict(zip(names, (str(made_raw), str(other))))
    read = Volume.from_xml

    def from_xml_backed_by_base(cls, xml):
        found = read(xml)
        return found.with_changes(path=files.get(found.name, found.path), backing_path="/img/base.img")

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    monkeypatch.setattr(client_module.Volume, "from_xml", classmethod(from_xml_backed_by_base))
    try:
        assert test_client.volumes_backed_within(pool, lambda path: path == "/img/base.img", names) == [names[1]]
    finally:
        monkeypatch.undo()
        for name in names:
            test_client.find_volume(pool, name).delete(0)

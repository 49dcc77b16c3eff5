"""Install trees: finding kernel and initrd on host paths and over HTTP, NFS locations, kickstart arguments."""

from __future__ import annotations

import functools
import http.server
import socket
import threading

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import kernel_cmdline
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_tree import find_tree, layouts, nfs_url
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import UrlAccess

REDHAT = ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img")
NETBOOT = "main/installer-amd64/current/images/netboot/"
DEBIAN_NETBOOT = (NETBOOT + "debian-installer/amd64/linux", NETBOOT + "debian-installer/amd64/initrd.gz")
UBUNTU_NETBOOT = (NETBOOT + "ubuntu-installer/amd64/linux", NETBOOT + "ubuntu-installer/amd64/initrd.gz")
DEBIAN_BARE = ("debian-installer/amd64/linux", "debian-installer/amd64/initrd.gz")


def make_tree(root, *files):
    """Files (relative paths) under ``root``, each with a little content; returns ``root`` as text."""
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"content of " + relative.encode())
    return str(root)


# -- layouts ---------------------------------------------------------------------------------------------
def test_layouts_most_specific_first():
    """Red Hat first, then Debian's netboot tree (debian, ubuntu), then a bare debian-installer directory."""
    assert list(layouts("x86_64")) == [
        ("redhat",) + REDHAT,
        ("debian",) + DEBIAN_NETBOOT,
        ("debian",) + UBUNTU_NETBOOT,
        ("debian",) + DEBIAN_BARE,
        ("debian", "ubuntu-installer/amd64/linux", "ubuntu-installer/amd64/initrd.gz"),
    ]


@pytest.mark.parametrize(
    "arch, debian",
    [
        ("x86_64", "amd64"),
        ("aarch64", "arm64"),
        ("i686", "i386"),
        ("ppc64le", "ppc64el"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ],
)
def test_layouts_use_debian_architecture_names(arch, debian):
    """Debian paths use Debian's names for the architecture; unknown ones pass through."""
    kernels = [layout[1] for layout in layouts(arch) if layout[0] == "debian"]
    assert kernels[0] == "main/installer-%s/current/images/netboot/debian-installer/%s/linux" % (debian, debian)
    assert all(debian in kernel for kernel in kernels)
    assert layouts(arch)[0][1:] == REDHAT  # Red Hat trees do not name the architecture


# -- host paths ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "files, family, kernel, initrd",
    [
        (REDHAT, "redhat") + REDHAT,
        (DEBIAN_NETBOOT, "debian") + DEBIAN_NETBOOT,
        (UBUNTU_NETBOOT, "debian") + UBUNTU_NETBOOT,
        (DEBIAN_BARE, "debian") + DEBIAN_BARE,
    ],
    ids=["redhat", "debian netboot", "ubuntu netboot", "bare debian-installer"],
)
def test_find_tree_on_host_path(tmp_path, files, family, kernel, initrd):
    """Each known layout is recognised, with absolute host paths of kernel and initrd."""
    root = make_tree(tmp_path, *files)
    assert find_tree(root, "x86_64") == InstallTree(
        family=family, kernel="%s/%s" % (root, kernel), initrd="%s/%s" % (root, initrd)
    )


def test_find_tree_accepts_a_trailing_slash(tmp_path):
    root = make_tree(tmp_path, *REDHAT)
    assert find_tree(root + "/", "x86_64").kernel == root + "/images/pxeboot/vmlinuz"


@pytest.mark.parametrize(
    "files, expected",
    [
        (REDHAT + DEBIAN_NETBOOT + DEBIAN_BARE, REDHAT),
        (DEBIAN_NETBOOT + UBUNTU_NETBOOT + DEBIAN_BARE, DEBIAN_NETBOOT),
        (UBUNTU_NETBOOT + DEBIAN_BARE, UBUNTU_NETBOOT),
        # A layout with only its kernel does not count: the next complete one wins.
        (REDHAT[:1] + DEBIAN_BARE, DEBIAN_BARE),
        (DEBIAN_NETBOOT[1:] + DEBIAN_BARE, DEBIAN_BARE),
    ],
    ids=[
        "redhat over debian",
        "debian netboot over the rest",
        "ubuntu netboot over bare",
        "redhat kernel without initrd",
        "netboot initrd without kernel",
    ],
)
def test_find_tree_preference_order(tmp_path, files, expected):
    root = make_tree(tmp_path, *files)
    tree = find_tree(root, "x86_64")
    assert (tree.kernel, tree.initrd) == ("%s/%s" % (root, expected[0]), "%s/%s" % (root, expected[1]))


def test_find_tree_uses_the_requested_architecture(tmp_path):
    """An arm64 netboot tree is found for aarch64 and not for x86_64."""
    arm = "main/installer-arm64/current/images/netboot/debian-installer/arm64/"
    root = make_tree(tmp_path, arm + "linux", arm + "initrd.gz")
    assert find_tree(root, "aarch64").kernel == "%s/%slinux" % (root, arm)
    with pytest.raises(PlanError):
        find_tree(root, "x86_64")


def test_find_tree_directories_are_not_files(tmp_path):
    """A directory where the kernel should be is not a kernel."""
    (tmp_path / "images/pxeboot/vmlinuz").mkdir(parents=True)
    (tmp_path / "images/pxeboot/initrd.img").write_bytes(b"x")
    with pytest.raises(PlanError):
        find_tree(str(tmp_path), "x86_64")


def test_find_tree_without_kernel_lists_what_was_tried(tmp_path):
    """No layout matches: the error names the location and every kernel path tried, in order."""
    root = make_tree(tmp_path, "README", "images/pxeboot/initrd.img")
    with pytest.raises(PlanError) as error:
        find_tree(root, "x86_64")
    message = str(error.value)
    assert message.startswith("install.location %s has no kernel and initrd in a known layout (tried " % root)
    tried = message.split("(tried ", 1)[1].rstrip(")").split(", ")
    assert tried == [layout[1] for layout in layouts("x86_64")]


def test_find_tree_on_missing_directory(tmp_path):
    with pytest.raises(PlanError, match="has no kernel and initrd"):
        find_tree(str(tmp_path / "nowhere"), "x86_64")


# -- over HTTP -------------------------------------------------------------------------------------------
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; records request lines instead of printing them."""

    requests: list = []

    def log_message(self, *args):
        self.requests.append(self.requestline)


@pytest.fixture
def http_tree(tmp_path, monkeypatch):
    """(base URL, directory, request log) of a real HTTP server on 127.0.0.1 serving ``tmp_path``."""
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    log = []
    handler = type("Handler", (QuietHandler,), {"requests": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/tree/" % server.server_address[1], tmp_path / "tree", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_find_tree_over_http(http_tree):
    """A Debian netboot tree on a web server: found after the Red Hat layout answered 404, with URLs
    joined without double slashes, and without downloading anything (HEAD requests only)."""
    url, directory, log = http_tree
    make_tree(directory, *DEBIAN_NETBOOT)
    assert find_tree(url, "x86_64", UrlAccess(validate_certs=False)) == InstallTree(
        family="debian", kernel=url + DEBIAN_NETBOOT[0], initrd=url + DEBIAN_NETBOOT[1]
    )
    assert "//" not in (url + DEBIAN_NETBOOT[0]).split("://", 1)[1]
    assert all(line.startswith(("HEAD ", "GET ")) for line in log)
    assert "HEAD /tree/%s HTTP/1.1" % DEBIAN_NETBOOT[0] in log
    assert not any(line.startswith("GET /tree/main/") for line in log)


def test_find_tree_over_http_redhat(http_tree):
    url, directory = http_tree[:2]
    make_tree(directory, *REDHAT)
    tree = find_tree(url.rstrip("/"), "x86_64")
    assert tree == InstallTree(family="redhat", kernel=url + REDHAT[0], initrd=url + REDHAT[1])


def test_find_tree_over_http_without_kernel(http_tree):
    """Nothing served: every layout is tried (404s), then the error lists them."""
    url, directory, log = http_tree
    make_tree(directory, "index.txt")
    with pytest.raises(PlanError) as error:
        find_tree(url, "x86_64")
    assert str(error.value) == "install.location %s has no kernel and initrd in a known layout (tried %s)" % (
        url,
        ", ".join(layout[1] for layout in layouts("x86_64")),
    )
    assert len(log) >= len(layouts("x86_64"))


def test_find_tree_over_http_unreachable_server():
    """A port nothing listens on is no tree either (not a crash)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d/tree/" % probe.getsockname()[1]
    with pytest.raises(PlanError, match="has no kernel and initrd"):
        find_tree(dead, "x86_64")


# -- NFS -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "location, url",
    [
        ("nfs://nfs.example.org/export/alma9", "nfs://nfs.example.org/export/alma9"),
        ("NFS://nfs.example.org/export/alma9", "nfs://nfs.example.org/export/alma9"),
        ("nfs://127.0.0.1/trees/redhat?version=4&nfsport=20490", "nfs://127.0.0.1/trees/redhat?version=4&nfsport=20490"),
        ("nfs:nfs.example.org:/export/alma9", "nfs://nfs.example.org/export/alma9"),
        ("nfs:nfs.example.org", None),
        ("http://mirror.example.org/os/", None),
        ("/srv/tree", None),
    ],
)
def test_nfs_url(location, url):
    """Both NFS spellings become one libnfs URL (scheme in any case); other locations are not NFS."""
    assert nfs_url(location) == url


def test_nfs_query_stays_at_the_end():
    """Paths inside an NFS tree go before libnfs's options."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_tree import _join

    assert _join("nfs://h/t?version=4", "images/pxeboot/vmlinuz") == "nfs://h/t/images/pxeboot/vmlinuz?version=4"


# -- kickstart arguments ---------------------------------------------------------------------------------
REDHAT_TREE = InstallTree(family="redhat", kernel="/t/images/pxeboot/vmlinuz", initrd="/t/images/pxeboot/initrd.img")
DEBIAN_TREE = InstallTree(family="debian", kernel="/t/linux", initrd="/t/initrd.gz")


@pytest.mark.parametrize(
    "tree, reference, injected, args",
    [
        (REDHAT_TREE, None, True, ["inst.ks=file:/ks.cfg"]),
        (REDHAT_TREE, "http://ks.example.org/a.ks", False, ["inst.ks=http://ks.example.org/a.ks"]),
        (REDHAT_TREE, "nfs:server:/ks/a.ks", False, ["inst.ks=nfs:server:/ks/a.ks"]),
        (REDHAT_TREE, None, False, []),
        (DEBIAN_TREE, None, True, ["auto=true", "priority=critical", "preseed/file=/preseed.cfg"]),
        (
            DEBIAN_TREE,
            "http://ks.example.org/p.cfg",
            False,
            ["auto=true", "priority=critical", "preseed/url=http://ks.example.org/p.cfg"],
        ),
        (DEBIAN_TREE, None, False, []),
    ],
    ids=["redhat injected", "redhat url", "redhat nfs", "redhat none", "debian injected", "debian url", "debian none"],
)
def test_kickstart_args(tree, reference, injected, args):
    """Red Hat takes inst.ks=; Debian takes an automatic preseed; an injected file is read from the initrd's /."""
    assert tree.kickstart_args(reference, injected) == args


def test_injected_names():
    assert (REDHAT_TREE.injected_name, DEBIAN_TREE.injected_name) == ("ks.cfg", "preseed.cfg")


@pytest.mark.parametrize(
    "install, tree, cmdline",
    [
        ({"kickstart_content": "text\nreboot\n"}, REDHAT_TREE, "inst.ks=file:/ks.cfg"),
        ({"kickstart": "/root/alma9.ks"}, REDHAT_TREE, "inst.ks=file:/ks.cfg"),  # host file: injected
        (
            {"kickstart": "https://ks.example.org/a.ks", "extra_args": "console=ttyS0"},
            REDHAT_TREE,
            "inst.ks=https://ks.example.org/a.ks console=ttyS0",
        ),
        ({"kickstart": "hd:LABEL=OEMDRV:/ks.cfg"}, REDHAT_TREE, "inst.ks=hd:LABEL=OEMDRV:/ks.cfg"),
        (
            {"kickstart_content": "d-i x string y\n", "extra_args": "console=ttyS0"},
            DEBIAN_TREE,
            "auto=true priority=critical preseed/file=/preseed.cfg console=ttyS0",
        ),
        (
            {"kickstart": "http://ks.example.org/p.cfg"},
            DEBIAN_TREE,
            "auto=true priority=critical preseed/url=http://ks.example.org/p.cfg",
        ),
        ({"extra_args": "console=ttyS0"}, DEBIAN_TREE, "console=ttyS0"),
        ({}, REDHAT_TREE, ""),
    ],
)
def test_kernel_cmdline_from_the_request(install, tree, cmdline):
    """The module's install options become the kernel command line for the tree's family."""
    install = dict(install, method="location", location="http://mirror.example.org/tree/")
    request = GuestRequest.from_params({"name": "g", "install": install})
    assert kernel_cmdline(request, GuestState(tree=tree)) == cmdline


def test_kernel_cmdline_does_not_grow_across_calls():
    """Building the command line twice gives the same text (no shared list is appended to)."""
    request = GuestRequest.from_params(
        {"name": "g", "install": {"method": "location", "location": "/srv/tree", "kickstart_content": "x", "extra_args": "quiet"}}
    )
    state = GuestState(tree=REDHAT_TREE)
    assert kernel_cmdline(request, state) == kernel_cmdline(request, state) == "inst.ks=file:/ks.cfg quiet"

"""Install trees: finding kernel and initrd on host paths and over HTTP, NFS locations, kickstart arguments."""

from __future__ import annotations

import functools
import glob
import http.server
import platform
import re
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

import local_ftp
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import kernel_cmdline
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_tree import (
    BOOT_HEAD_BYTES,
    INITRD_MAGICS,
    boot_file_problem,
    copy_from_nfs,
    file_head,
    find_tree,
    initrd_magic,
    layouts,
    nfs_head,
    nfs_port_problem,
    nfs_url,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState, InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import DownloadError, UrlAccess
from fake_nfs import fake_nfs_tools

REDHAT = ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img")
NETBOOT = "main/installer-amd64/current/images/netboot/"
DEBIAN_NETBOOT = (NETBOOT + "debian-installer/amd64/linux", NETBOOT + "debian-installer/amd64/initrd.gz")
UBUNTU_NETBOOT = (NETBOOT + "ubuntu-installer/amd64/linux", NETBOOT + "ubuntu-installer/amd64/initrd.gz")
DEBIAN_BARE = ("debian-installer/amd64/linux", "debian-installer/amd64/initrd.gz")
ARCHES = st.sampled_from([None, "x86_64", "i686", "aarch64", "ppc64le", "s390x", "riscv64"])


# The first bytes of an x86 bzImage (boot header "HdrS" at 0x202) and of a gzip-compressed initrd.
KERNEL_BYTES = b"MZ" + b"\0" * 0x200 + b"HdrS" + bytes(range(256)) * 8
INITRD_BYTES = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8


def boot_file_content(relative):
    """What a test tree holds at ``relative``: a kernel's or an initrd's first bytes, or a little text."""
    name = relative.rsplit("/", 1)[-1]
    if name in ("vmlinuz", "linux"):
        return KERNEL_BYTES
    if name.startswith("initrd"):
        return INITRD_BYTES
    return b"content of " + relative.encode()


def make_tree(root, *files):
    """Files (relative paths) under ``root``, kernels and initrds with their first bytes, others with a
    little text; returns ``root`` as text."""
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(boot_file_content(relative))
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


@pytest.mark.parametrize(
    "target, message",
    [
        ("/etc/hostname", "is one of the host's own files (through a symbolic link to /etc/hostname)"),
        ("/proc/self/environ", "is one of the host's own files"),
    ],
)
def test_a_host_path_tree_whose_boot_file_links_to_a_host_file_is_refused(tmp_path, target, message):
    """Another user's tree could link its initrd to /etc/shadow: the guest's kernel reads it."""
    root = make_tree(tmp_path, *REDHAT)
    initrd = tmp_path / REDHAT[1]
    initrd.unlink()
    initrd.symlink_to(target)
    with pytest.raises(PlanError, match=re.escape(message)):
        find_tree(root, "x86_64")


def test_a_host_path_tree_in_a_directory_of_keys_is_refused(tmp_path):
    root = make_tree(tmp_path / ".ssh", *REDHAT)
    with pytest.raises(PlanError, match=re.escape("is in a directory of keys (.ssh)")):
        find_tree(root, "x86_64")


def test_a_host_path_tree_may_link_to_the_host_programs(tmp_path):
    """Debian keeps its installer's kernel and initrd under /usr: no secret, and a tree may link them."""
    root = make_tree(tmp_path, *REDHAT)
    kernel = tmp_path / REDHAT[0]
    kernel.unlink()
    kernel.symlink_to("/usr/bin/true")
    assert find_tree(root, "x86_64").kernel == "%s/%s" % (root, REDHAT[0])


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
    joined without double slashes, reading only the first bytes of kernel and initrd (one ranged GET
    each, the connection closed after them)."""
    url, directory, log = http_tree
    make_tree(directory, *DEBIAN_NETBOOT)
    assert find_tree(url, "x86_64", UrlAccess(validate_certs=False)) == InstallTree(
        family="debian", kernel=url + DEBIAN_NETBOOT[0], initrd=url + DEBIAN_NETBOOT[1]
    )
    assert "//" not in (url + DEBIAN_NETBOOT[0]).split("://", 1)[1]
    assert all(line.startswith("GET ") for line in log)
    assert log.count("GET /tree/%s HTTP/1.1" % DEBIAN_NETBOOT[0]) == 1
    assert log.count("GET /tree/%s HTTP/1.1" % DEBIAN_NETBOOT[1]) == 1


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
    """A port nothing listens on: the refusal says why the server could not be read (not that the tree
    has no kernel), at the first layout, without credentials or query values."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = "http://bob:Pw-s3cret@127.0.0.1:%d/tree/?token=T0ken-s3cret" % probe.getsockname()[1]
    with pytest.raises(PlanError) as error:
        find_tree(dead, "x86_64")
    message = str(error.value)
    assert message.startswith("install.location: cannot download http://***@127.0.0.1:")
    assert "refused" in message.lower() and "no kernel and initrd" not in message
    assert "s3cret" not in message and "Pw-" not in message


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


# -- what a kernel and an initrd may be ------------------------------------------------------------------
# Early microcode first (dracut, initramfs-tools), then the compressed main archive.
EARLY_CPIO = b"070701" + b"0" * 104 + b"kernel\0\0" + b"\0" * 16 + b"\x28\xb5\x2f\xfd" + b"\x01" * 64
HTML_LISTING = b'<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<title>Directory listing for /tree/images/pxeboot/initrd.img/</title>'
APACHE_LISTING = b"<html><head><title>Index of /os/images/pxeboot/initrd.img</title></head><body>"
FTP_LISTING = b"drwxr-xr-x   2 root     root         4096 Jul 07 20:29 x\r\n-rw-r--r--   1 root root 5 Jul 07 20:29 y\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"\x1f\x8b\x08\x00" + b"\xff" * 60,
        b"\xfd7zXZ\x00\x00\x04" + b"\xff" * 60,
        b"\x28\xb5\x2f\xfd" + b"\xff" * 60,
        b"\x5d\x00\x00\x80\x00" + b"\xff" * 60,
        b"BZh91AY&SY" + b"\xff" * 60,
        b"\x02\x21\x4c\x18" + b"\xff" * 60,
        b"\x89LZO\x00\r\n\x1a\n" + b"\xff" * 60,
        b"070701" + b"0" * 104 + b"TRAILER!!!\0",
        b"070702" + b"0" * 104,
        b"070707" + b"0" * 70,
        EARLY_CPIO,
        b"\0" * 512 + b"\x1f\x8b\x08\x00",  # the kernel skips zero bytes before an archive
    ],
    ids=["gzip", "xz", "zstd", "lzma", "bzip2", "lz4", "lzop", "cpio newc", "cpio crc", "cpio odc", "early cpio", "zero padding"],
)
def test_initrd_signatures_are_accepted(head):
    assert boot_file_problem("initrd", head, "application/octet-stream") is None


@pytest.mark.parametrize(
    "head, content_type, what",
    [
        (HTML_LISTING, "text/html; charset=utf-8", "an HTML page (a directory listing), not an initrd"),
        (APACHE_LISTING, None, "an HTML page (a directory listing), not an initrd"),
        (b"<html><body>Please log in</body></html>", "text/html", "an HTML page, not an initrd"),
        (b"\x1f\x8b\x08\x00\xff\xff", "text/html", "an HTML page, not an initrd"),  # a compressed page
        (FTP_LISTING, None, "a directory listing, not an initrd"),
        (b"Not Found\n", "text/plain", "a text file, not an initrd"),
        (b"", None, "empty, not an initrd"),
        (b"\0" * 4096, None, "only zero bytes, not an initrd"),
        (b"MZ\x90\x00\x03\x00", None, "data that starts with none of the signatures of an initrd"),
    ],
    ids=["python listing", "apache listing", "login page", "compressed html", "ftp listing", "text", "empty", "zeros", "kernel"],
)
def test_initrd_content_refused(head, content_type, what):
    problem = boot_file_problem("initrd", head, content_type)
    assert problem is not None and problem.startswith(what)


@pytest.mark.parametrize(
    "head, arch",
    [
        (KERNEL_BYTES, "x86_64"),
        (KERNEL_BYTES, "i686"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 100, "x86_64"),  # a PVH kernel
        (b"MZ\x00\x91" + b"\0" * 52 + b"ARMd" + b"\x01" * 64, "aarch64"),  # arm64 Image: not judged further
        (b"\x7fELF\x02\x02\x01" + b"\0" * 100, "s390x"),
        (bytes(range(256)), "riscv64"),
        (KERNEL_BYTES, "aarch64"),
    ],
)
def test_kernel_content_accepted(head, arch):
    assert boot_file_problem("kernel", head, "application/octet-stream", arch) is None


@pytest.mark.parametrize(
    "head, content_type, arch, what",
    [
        (b"", None, "x86_64", "empty, not a kernel"),
        (b"", None, "aarch64", "empty, not a kernel"),
        (HTML_LISTING, "text/html", "aarch64", "an HTML page (a directory listing), not a kernel"),
        (b"<!doctype html><title>403</title>", None, "x86_64", "an HTML page, not a kernel"),
        (bytes(range(256)), "text/html", "aarch64", "an HTML page, not a kernel"),
        (b"404 page not found\n", "text/plain", "ppc64le", "a text file, not a kernel"),
        (FTP_LISTING, None, "s390x", "a directory listing, not a kernel"),
        (b"\0" * 8192, None, "aarch64", "only zero bytes, not a kernel"),
        (INITRD_BYTES, None, "x86_64", "not an x86 kernel (no 'HdrS' at offset 0x202"),
        (KERNEL_BYTES[:0x202], None, "x86_64", "not an x86 kernel"),
    ],
)
def test_kernel_content_refused(head, content_type, arch, what):
    problem = boot_file_problem("kernel", head, content_type, arch)
    assert problem is not None and problem.startswith(what)


def test_kernel_of_the_hosts_architecture_by_default(monkeypatch):
    """Without a guest arch, the host's decides whether an x86 boot header is needed."""
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert boot_file_problem("kernel", INITRD_BYTES, None, None) is None
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert "not an x86 kernel" in (boot_file_problem("kernel", INITRD_BYTES, None, None) or "")


def test_only_the_first_bytes_are_judged():
    """The fetch sees more bytes than the plan: both judge the same first BOOT_HEAD_BYTES."""
    text_then_binary = b"a" * BOOT_HEAD_BYTES + b"\0\xff" * 100
    assert boot_file_problem("kernel", text_then_binary, None, "aarch64") == boot_file_problem(
        "kernel", text_then_binary[:BOOT_HEAD_BYTES], None, "aarch64"
    )


REAL_BOOT_FILES = [
    ("kernel", "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux"),
    ("initrd", "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz"),
] + [
    ("initrd", path)
    for path in sorted(glob.glob("/boot/initrd.img-*") + glob.glob("/var/cache/remotevirt-testbed/cloud-image/*/initrd.img"))
]


@pytest.mark.parametrize("kind, path", REAL_BOOT_FILES, ids=[path for _kind, path in REAL_BOOT_FILES])
def test_real_boot_files_are_accepted(kind, path):
    """Debian's installer kernel and initrd, and the host's initrds, where this machine has them."""
    try:
        head = file_head(path)
    except OSError:
        pytest.skip("%s cannot be read here" % path)
    assert boot_file_problem(kind, head, None, "x86_64") is None


@given(st.sampled_from(["kernel", "initrd"]), st.binary(max_size=6000), st.one_of(st.none(), st.text(max_size=30)), ARCHES)
def test_property_any_content_is_judged_without_error(kind, head, content_type, arch):
    """Any bytes, any Content-Type: a reason (text) or None, never an exception."""
    problem = boot_file_problem(kind, head, content_type, arch)
    assert problem is None or (isinstance(problem, str) and problem)


@given(st.sampled_from([magic for _name, magic in INITRD_MAGICS]), st.integers(0, 64), st.binary(max_size=5000))
def test_property_initrd_signatures_are_accepted(magic, zeros, tail):
    assert boot_file_problem("initrd", b"\0" * zeros + magic + tail, "application/octet-stream") is None


@given(st.binary(min_size=0x202, max_size=0x202), st.binary(max_size=4000), ARCHES)
def test_property_x86_boot_header_is_accepted(before, after, arch):
    assert boot_file_problem("kernel", before + b"HdrS" + after, None, arch) is None


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=3000), ARCHES)
def test_property_text_is_never_a_boot_file(text, arch):
    head = text.encode("utf-8")
    assert boot_file_problem("initrd", head, "text/plain", arch) is not None or initrd_magic(head) is not None
    assert boot_file_problem("kernel", head, "text/plain", arch) is not None or head[0x202:0x206] == b"HdrS"


# -- over HTTP: what is served under the names of kernel and initrd ------------------------------------------
def test_an_http_directory_where_the_initrd_should_be_is_refused(http_tree):
    """images/pxeboot/initrd.img is a directory: the server answers with its listing (after a redirect to
    initrd.img/), which is refused as no initrd, with the URL of the initrd and what it is."""
    url, directory = http_tree[:2]
    make_tree(directory, REDHAT[0])
    (directory / REDHAT[1]).mkdir()
    (directory / REDHAT[1] / "README").write_text("not an initrd\n")
    with pytest.raises(PlanError) as error:
        find_tree(url, "x86_64")
    assert str(error.value) == (
        "install.location %s has no usable kernel and initrd: the initrd %s%s is an HTML page (a directory listing), "
        "not an initrd (an initrd starts with a gzip, xz, zstd, lzma, bzip2, lz4 or lzop stream, or a cpio archive)"
        % (url, url, REDHAT[1])
    )


def test_an_http_directory_where_the_kernel_should_be_is_refused(http_tree):
    url, directory = http_tree[:2]
    make_tree(directory, REDHAT[1])
    (directory / REDHAT[0]).mkdir(parents=True)
    with pytest.raises(
        PlanError, match=r"the kernel \S+/images/pxeboot/vmlinuz is an HTML page \(a directory listing\), not a kernel"
    ):
        find_tree(url, "aarch64")


def test_a_later_layout_with_good_files_wins_over_error_pages(http_tree):
    """A server that answers every path with a page (a soft 404): the Red Hat paths serve HTML, the Debian
    tree after them is used."""
    url, directory = http_tree[:2]
    make_tree(directory, *DEBIAN_BARE)
    for name in REDHAT:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(b"<html><body>Not here</body></html>")
    assert find_tree(url, "x86_64").kernel == url + DEBIAN_BARE[0]


def test_empty_and_text_boot_files_are_refused(http_tree):
    url, directory = http_tree[:2]
    make_tree(directory, *REDHAT)
    (directory / REDHAT[0]).write_bytes(b"")
    with pytest.raises(PlanError, match="the kernel .* is empty, not a kernel"):
        find_tree(url, "x86_64")
    make_tree(directory, *REDHAT)
    (directory / REDHAT[1]).write_bytes(b"placeholder\n")
    with pytest.raises(PlanError, match="the initrd .* is a text file, not an initrd"):
        find_tree(url, "x86_64")


@pytest.mark.parametrize("status", [401, 403, 500])
def test_an_http_error_other_than_404_is_reported(scripted_http, status):
    """A tree behind a login, a forbidden or failing path: the refusal names the HTTP error (not "no kernel
    and initrd"), without the credentials or query values of the location."""
    from scripted_http import Route

    for layout in layouts("x86_64"):
        scripted_http.routes["/os/" + layout[1]] = Route(b"denied", status=status, content_type="text/plain")
    location = scripted_http.url("/os/").replace("http://", "http://bob:Pw-s3cret@")
    with pytest.raises(PlanError) as error:
        find_tree(location, "x86_64", UrlAccess())
    message = str(error.value)
    assert message.startswith(
        "install.location http://***@127.0.0.1:%d/os/ has no usable kernel and initrd: " % scripted_http.port
    )
    assert "HTTP Error %d" % status in message and "(and 4 more)" in message
    assert "Pw-s3cret" not in message and "bob" not in message


def test_a_forbidden_layout_does_not_hide_a_later_one(scripted_http):
    """A 403 for a path is that path's problem only: a later layout that is there is used."""
    from scripted_http import Route

    scripted_http.routes["/os/" + REDHAT[0]] = Route(b"no", status=403, content_type="text/plain")
    scripted_http.routes["/os/" + DEBIAN_BARE[0]] = Route(KERNEL_BYTES)
    scripted_http.routes["/os/" + DEBIAN_BARE[1]] = Route(INITRD_BYTES)
    assert find_tree(scripted_http.url("/os/"), "x86_64").initrd == scripted_http.url("/os/" + DEBIAN_BARE[1])


def test_credentials_reach_the_server_when_judging(scripted_http):
    from scripted_http import Route

    for name, body in zip(REDHAT, (KERNEL_BYTES, INITRD_BYTES)):
        scripted_http.routes["/os/" + name] = Route(body, credentials=("alice", "Pw-s3cret"))
    tree = find_tree(scripted_http.url("/os"), "x86_64", UrlAccess(username="alice", password="Pw-s3cret"))
    assert tree.family == "redhat"
    assert all(headers.get("Range") == "bytes=0-%d" % (BOOT_HEAD_BYTES - 1) for _m, _p, headers in scripted_http.requests)


def test_an_empty_file_refusing_ranges_is_judged_empty(scripted_http):
    """416 for the range of an empty file: asked again without it, then judged."""
    from scripted_http import Route

    scripted_http.routes["/os/" + REDHAT[0]] = Route(KERNEL_BYTES)
    scripted_http.routes["/os/" + REDHAT[1]] = Route(b"", status=416)
    with pytest.raises(PlanError, match="HTTP Error 416"):
        find_tree(scripted_http.url("/os/"), "x86_64")


# -- over FTP -----------------------------------------------------------------------------------------------
@pytest.fixture
def ftp_tree(tmp_path):
    """(base URL, directory) of an anonymous, read-only FTP server (pyftpdlib) of ``tmp_path``/tree."""
    (tmp_path / "tree").mkdir()
    with local_ftp.serving(str(tmp_path)) as base:
        yield base + "/tree/", tmp_path / "tree"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyftpdlib imports asyncore
def test_find_tree_over_ftp(ftp_tree):
    """Missing layouts (550) are skipped; the Debian tree after them is found."""
    url, directory = ftp_tree
    make_tree(directory, *DEBIAN_BARE)
    assert find_tree(url, "x86_64").initrd == url + DEBIAN_BARE[1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_ftp_directory_where_the_initrd_should_be_is_refused(ftp_tree):
    """The FTP server lists a directory where the initrd should be: refused as no initrd."""
    url, directory = ftp_tree
    make_tree(directory, REDHAT[0])
    (directory / REDHAT[1]).mkdir()
    (directory / REDHAT[1] / "README").write_text("not an initrd\n")
    with pytest.raises(PlanError, match=r"the initrd ftp://\S+/images/pxeboot/initrd.img is a directory listing, not an initrd"):
        find_tree(url, "x86_64")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_ftp_tree_without_kernel(ftp_tree):
    with pytest.raises(PlanError, match="has no kernel and initrd in a known layout"):
        find_tree(ftp_tree[0], "x86_64")


# -- NFS: the port, directories, errors (libnfs's tools replaced by fakes over a local directory) -----------
@pytest.mark.parametrize(
    "url, hint",
    [
        ("nfs://h:2049/export/tree", "nfs://h/export/tree?nfsport=2049"),
        ("nfs://h:20490/t?version=4", "nfs://h/t?version=4&nfsport=20490"),
        ("NFS://u:Pw-s3cret@h:2049/t", "nfs://h/t?nfsport=2049"),
        ("nfs://[fd00::1]:2049/t", "nfs://[fd00::1]/t?nfsport=2049"),
        ("nfs://h:/t", "nfs://h/t?nfsport=2049"),  # an empty port: the NFS port as an example
    ],
)
def test_an_nfs_port_in_the_host_part_is_refused_with_the_option_to_use(url, hint):
    problem = nfs_port_problem(url)
    assert problem is not None and problem.endswith("give the port as an option: " + hint)
    assert "s3cret" not in problem
    with pytest.raises(PlanError) as error:
        find_tree(url, "x86_64")  # refused before any NFS tool runs
    assert hint in str(error.value) and "no kernel" not in str(error.value)


@pytest.mark.parametrize("url", ["nfs://h/t", "nfs://h/t?nfsport=2049", "nfs://[fd00::1]/t", "nfs://h/a:b/t"])
def test_nfs_urls_without_a_port_in_the_host_part(url):
    assert nfs_port_problem(url) is None


@pytest.fixture
def fake_nfs(tmp_path, monkeypatch):
    return fake_nfs_tools(tmp_path, monkeypatch)


def test_find_tree_on_nfs(fake_nfs):
    make_tree(fake_nfs / "tree", *REDHAT)
    tree = find_tree("nfs://fake/tree?version=4", "x86_64")
    assert tree.kernel == "nfs://fake/tree/images/pxeboot/vmlinuz?version=4"


def test_an_nfs_directory_where_the_initrd_should_be_is_refused(fake_nfs):
    make_tree(fake_nfs / "tree", REDHAT[0])
    (fake_nfs / "tree" / REDHAT[1]).mkdir()
    with pytest.raises(PlanError) as error:
        find_tree("nfs://fake/tree?version=4", "x86_64")
    assert str(error.value) == (
        "install.location nfs://fake/tree?version=4 has no usable kernel and initrd: the initrd "
        "nfs://fake/tree/images/pxeboot/initrd.img?version=4 is a directory"
    )


def test_nfs_boot_file_content_is_judged(fake_nfs):
    make_tree(fake_nfs / "tree", *REDHAT)
    (fake_nfs / "tree" / REDHAT[1]).write_bytes(b"TODO: put the initrd here\n")
    with pytest.raises(PlanError, match="the initrd nfs://fake/tree/images/pxeboot/initrd.img is a text file, not an initrd"):
        find_tree("nfs:fake:/tree", "x86_64")


def test_nfs_tree_without_kernel(fake_nfs):
    (fake_nfs / "tree").mkdir()
    with pytest.raises(PlanError, match="has no kernel and initrd in a known layout"):
        find_tree("nfs://fake/tree", "x86_64")


def test_an_nfs_server_that_cannot_be_read_is_reported(fake_nfs):
    with pytest.raises(PlanError) as error:
        find_tree("nfs://down/tree?version=4", "x86_64")
    assert str(error.value) == (
        "install.location: cannot list nfs://down/tree/images/pxeboot/?version=4: Failed to mount nfs share : nfs_service failed"
    )


def test_nfs_head_stops_after_the_first_bytes(fake_nfs):
    (fake_nfs / "big").write_bytes(INITRD_BYTES + b"\xff" * (8 << 20))
    assert nfs_head("nfs://fake/big") == (INITRD_BYTES + b"\xff" * BOOT_HEAD_BYTES)[:BOOT_HEAD_BYTES]


def test_copy_from_nfs_refuses_a_directory(fake_nfs, tmp_path):
    (fake_nfs / "initrd.img").mkdir()
    with pytest.raises(DownloadError, match="is a directory"):
        copy_from_nfs("nfs://fake/initrd.img", str(tmp_path / "copy"))
    assert not (tmp_path / "copy").exists()


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

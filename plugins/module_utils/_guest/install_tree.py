# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the kernel and initrd of an install tree, on a URL or a host path."""

from __future__ import annotations

import os
import subprocess
from typing import List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text, redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

NFS_TIMEOUT = 300  # seconds for one NFS listing or copy

# Debian names architectures its own way.
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "ppc64le": "ppc64el", "s390x": "s390x"}


def layouts(arch: str) -> List[Tuple[str, str, str]]:
    """(family, kernel, initrd) relative paths of the known tree layouts, most specific first."""
    deb = DEBIAN_ARCH.get(arch, arch)
    netboot = "main/installer-%s/current/images/netboot/" % deb
    return [
        ("redhat", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"),
        ("debian", netboot + "debian-installer/%s/linux" % deb, netboot + "debian-installer/%s/initrd.gz" % deb),
        ("debian", netboot + "ubuntu-installer/%s/linux" % deb, netboot + "ubuntu-installer/%s/initrd.gz" % deb),
        ("debian", "debian-installer/%s/linux" % deb, "debian-installer/%s/initrd.gz" % deb),
        ("debian", "ubuntu-installer/%s/linux" % deb, "ubuntu-installer/%s/initrd.gz" % deb),
    ]


def nfs_url(location: str) -> Optional[str]:
    """``nfs://server[:port]/path[?libnfs options]`` for an NFS location (``nfs:server:/path`` too), else None."""
    if location[:6].lower() == "nfs://":
        return "nfs://" + location[6:]
    if location[:4].lower() == "nfs:":
        server, separator, path = location[4:].partition(":")
        return "nfs://%s%s" % (server, path) if separator and path.startswith("/") else None
    return None


def _join(base: str, relative: str) -> str:
    """``relative`` under ``base``, keeping a URL's query (libnfs options such as ?version=4) at the end."""
    path, separator, query = base.partition("?") if base.startswith("nfs://") else (base, "", "")
    return path.rstrip("/") + "/" + relative + separator + query


def _nfs_command(argv: List[str]) -> "subprocess.CompletedProcess[str]":
    # libnfs's tools read NFS in user space: no kernel NFS client, mount or root privileges needed.
    try:
        return subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=NFS_TIMEOUT
        )
    except FileNotFoundError:
        raise PlanError("NFS install trees need %s on the host (package libnfs-utils)" % argv[0])
    except subprocess.TimeoutExpired:
        raise PlanError(redact_text("%s timed out after %d s" % (" ".join(argv), NFS_TIMEOUT)))


def nfs_size(url: str) -> Optional[int]:
    """Size of the file at an NFS URL as the server lists it, None when it is not there."""
    directory, name = _split_nfs(url)
    listing = _nfs_command(["nfs-ls", directory])
    if listing.returncode != 0:
        return None
    for line in listing.stdout.splitlines():
        fields = line.split()
        # mode, links, uid, gid, size, name (names without spaces: the layouts' file names)
        if fields[-1:] == [name] and len(fields) >= 6 and fields[4].isdigit():
            return int(fields[4])
    return None


def _nfs_exists(url: str) -> bool:
    return nfs_size(url) is not None


def _split_nfs(url: str) -> Tuple[str, str]:
    """(directory URL, file name) of an NFS file URL, the query kept on the directory."""
    path, separator, query = url.partition("?")
    directory, _slash, name = path.rpartition("/")
    return directory + "/" + separator + query, name


def copy_from_nfs(url: str, target: str) -> None:
    """Copy one file from an NFS URL to ``target`` (which must not exist) on the host, all of it."""
    expected = nfs_size(url)
    result = _nfs_command(["nfs-cp", url, target])
    if result.returncode != 0:
        raise download.DownloadError("cannot copy %s: %s" % (url, result.stdout.strip()))
    copied = os.path.getsize(target)
    if expected is not None and copied != expected:
        raise download.DownloadError("copy of %s ended after %d of %d bytes (truncated)" % (url, copied, expected))


def _exists(reference: str, access: download.UrlAccess) -> bool:
    if reference.startswith("/"):
        return os.path.isfile(reference)
    if reference.startswith("nfs://"):
        return _nfs_exists(reference)
    try:
        download.probe_size(reference, access)
    except download.DownloadError:
        return False
    return True


def find_tree(location: str, arch: str, access: Optional[download.UrlAccess] = None) -> InstallTree:
    """The first known layout whose kernel and initrd both exist under ``location``."""
    access = access or download.UrlAccess()
    base = nfs_url(location) or location
    tried = []
    for family, kernel, initrd in layouts(arch):
        kernel_ref, initrd_ref = _join(base, kernel), _join(base, initrd)
        if _exists(kernel_ref, access) and _exists(initrd_ref, access):
            return InstallTree(family=family, kernel=kernel_ref, initrd=initrd_ref)
        tried.append(kernel)
    raise PlanError(
        "install.location %s has no kernel and initrd in a known layout (tried %s)" % (redact_url(location), ", ".join(tried))
    )

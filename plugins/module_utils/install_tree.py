# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the kernel and initrd of an install tree, on a URL or a host path."""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils import download
from ansible_collections.remotevirt.install.plugins.module_utils.guest_plan import InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils.plan import PlanError

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


def _join(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + relative


def _exists(reference: str, validate_certs: bool) -> bool:
    if reference.startswith("/"):
        return os.path.isfile(reference)
    try:
        download.probe_size(reference, validate_certs)
    except download.DownloadError:
        return False
    return True


def find_tree(location: str, arch: str, validate_certs: bool = True) -> InstallTree:
    """The first known layout whose kernel and initrd both exist under ``location``."""
    tried = []
    for family, kernel, initrd in layouts(arch):
        kernel_ref, initrd_ref = _join(location, kernel), _join(location, initrd)
        if _exists(kernel_ref, validate_certs) and _exists(initrd_ref, validate_certs):
            return InstallTree(family=family, kernel=kernel_ref, initrd=initrd_ref)
        tried.append(kernel)
    raise PlanError("install.location %s has no kernel and initrd in a known layout (tried %s)"
                    % (location, ", ".join(tried)))


def nfs_parts(location: str) -> Optional[Tuple[str, str]]:
    """(server, export path) of an ``nfs://server/path`` or ``nfs:server:/path`` location."""
    scheme = location[:6].lower()
    if scheme == "nfs://":
        server, separator, path = location[len("nfs://"):].partition("/")
        return server, separator + path
    if scheme.startswith("nfs:"):
        server, separator, path = location[len("nfs:"):].partition(":")
        return (server, path) if separator else None
    return None

# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a guest is installed: the ``install`` option, validated (media, install tree, kickstart)."""

from __future__ import annotations

import re
from itertools import chain
from typing import Any, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import query_secrets, redact_url, url_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    check_path,
    check_url,
    has_scheme,
    is_system_directory,
    path_problem,
    same_path,
    scheme_of,
)

DEFAULT_BOOT_DIR = "/var/lib/libvirt/boot"
# A kickstart or preseed is a text file; anything larger is not one (an ISO named by mistake).
KICKSTART_LIMIT = 16 << 20


# URL schemes the installer itself reads a kickstart from (compared case-insensitively); anything
# else must be a host path.
KICKSTART_SCHEMES = ("http", "https", "ftp", "nfs", "cdrom", "hd", "file")


# Of those, the ones that name a server (the others are places inside the guest), and the ones
# the host fetches a kickstart from itself when its URL carries credentials or a token.
_SERVER_SCHEMES = ("http", "https", "ftp")


LOCATION_SCHEMES = ("http", "https", "ftp", "nfs")


# -- the request -------------------------------------------------------------------------------
class MediaRef(Record):
    """Install media: a pool volume or a host path."""

    pool: Optional[str] = None
    volume: Optional[str] = None
    path: Optional[str] = None

    @property
    def label(self) -> str:
        return "%s/%s" % (self.pool, self.volume) if self.volume else (self.path or "")


class InstallRequest(Record):
    method: Optional[str] = None
    cdrom: Optional[MediaRef] = None
    location: Optional[str] = None
    kickstart: Optional[str] = None
    kickstart_content: Optional[str] = Field(default=None, in_repr=False)
    extra_args: Optional[str] = None
    boot_dir: str = DEFAULT_BOOT_DIR
    # Credentials for install.location (the host's own reads of the tree), never for the kickstart.
    url_username: Optional[str] = None
    url_password: Optional[str] = Field(default=None, in_repr=False)

    @property
    def kickstart_on_host(self) -> bool:
        """A kickstart file on the hypervisor: read there and put into the initrd."""
        return bool(self.kickstart) and not has_scheme(self.kickstart, KICKSTART_SCHEMES)

    @property
    def kickstart_fetched(self) -> bool:
        """A kickstart URL with credentials (or a token in its query): the host downloads it and puts
        it into the initrd, so they never reach the guest's kernel command line (readable by any
        libvirt client)."""
        return (
            self.kickstart is not None
            and has_scheme(self.kickstart, _SERVER_SCHEMES)
            and any(True for _secret in chain(url_secrets(self.kickstart), query_secrets(self.kickstart)))
        )

    @property
    def kickstart_injected(self) -> bool:
        """Whether the kickstart travels inside the initrd rather than as a reference on the command line."""
        return self.kickstart_content is not None or self.kickstart_on_host or self.kickstart_fetched


def _install_param(
    entry: Optional[Mapping[str, Any]], url_username: Optional[str] = None, url_password: Optional[str] = None
) -> InstallRequest:
    if not entry:
        if url_username or url_password:
            raise PlanError("url_username and url_password apply to install.location, which is not set")
        return InstallRequest()
    method = entry.get("method")
    cdrom = entry.get("cdrom")
    media = None
    if cdrom:
        if bool(cdrom.get("path")) == bool(cdrom.get("volume")):
            raise PlanError("install.cdrom: give either pool and volume (an ISO volume) or path (an ISO on the host)")
        if cdrom.get("volume") and not cdrom.get("pool"):
            raise PlanError("install.cdrom: volume %s needs its pool" % cdrom["volume"])
        media = _media_param(cdrom)
    request = InstallRequest(
        method=method,
        cdrom=media,
        location=_location_param(entry.get("location")),
        kickstart=_kickstart_param(entry.get("kickstart")),
        kickstart_content=entry.get("kickstart_content"),
        extra_args=entry.get("extra_args"),
        boot_dir=_boot_dir_param(entry.get("boot_dir") or DEFAULT_BOOT_DIR),
        url_username=url_username,
        url_password=url_password,
    )
    _check_install(request)
    return request


def removal_install_param(entry: Any) -> InstallRequest:
    """What a removal reads of ``install``: only its boot_dir, where a seed ISO of the guest may wait."""
    boot_dir = entry.get("boot_dir") if isinstance(entry, Mapping) else None
    return InstallRequest(boot_dir=_boot_dir_param(boot_dir)) if boot_dir else InstallRequest()


def _boot_dir_param(boot_dir: str) -> str:
    """A directory of the module's own: kernels, initrds and seed ISOs are written there and given
    to QEMU, which a system directory (/etc, /proc, /dev...) must never be made to hold."""
    check_path(boot_dir, "install.boot_dir")
    # A directory of its own under /boot is a place for boot files like any other.
    if is_system_directory(boot_dir) and not (same_path(boot_dir) or "").startswith("/boot/"):
        raise PlanError(
            "install.boot_dir %s is one of the host's system directories; kernels, initrds and seed ISOs "
            "are written there: give a directory of their own, such as %s" % (boot_dir, DEFAULT_BOOT_DIR)
        )
    return boot_dir


def _media_param(cdrom: Mapping[str, Any]) -> MediaRef:
    if cdrom.get("path"):
        return MediaRef(path=check_path(cdrom["path"], "install.cdrom.path"))
    for key in ("pool", "volume"):
        problem = name_problem(cdrom[key], "install.cdrom %s" % key)
        if problem:
            raise PlanError(problem)
    return MediaRef(pool=cdrom["pool"], volume=cdrom["volume"])


def _location_param(location: Optional[str]) -> Optional[str]:
    """An install tree: an http, https, ftp or nfs URL, or a host path (kept as given: the code
    that reads it compares schemes case-insensitively)."""
    if not location:
        return location
    scheme = scheme_of(location)
    if scheme is None and location.startswith("/"):
        check_path(location, "install.location")
    elif scheme not in LOCATION_SCHEMES:
        raise PlanError("install.location must be an http, https, ftp or nfs URL or an absolute path on the host")
    elif scheme == "nfs" and not location[4:].startswith("//"):
        _short_nfs_param(location, "install.location")
    else:
        check_url(location, "install.location", LOCATION_SCHEMES)
        if scheme in ("http", "https", "ftp") and ("?" in location or "#" in location):
            # The tree's files are read at paths under the URL's path; a query or fragment would end up
            # in the middle of each of them. (nfs:// URLs carry libnfs options in their query.)
            raise PlanError(
                "install.location: an %s install tree URL has no query (?) or fragment (#); give the tree's "
                "directory URL" % scheme
            )
    return location


def _kickstart_param(kickstart: Optional[str]) -> Optional[str]:
    """A kickstart reference the installer reads (URL, nfs:, cdrom:, hd:, file:) or a host path."""
    if not kickstart:
        return kickstart
    scheme = scheme_of(kickstart)
    if scheme is None or scheme not in KICKSTART_SCHEMES:
        problem = path_problem(kickstart, "install.kickstart")
        if problem:
            raise PlanError(problem + " (or a URL: %s)" % ", ".join(KICKSTART_SCHEMES))
        return kickstart
    if '"' in kickstart:
        # The reference goes on the kernel command line, where a double quote opens a quoted word
        # that takes in extra_args after it.
        raise PlanError("install.kickstart must not contain a double quote (the kernel command line reads it); write it as %22")
    if scheme in _SERVER_SCHEMES or kickstart[len(scheme) + 1 :].startswith("//"):
        checked = check_url(kickstart, "install.kickstart", KICKSTART_SCHEMES)
        if scheme not in _SERVER_SCHEMES and any(True for _secret in chain(url_secrets(checked), query_secrets(checked))):
            # Only http, https and ftp kickstarts are fetched by the host: this one would go on the
            # guest's kernel command line, which every libvirt client can read.
            raise PlanError(
                "install.kickstart: an %s URL goes to the installer on the guest's kernel command line, where any "
                "libvirt client reads it: give it no user name, password or token (NFS uses none), or serve the "
                "kickstart over http, https or ftp (the host fetches those) or give kickstart_content" % scheme
            )
        return checked
    if scheme == "nfs":
        return _short_nfs_param(kickstart, "install.kickstart")
    # cdrom:/ks.cfg, hd:sdb1:/ks.cfg, file:/ks.cfg: places inside the guest, read by its installer.
    rest = kickstart[len(scheme) + 1 :]
    if not rest or re.search(r"\s", rest):
        raise PlanError("install.kickstart must be like %s:/ks.cfg, without spaces" % scheme)
    return scheme + ":" + rest


def _short_nfs_param(reference: str, what: str) -> str:
    """nfs:[options:]server:/path, as anaconda writes NFS references."""
    rest = reference[4:]
    if re.search(r"\s", rest) or not re.fullmatch(r"([^:/]+:)?[^:/]+:/.*", rest):
        raise PlanError("%s must be like nfs://server/path or nfs:server:/path, not %r" % (what, redact_url(reference)))
    return "nfs:" + rest


def _check_install(request: InstallRequest) -> None:
    method = request.method
    given = [key for key, value in (("cdrom", request.cdrom), ("location", request.location)) if value]
    if method is None:
        if given:
            raise PlanError("install.method is missing; %s implies method: %s" % (given[0], given[0]))
        return
    foreign = [key for key in given if key != method]
    if foreign:
        raise PlanError("install.method is %s, which conflicts with install.%s; a guest installs one way" % (method, foreign[0]))
    if method in ("cdrom", "location") and not given:
        raise PlanError("install.method %s needs install.%s" % (method, method))
    kickstarts = [key for key in ("kickstart", "kickstart_content") if getattr(request, key)]
    if len(kickstarts) > 1:
        raise PlanError("install.kickstart and install.kickstart_content are mutually exclusive")
    if (kickstarts or request.extra_args) and method != "location":
        raise PlanError(
            "install.%s needs method: location (the kernel command line is only set for a "
            "kernel fetched from an install tree)" % (kickstarts[0] if kickstarts else "extra_args")
        )
    scheme = scheme_of(request.location) if request.location else None
    if (request.url_username or request.url_password) and scheme not in ("http", "https", "ftp"):
        raise PlanError("url_username and url_password apply to an http, https or ftp install.location")

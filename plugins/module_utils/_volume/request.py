# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A volume request: virt_pool_volume's parameters, validated (refusals at plan time, so check mode
predicts them)."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import SizeError, format_size, parse_size
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import check_strings, check_uri, check_url
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions

SOURCE_URL_SCHEMES = ("http", "https", "ftp", "file")


CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


# Formats whose bytes are the guest-visible content: a download fills them as-is and can be grown.
RAW_FORMATS = ("raw", "iso")


COMPRESSIONS = ("xz", "gzip", "bzip2", "zstd")
# compression: auto decides by the end of the URL's path.
COMPRESSION_SUFFIXES = {".xz": "xz", ".gz": "gzip", ".bz2": "bzip2", ".zst": "zstd"}
# checksum_of: what a checksum is of when the download is compressed.
CHECKSUM_OF_DOWNLOAD = "download"
CHECKSUM_OF_CONTENT = "content"


def compression_of_url(url: str) -> Optional[str]:
    """The compression a URL's path ends in (``.../image.raw.xz`` is xz), or None."""
    path = urlsplit(url).path.lower()
    for suffix, compression in COMPRESSION_SUFFIXES.items():
        if path.endswith(suffix):
            return compression
    return None


class VolumeRef(Record):
    """A volume named ``name`` or ``pool/name``; a bare name lives in the request's pool."""

    pool: str
    name: str

    @property
    def label(self) -> str:
        return "%s/%s" % (self.pool, self.name)

    @classmethod
    def parse(cls, text: str, default_pool: str, what: str) -> "VolumeRef":
        pool, name = text.rsplit("/", 1) if "/" in text else (default_pool, text)
        for problem in (name_problem(pool, "%s pool" % what), name_problem(name, "%s volume" % what)):
            if problem:
                raise PlanError(problem)
        return cls(pool, name)


class Checksum(Record):
    algorithm: str
    digest: str

    @property
    def text(self) -> str:
        return "%s:%s" % (self.algorithm, self.digest)

    @classmethod
    def parse(cls, text: str) -> "Checksum":
        algorithm, sep, digest = text.partition(":")
        algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
        if not sep or algorithm not in CHECKSUM_ALGORITHMS:
            raise PlanError("checksum must look like sha256:<hex digest> (one of %s)" % ", ".join(CHECKSUM_ALGORITHMS))
        expected = hashlib.new(algorithm).digest_size * 2
        if len(digest) != expected or any(c not in "0123456789abcdef" for c in digest):
            raise PlanError("%s checksum must be %d hexadecimal digits" % (algorithm, expected))
        return cls(algorithm, digest)


# Permissions nobody asked for: a volume keeps what its pool gives it.
NO_PERMISSIONS = Permissions()


class VolumeRequest(Record):
    """The module's parameters, validated and typed."""

    pool: str
    name: str
    state: str = "present"
    uri: str = HOST_URI
    capacity: Optional[int] = None
    format: Optional[str] = None
    preallocation: Optional[str] = None
    allocation: Optional[int] = None
    clone_from: Optional[VolumeRef] = None
    backing_volume: Optional[VolumeRef] = None
    source_url: Optional[str] = None
    compression: str = "auto"
    checksum: Optional[Checksum] = None
    checksum_of: str = CHECKSUM_OF_DOWNLOAD
    url_username: Optional[str] = None
    url_password: Optional[str] = Field(default=None, in_repr=False)
    permissions: Permissions = Permissions()
    allow_shrink: bool = False
    overcommit: bool = False
    delete_in_use: bool = False
    replace_content: bool = False

    @property
    def label(self) -> str:
        return "%s/%s" % (self.pool, self.name)

    @property
    def decompress(self) -> Optional[str]:
        """The compression source_url's body is decompressed from (None: stored as served)."""
        if not self.source_url or self.compression == "none":
            return None
        if self.compression == "auto":
            return compression_of_url(self.source_url)
        return self.compression

    @property
    def creates(self) -> bool:
        """Whether the request says how to make the volume (otherwise it only asserts one)."""
        return any(x is not None for x in (self.capacity, self.clone_from, self.backing_volume, self.source_url))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], permissions: Permissions = NO_PERMISSIONS) -> "VolumeRequest":
        """Validate module parameters; ``permissions`` are already resolved to numeric ids."""
        check_strings(params)
        if params.get("uri") is not None:
            check_uri(params["uri"])
        for key, what in (("pool", "pool"), ("name", "volume")):
            problem = name_problem(params.get(key), what)
            if problem:
                raise PlanError(problem)
        pool = params["pool"]
        request = cls(
            pool=pool,
            name=params["name"],
            state=params.get("state") or "present",
            uri=params.get("uri") or HOST_URI,
            capacity=_size_param(params, "capacity"),
            format=params.get("format"),
            preallocation=params.get("preallocation"),
            allocation=_size_param(params, "allocation", allow_zero=True),
            clone_from=_ref_param(params, "clone_from", pool),
            backing_volume=_ref_param(params, "backing_volume", pool),
            source_url=_url_param(params.get("source_url")),
            compression=params.get("compression") or "auto",
            checksum=Checksum.parse(params["checksum"]) if params.get("checksum") else None,
            checksum_of=params.get("checksum_of") or CHECKSUM_OF_DOWNLOAD,
            url_username=params.get("url_username"),
            url_password=params.get("url_password"),
            permissions=permissions,
            allow_shrink=bool(params.get("allow_shrink")),
            overcommit=bool(params.get("overcommit")),
            delete_in_use=bool(params.get("delete_in_use")),
            replace_content=bool(params.get("replace_content")),
        )
        request.check_consistency()
        return request

    def check_consistency(self) -> None:
        sources = [
            key
            for key, value in (
                ("clone_from", self.clone_from),
                ("backing_volume", self.backing_volume),
                ("source_url", self.source_url),
            )
            if value is not None
        ]
        if len(sources) > 1:
            raise PlanError("%s are mutually exclusive: a volume has one origin" % " and ".join(sources))
        if self.checksum and not self.source_url:
            raise PlanError("checksum applies to source_url, which is not set")
        if self.compression not in ("auto", "none") + COMPRESSIONS:
            raise PlanError("compression must be one of auto, none, %s" % ", ".join(COMPRESSIONS))
        if self.compression not in ("auto", "none") and not self.source_url:
            raise PlanError("compression applies to source_url, which is not set")
        if self.checksum_of not in (CHECKSUM_OF_DOWNLOAD, CHECKSUM_OF_CONTENT):
            raise PlanError("checksum_of must be %s or %s" % (CHECKSUM_OF_DOWNLOAD, CHECKSUM_OF_CONTENT))
        if self.checksum_of == CHECKSUM_OF_CONTENT and not self.checksum:
            raise PlanError("checksum_of applies to checksum, which is not set")
        if (self.url_username or self.url_password) and not self.source_url:
            raise PlanError("url_username and url_password apply to source_url, which is not set")
        if self.backing_volume and self.format not in (None, "qcow2"):
            raise PlanError("a volume with backing_volume is a qcow2 overlay; format %s cannot have one" % self.format)
        if self.preallocation == "metadata" and self.format not in (None, "qcow2"):
            raise PlanError("preallocation=metadata applies to qcow2 volumes only")
        if self.preallocation and self.allocation is not None:
            raise PlanError("preallocation and allocation are mutually exclusive")
        if self.preallocation in ("metadata", "full") and self.backing_volume:
            raise PlanError("a qcow2 overlay on backing_volume is always sparse")
        # A download's format defaults to raw, so capacity applies to it without format: raw.
        if self.source_url and self.capacity is not None and (self.format or "raw") not in RAW_FORMATS:
            raise PlanError(
                "capacity with source_url grows a raw image after the download; set format: raw, "
                "or grow a %s image in a later task" % self.format
            )
        if self.capacity is not None and self.allocation is not None and self.allocation > self.capacity:
            raise PlanError(
                "allocation (%s) is larger than capacity (%s)" % (format_size(self.allocation), format_size(self.capacity))
            )


def _size_param(params: Mapping[str, Any], key: str, allow_zero: bool = False) -> Optional[int]:
    value = params.get(key)
    if value is None:
        return None
    try:
        size = parse_size(value)
    except SizeError as error:
        raise PlanError("%s: %s" % (key, error))
    if size == 0 and not allow_zero:
        raise PlanError("%s must be larger than zero" % key)
    return size


def _url_param(url: Optional[str]) -> Optional[str]:
    """source_url with its scheme in lower case; a scheme://host URL (file:///path for host files)."""
    if not url:
        return None
    return check_url(url, "source_url", SOURCE_URL_SCHEMES)


def _ref_param(params: Mapping[str, Any], key: str, pool: str) -> Optional[VolumeRef]:
    value = params.get(key)
    return VolumeRef.parse(value, pool, key) if value else None

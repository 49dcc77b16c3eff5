# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of names that become libvirt object names, file names and command-line words."""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Set

MAX_NAME_BYTES = 255
# A guest, network or pool this collection defines: libvirt keeps its definition in <name>.xml, and a
# guest's UEFI variables in <name>_VARS.fd, each a file name of at most 255 bytes.
MAX_DEFINED_NAME_BYTES = MAX_NAME_BYTES - len("_VARS.fd")
# A guest's name is also in the names of its files on the host: the longest is the private directory
# its initrd is written in, next to the boot files (see the guest handlers' private directories).
MAX_GUEST_NAME_BYTES = MAX_NAME_BYTES - len(".remotevirt--initrd.") - 8

# Letters, digits and . _ + - : @ ; no leading dot or dash. Such names are safe as file names in a
# directory pool, as XML text, and as words on the virsh command lines that plans show.
# Matched against the whole name (fullmatch): "$" would also accept a name that ends in a newline.
_NAME_RE = r"[A-Za-z0-9_+:@][A-Za-z0-9._+:@-]*"
# The kernel's limit for interface names (IFNAMSIZ less the terminating NUL).
MAX_BRIDGE_BYTES = 15


def name_problem(name: object, what: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """Why ``name`` cannot be used as a ``what`` name (of at most ``max_bytes``), or "" when it can."""
    if not isinstance(name, str) or not name:
        return "%s name must not be empty" % what
    if len(name.encode("utf-8")) > max_bytes:
        return "%s name is longer than %d bytes" % (what, max_bytes)
    if ".." in name:
        return "%s name %r must not contain '..'" % (what, name)
    if not re.fullmatch(_NAME_RE, name):
        return (
            "%s name %r may only contain ASCII letters and digits (A-Z, a-z, 0-9) and . _ + - : @ "
            "and must not start with '.' or '-'" % (what, name)
        )
    return ""


def bridge_name_problem(name: object, what: str) -> str:
    """Why ``name`` cannot name a host bridge, or "": a name as above that the kernel accepts as
    an interface name (at most 15 bytes, no ':')."""
    problem = name_problem(name, what)
    if problem or not isinstance(name, str):  # name_problem refuses anything but a string
        return problem
    if len(name) > MAX_BRIDGE_BYTES:
        return "%s name %r is longer than the kernel's %d bytes for an interface" % (what, name, MAX_BRIDGE_BYTES)
    if ":" in name:
        return "%s name %r must not contain ':' (the kernel refuses it in interface names)" % (what, name)
    return ""


def closest_option(key: str, options: Iterable[str]) -> Optional[str]:
    """The option a mistyped ``key`` most likely meant, or None when none is close."""
    # Imported here: only a refused key needs a suggestion.
    import difflib

    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def given_more_than_once(values: Iterable[str]) -> List[str]:
    """The values that stand more than once in ``values`` (mount tags, device labels, disk
    targets), sorted, each once: what a refusal names."""
    seen: Set[str] = set()
    repeated: Set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)

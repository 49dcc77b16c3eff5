# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size strings as libvirt reads them: ``G`` = ``GiB`` = 2**30, ``GB`` = 10**9, a bare integer is bytes."""

from __future__ import annotations

import re
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError

_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}

# Matches libvirt's unit grammar (virScaleInteger): b, bytes, K, KiB, KB, ... with an optional
# decimal fraction on the number ("1.5G"), which libvirt itself does not accept but users expect.
# Digits are [0-9], not \d (which also reads other scripts' digits), and the whole text must match.
_SIZE_RE = r" *(?P<number>[0-9]+(?:\.[0-9]+)?) *(?P<unit>[a-zA-Z]*) *"


class SizeError(RemotevirtError, ValueError):
    """A size that cannot be read."""


# Digits of the longest whole number read from text others write (a 64-bit count has 20): Python
# refuses to read more than 4300 digits at all, and reads long ones in quadratic time.
NUMBER_DIGITS = 20


def whole_number(text: object) -> Optional[int]:
    """``text`` as a whole number when it is 1 to NUMBER_DIGITS ASCII digits (no sign, no space, no
    other script's digits); None otherwise."""
    if not isinstance(text, str) or not 0 < len(text) <= NUMBER_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def unit_multiplier(unit: str) -> int:
    """Bytes per ``unit``; IEC (``K``, ``KiB``) is 1024-based, SI (``KB``) 1000-based."""
    key = unit.lower()
    if key in ("", "b", "byte", "bytes"):
        return 1
    prefix, suffix = key[0], key[1:]
    if prefix not in _POWERS:
        raise SizeError("unknown size unit %r" % unit)
    if suffix in ("", "ib"):
        return 1024 ** _POWERS[prefix]
    if suffix == "b":
        return 1000 ** _POWERS[prefix]
    raise SizeError("unknown size unit %r" % unit)


def parse_size(value: object) -> int:
    """Return ``value`` (``"20G"``, ``"500MB"``, ``1048576``) in bytes.

    Raises SizeError for negative numbers, unknown units and fractions of a byte.
    """
    if isinstance(value, bool):
        raise SizeError("a size must be a number or a string like 20G, not %r" % value)
    if isinstance(value, int):
        if value < 0:
            raise SizeError("a size cannot be negative: %d" % value)
        return _within_libvirt(value, str(value))
    text = str(value)
    match = re.fullmatch(_SIZE_RE, text)
    if match is None:
        if text.strip().startswith("-"):
            raise SizeError("a size cannot be negative: %r" % text)
        raise SizeError("cannot read size %r: use bytes or a number with a unit such as 20G, 20GiB or 500MB" % text)
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimal digits
        raise SizeError("cannot read size %r" % text)
    with localcontext() as exact:
        # Exact, whatever the number's length (the default context rounds past 28 digits, and would
        # take "1.00000000000000000000000000001" for one byte): room for its digits and the largest
        # unit's (1024**6 has 19), and a rounding would raise rather than pass unseen.
        exact.prec = len(match.group("number")) + 20
        exact.traps[Inexact] = True
        try:
            total = number * unit_multiplier(match.group("unit"))
        except Inexact:  # pragma: no cover - the precision above leaves room for every product
            raise SizeError("cannot read size %r exactly" % text)
    if total != total.to_integral_value():
        raise SizeError("size %r is not a whole number of bytes" % text)
    return _within_libvirt(int(total), text)


# libvirt keeps sizes in unsigned 64-bit integers.
MAX_SIZE = (1 << 64) - 1


def _within_libvirt(size: int, text: str) -> int:
    if size > MAX_SIZE:
        raise SizeError("size %r is larger than libvirt can hold (%d bytes, 1 byte less than 16E)" % (text, MAX_SIZE))
    return size


_DISPLAY_UNITS = (("E", 6), ("P", 5), ("T", 4), ("G", 3), ("M", 2), ("K", 1))


def format_size(size: int) -> str:
    """``size`` for messages: exact where a unit divides it (``20G``, ``1536M``), else to one decimal."""
    for unit, power in _DISPLAY_UNITS:
        scale = 1024**power
        if size >= scale and size % scale == 0:
            return "%d%s" % (size // scale, unit)
    for unit, power in _DISPLAY_UNITS:
        scale = 1024**power
        if size >= scale:
            return "%.1f%s" % (size / scale, unit)
    return "%dB" % size


_GIB = 1 << 30
_MIB = 1 << 20


def message_unit(largest: int) -> Tuple[str, int]:
    """One unit for every figure of a message, as an admin reads sizes: GiB from 1 GiB on, MiB below."""
    return ("GiB", _GIB) if largest >= _GIB else ("MiB", _MIB)


def in_unit(size: int, unit: Tuple[str, int]) -> str:
    """``size`` in ``unit``: whole where it divides, else to one decimal ("2 GiB", "5.2 GiB")."""
    name, scale = unit
    return "%d %s" % (size // scale, name) if size % scale == 0 else "%.1f %s" % (size / scale, name)

"""The parser every builder reads libvirt's and the user's XML with.

lxml >= 5 no longer resolves external entities by default, so a test that only feeds an external
entity passes with the protection removed; internal entities are still expanded by lxml's default
parser (``resolve_entities="internal"``), so they are what shows whether ours resolves none.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse

# An entity reference kept as written: what a parser that resolves nothing serialises back.
KEPT = "&x;"


def _name_of(text: str) -> str:
    from lxml import etree

    return etree.tostring(parse(text).find("name"), encoding="unicode")


def test_internal_entities_are_not_expanded():
    """An entity declared in the document stays a reference: nothing of its value reaches a field."""
    text = '<!DOCTYPE v [<!ENTITY x "SECRET">]><volume><name>&x;</name></volume>'
    root = parse(text)
    assert root.findtext("name") == ""
    assert "SECRET" not in _name_of(text) and KEPT in _name_of(text)


def test_external_file_entities_are_not_expanded(tmp_path):
    """A SYSTEM entity naming a host file is neither read nor refused with its content in the message."""
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    text = '<!DOCTYPE v [<!ENTITY x SYSTEM "file://%s">]><volume><name>&x;</name></volume>' % secret
    root = parse(text)
    assert root.findtext("name") == ""
    assert "TOPSECRET" not in _name_of(text) and KEPT in _name_of(text)


def _nested(depth: int, width: int) -> str:
    """A document whose one reference expands to ``width ** depth`` copies of "lol"."""
    levels = ['<!ENTITY l0 "lol">'] + [
        '<!ENTITY l%d "%s">' % (level, ("&l%d;" % (level - 1)) * width) for level in range(1, depth + 1)
    ]
    return "<!DOCTYPE v [%s]><volume><name>&l%d;</name></volume>" % ("".join(levels), depth)


def test_nested_entities_are_not_expanded():
    """Nested entities small enough for libxml2's own amplification limit stay one reference."""
    text = _nested(depth=3, width=3)
    assert parse(text).findtext("name") == ""
    assert "lol" not in _name_of(text)


def test_a_billion_laughs_is_a_clear_error_at_once():
    """libxml2 refuses this much amplification whatever the parser's options (so this guards the
    message and the time, not our options): a clear XmlError, no memory blow-up, no traceback."""
    started = time.monotonic()
    with pytest.raises(XmlError, match="cannot parse XML"):
        parse(_nested(depth=9, width=10))
    assert time.monotonic() - started < 1


def test_garbage_is_a_clear_error():
    with pytest.raises(XmlError, match="cannot parse XML"):
        parse("<volume>")

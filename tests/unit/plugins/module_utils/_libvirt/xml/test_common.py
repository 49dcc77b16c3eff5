from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse


def test_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    text = '<!DOCTYPE v [<!ENTITY x SYSTEM "file://%s">]><volume><name>&x;</name></volume>' % secret
    root = parse(text)
    assert "TOPSECRET" not in (root.findtext("name") or "")


def test_garbage_is_a_clear_error():
    with pytest.raises(XmlError, match="cannot parse XML"):
        parse("<volume>")

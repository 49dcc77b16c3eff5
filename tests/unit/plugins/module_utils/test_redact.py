"""URL credentials are masked in URLs and in free text."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils.redact import redact_text, redact_url, url_secrets


@pytest.mark.parametrize("url, shown", [
    ("http://user:pw@host/x", "http://***@host/x"),
    ("HTTPS://u@host:8443/a?b=c", "HTTPS://***@host:8443/a?b=c"),
    ("nfs://server/export/tree?version=4", "nfs://server/export/tree?version=4"),
    ("ftp://a%40b:p%3Aw@host/", "ftp://***@host/"),
    ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
    ("/srv/tree", "/srv/tree"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redact_url_none():
    assert redact_url(None) is None


def test_redact_text_masks_every_url():
    text = "cannot download http://a:b@h1/x: then ftp://c:d@h2/y failed"
    assert redact_text(text) == "cannot download http://***@h1/x: then ftp://***@h2/y failed"


def test_url_secrets_yield_userinfo_and_password():
    assert list(url_secrets("x http://u:p4ss@h/ y https://token@h/")) == ["u:p4ss", "p4ss", "token"]

"""URL credentials as careless admins write them: a password with a character that URLs reserve
('#', '/', '?', '@') or a space, not percent-encoded. The task must fail (or work) without
showing the password anywhere: message, invocation, plan.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install, virt_pool_volume, virt_preflight
from module_runs import run_main

SECRET = "Zq7Secret"
UNENCODED = ["p#", "p/", "p?", "p@", "p "]


def invoke(capsys, module, **args):
    code, result, _out = run_main(capsys, module, **args)
    return code, result


def url(password_start):
    return "http://admin:%s%s@127.0.0.1:1/x.iso" % (password_start, SECRET)


def test_a_plain_password_is_masked(capsys):
    """What holds: a password of unreserved characters."""
    _code, result = invoke(
        capsys,
        virt_pool_volume,
        uri="test:///default",
        pool="default-pool",
        name="x.iso",
        format="iso",
        source_url=url("p"),
        _ansible_check_mode=True,
    )
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("start", UNENCODED)
def test_source_url_password_never_shown(capsys, start):
    _code, result = invoke(
        capsys,
        virt_pool_volume,
        uri="test:///default",
        pool="default-pool",
        name="x.iso",
        format="iso",
        source_url=url(start),
        _ansible_check_mode=True,
    )
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("start", UNENCODED)
def test_install_location_password_never_shown(capsys, start):
    _code, result = invoke(
        capsys,
        virt_guest_install,
        uri="test:///default",
        name="rvrt-leak",
        install=dict(method="location", location=url(start).replace("/x.iso", "/tree/")),
        _ansible_check_mode=True,
    )
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("start", UNENCODED)
def test_kickstart_password_never_shown(capsys, start):
    _code, result = invoke(
        capsys,
        virt_guest_install,
        uri="test:///default",
        name="rvrt-leak",
        install=dict(method="location", location="http://127.0.0.1:1/tree/", kickstart=url(start).replace("/x.iso", "/ks.cfg")),
        _ansible_check_mode=True,
    )
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("start", UNENCODED)
def test_preflight_password_never_shown(capsys, start):
    guest = dict(name="rvrt-leak", install=dict(method="location", location=url(start).replace("/x.iso", "/tree/")))
    _code, result = invoke(capsys, virt_preflight, uri="test:///default", guests=[guest], _ansible_check_mode=True)
    assert SECRET not in json.dumps(result)

"""Shared fixtures: libvirt's RelaxNG schemas and the embedded test:///default driver."""

from __future__ import annotations

import itertools
import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings
from lxml import etree

SCHEMA_DIR = os.environ.get("LIBVIRT_SCHEMA_DIR", "/usr/share/libvirt/schemas")
_schemas: dict = {}
_names = itertools.count()

# Property tests: enough examples to find the odd character, few enough to keep the unit suite
# well under a minute; libvirt's test driver answers in its own time, so no deadline.
# No example database, and Hypothesis' own cache in a temporary directory: the tests write nothing
# into the checkout (and a read-only one works).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="remotevirt-hypothesis."))
settings.register_profile(
    "remotevirt",
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "remotevirt"))


def relaxng(kind: str) -> etree.RelaxNG:
    if kind not in _schemas:
        _schemas[kind] = etree.RelaxNG(etree.parse(os.path.join(SCHEMA_DIR, kind + ".rng")))
    return _schemas[kind]


def assert_valid(kind: str, xml: str) -> None:
    schema = relaxng(kind)
    assert schema.validate(etree.fromstring(xml.encode())), "%s XML invalid: %s\n%s" % (kind, schema.error_log.last_error, xml)


@pytest.fixture
def unique_name(request):
    """A volume name no other test in this process uses (test:///default state is per process)."""

    def make(suffix: str = ".qcow2") -> str:
        return "%s-%d%s" % (request.node.name.replace("[", "-").replace("]", "")[:40], next(_names), suffix)

    return make


@pytest.fixture
def test_client():
    """A connection held open for the whole test: test:///default forgets everything when the
    last connection of the process closes, and the code under test opens and closes its own."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    client = Client("test:///default")
    client.version()  # opens the connection now
    yield client
    client.close()


@pytest.fixture
def scripted_http(monkeypatch):
    """A running scripted_http.ScriptedServer on 127.0.0.1, reached without any proxy."""
    from scripted_http import ScriptedServer

    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def host_log(monkeypatch):
    """Every line AnsibleModule would write to the host's syslog (journald's binding forced off)."""
    from ansible.module_utils import basic

    lines = []
    monkeypatch.setattr(basic, "has_journal", False)
    monkeypatch.setattr(basic.AnsibleModule, "_log_to_syslog", lambda self, msg: lines.append(msg))
    return lines


@pytest.fixture
def file_pool(test_client, tmp_path, unique_name):
    """A directory pool of the test driver whose volume paths are real files under tmp_path
    (the test driver makes no files: tests write them where a file is needed)."""
    name = unique_name("")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, tmp_path), 0
    )
    pool.create(0)
    yield name
    pool.destroy()
    pool.undefine()

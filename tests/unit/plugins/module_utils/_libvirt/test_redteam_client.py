"""A libvirtd that accepts connections but never answers (hung, or stopped with SIGSTOP: the
kernel still queues connections on its socket) must end a task with an error, never hang it.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

# Keepalive gives up after 5 s * (3 + 1); this leaves room for a slow machine.
GIVE_UP_SECONDS = 40

CONNECT = textwrap.dedent("""
    import sys
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
    try:
        Client("qemu:///system?socket=" + sys.argv[1]).version()
    except Exception as error:
        print("failed:", error)
""")


@pytest.fixture
def silent_daemon(tmp_path):
    """A unix socket that accepts every connection and never sends a byte."""
    path = str(tmp_path / "libvirt-sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(16)
    yield path
    server.close()


def test_connecting_to_a_daemon_that_never_answers_fails(silent_daemon):
    try:
        finished = subprocess.run(
            [sys.executable, "-c", CONNECT, silent_daemon], timeout=GIVE_UP_SECONDS, capture_output=True, text=True, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("still connecting after %d s" % GIVE_UP_SECONDS)
    assert "failed:" in finished.stdout

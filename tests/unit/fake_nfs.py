"""Fakes of libnfs's nfs-ls, nfs-cat and nfs-cp over a local directory, first on PATH: ``nfs://fake/<path>``
is ``<root>/<path>`` (the query is ignored), and the server ``down`` refuses every connection. The
messages are those libnfs 4 prints."""

from __future__ import annotations

import os
import sys

FAKE_NFS = """#!%(python)s
import os, stat, sys
tool = os.path.basename(sys.argv[0])
url = sys.argv[1].split("?", 1)[0]
if url.startswith("nfs://down/"):
    sys.stderr.write("Failed to mount nfs share : nfs_service failed\\n")
    sys.exit(10)
path = os.path.join(os.environ["FAKE_NFS_ROOT"], url[len("nfs://fake/"):])
if not os.path.exists(path):
    sys.stderr.write("Failed to mount nfs share : mount_cb: NFS4: (path %%s) failed with NFS4ERR_NOENT(-2)\\n" %% url)
    sys.exit(10)
if tool == "nfs-ls":
    for name in sorted(os.listdir(path)):
        info = os.lstat(os.path.join(path, name))
        print("%%s  1 65534 65534 %%12d %%s" %% (stat.filemode(info.st_mode), info.st_size, name))
elif tool == "nfs-cat":
    with open(path, "rb") as source:
        sys.stdout.buffer.write(source.read())
elif tool == "nfs-cp":
    with open(path, "rb") as source, open(sys.argv[2], "xb") as target:
        target.write(source.read())
"""


def fake_nfs_tools(tmp_path, monkeypatch):
    """Install the fakes under ``tmp_path`` and put them first on PATH; returns the directory
    ``nfs://fake/`` shows."""
    tools, root = tmp_path / "fake-nfs-bin", tmp_path / "fake-nfs-export"
    tools.mkdir()
    root.mkdir()
    for tool in ("nfs-ls", "nfs-cat", "nfs-cp"):
        (tools / tool).write_text(FAKE_NFS % {"python": sys.executable})
        (tools / tool).chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (tools, os.environ.get("PATH", "")))
    monkeypatch.setenv("FAKE_NFS_ROOT", str(root))
    return root

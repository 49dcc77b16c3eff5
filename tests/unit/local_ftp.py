"""An anonymous, read-only FTP server (pyftpdlib) of a directory, on 127.0.0.1, for the tests of what
the host downloads over FTP (pyftpdlib's transfer reply gives no length)."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import pytest


@contextlib.contextmanager
def serving(root: str) -> Iterator[str]:
    """``ftp://127.0.0.1:PORT`` of a server of ``root`` while the block runs; skips the test without pyftpdlib."""
    pytest.importorskip("pyftpdlib")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root)
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    try:
        yield "ftp://127.0.0.1:%d" % server.address[1]
    finally:
        server.close_all()
        thread.join(5)

"""Serves the files of a directory over HTTP at a limited rate, so that a fault can be injected
while a host downloads one.

    python3 slow_http.py DIRECTORY ADDRESS PORT_FILE

Listens on ADDRESS, on a free port that it writes to PORT_FILE once it accepts connections.
``?rate=BYTES`` in a URL limits that response to BYTES per second (default: no limit).
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024


class SlowHandler(BaseHTTPRequestHandler):
    directory = "."

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        path = os.path.join(self.directory, os.path.basename(url.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        rate = int(parse_qs(url.query).get("rate", ["0"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        if body:
            self._send_file(path, rate)

    def _send_file(self, path: str, rate: int) -> None:
        started, sent = time.monotonic(), 0
        with open(path, "rb") as source:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    return
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client went away: that is what the tests make happen
                sent += len(chunk)
                if rate:
                    # sleep until the bytes sent so far are due at this rate
                    time.sleep(max(0.0, started + sent / rate - time.monotonic()))


def main() -> None:
    directory, address, port_file = sys.argv[1:4]
    SlowHandler.directory = directory
    server = ThreadingHTTPServer((address, 0), SlowHandler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as out:
        out.write("%d\n" % server.server_address[1])
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

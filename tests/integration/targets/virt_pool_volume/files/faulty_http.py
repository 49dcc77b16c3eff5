"""An HTTP server on 127.0.0.1 that serves a directory, and the same files badly.

  python3 faulty_http.py DIRECTORY STATE_DIR

Writes its port to STATE_DIR/port. Paths:
  /FILE              the file, as a plain server would
  /stall-once/FILE   the first GET sends half the body, touches STATE_DIR/stalled and then
                     hangs (until the client is gone); later requests get the whole file
  /short/FILE        announces the whole length, sends half, closes the connection
  /as-html/FILE      the whole file, as Content-Type text/html
  /no-length/FILE    the whole file without a Content-Length (its end: the connection closes)
  /no-length-short/FILE  half the file without a Content-Length, then the connection closes
A GET with a Range of the first bytes gets them (206), whatever the path's mode. STATE_DIR/requests.log
lists every request, a ranged one as "GET /path (first bytes)".
"""

import http.server
import os
import re
import sys
import threading
import time

DIRECTORY, STATE = sys.argv[1], sys.argv[2]
stalled = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        with open(os.path.join(STATE, "requests.log"), "a") as log:
            ranged = " (first bytes)" if self.headers.get("Range") else ""
            log.write("%s %s%s\n" % (self.command, self.path, ranged))

    def do_HEAD(self):
        self.answer(False)

    def do_GET(self):
        self.answer(True)

    def answer(self, with_body):
        mode, _slash, name = self.path.lstrip("/").rpartition("/")
        path = os.path.join(DIRECTORY, os.path.basename(name))
        if mode not in ("", "stall-once", "short", "as-html", "no-length", "no-length-short") or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as source:
            body = source.read()
        wanted = re.fullmatch(r"bytes=0-([0-9]+)", self.headers.get("Range") or "")
        if wanted and with_body:
            # The first bytes a client reads before it downloads (plan time): sent whole, never
            # stalled or cut short, so the download that follows is the request that is.
            part = body[: int(wanted.group(1)) + 1]
            self.send_response(206)
            self.send_header("Content-Type", "text/html" if mode == "as-html" else "application/octet-stream")
            self.send_header("Content-Range", "bytes 0-%d/%d" % (len(part) - 1, len(body)))
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if mode == "as-html" else "application/octet-stream")
        if not mode.startswith("no-length"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not with_body:
            return
        if mode == "no-length-short":
            self.wfile.write(body[: len(body) // 2])
            return
        if mode == "short":
            self.wfile.write(body[: len(body) // 2])
            return
        if mode == "stall-once":
            with lock:
                first = name not in stalled
                stalled.add(name)
            if first:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                open(os.path.join(STATE, "stalled"), "w").close()
                time.sleep(600)
                return
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(os.path.join(STATE, "port.tmp"), "w") as port_file:
    port_file.write(str(server.server_address[1]))
os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
server.serve_forever()

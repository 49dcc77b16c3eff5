"""An HTTP server on 127.0.0.1 that serves a directory only to one user and password (Basic auth).

  python3 auth_http.py DIRECTORY STATE_DIR USER PASSWORD

Writes its port to STATE_DIR/port; any other request gets 401.
"""

import base64
import http.server
import os
import sys
from functools import partial

DIRECTORY, STATE, USER, PASSWORD = sys.argv[1:5]
EXPECTED = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send_head(self):
        if self.headers.get("Authorization") != EXPECTED:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="tree"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return super().send_head()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=DIRECTORY))
server.daemon_threads = True
with open(os.path.join(STATE, "port.tmp"), "w") as port_file:
    port_file.write(str(server.server_address[1]))
os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
server.serve_forever()

"""A real HTTP server on 127.0.0.1 whose answers the test writes: exact bodies, lying
Content-Length headers, authentication and redirects. Every request's headers are recorded."""

from __future__ import annotations

import base64
import http.server
import threading
from typing import Dict, List, Optional, Tuple


class Route:
    """The answer to one path.

    ``length`` is the Content-Length header sent (None: none, the body ends when the connection
    closes); ``send`` how many bytes of ``body`` are actually sent before the connection closes;
    ``chunked``: the body is sent in HTTP/1.1 chunks (without a length), the closing empty chunk only
    when all of it was sent; ``headers``: more headers, as given (a server's odd ones); ``reason``:
    the status line's text instead of the usual one (a server that quotes the path there).
    """

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        content_type: str = "application/octet-stream",
        length: Optional[int] = -1,
        send: Optional[int] = None,
        credentials: Optional[Tuple[str, str]] = None,
        location: Optional[str] = None,
        chunked: bool = False,
        headers: Optional[Dict[str, str]] = None,
        reason: Optional[str] = None,
    ) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.length = len(body) if length == -1 else length
        self.send = len(body) if send is None else send
        self.credentials = credentials
        self.location = location
        self.chunked = chunked
        self.headers = headers or {}
        self.reason = reason


class ScriptedServer:
    def __init__(self) -> None:
        self.routes: Dict[str, Route] = {}
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []  # (method, path, headers)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(with_body=False)

            def do_GET(self) -> None:
                self._answer(with_body=True)

            def _answer(self, with_body: bool) -> None:
                server.requests.append((self.command, self.path, dict(self.headers.items())))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.credentials and self.headers.get("Authorization") != _basic(*route.credentials):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="images"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.protocol_version = "HTTP/1.1" if route.chunked else "HTTP/1.0"
                self.send_response(route.status, route.reason)
                if route.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                if route.location:
                    self.send_header("Location", route.location)
                self.send_header("Content-Type", route.content_type)
                if route.length is not None:
                    self.send_header("Content-Length", str(route.length))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if with_body and route.chunked:
                    self._write_chunks(route)
                elif with_body:
                    self.wfile.write(route.body[: route.send])
                self.close_connection = True

            def _write_chunks(self, route: Route) -> None:
                sent = route.body[: route.send]
                for start in range(0, len(sent), 4096):
                    chunk = sent[start : start + 4096]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if route.send >= len(route.body):
                    self.wfile.write(b"0\r\n\r\n")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return "http://%s:%d%s" % (host, self.port, path)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

"""A local HTTP server for the recipes' download stages: serves files from memory, answers
``Range: bytes=N-`` with 206 (what ``wget --continue`` and ``curl -C -`` send to resume), and can
cut the first transfer of a file short to make a download resume. Records every request.

``cut_first_after=N`` drops the first transfer after N bytes (the client sees a short read).
With ``down_after_cut=True`` the server also stops listening right then, as if the network went
away: wget's own retries get "connection refused" and give up, like curl does at once, so the
download script fails and only a re-run can finish the file; ``restart()`` listens again on the
same port (the same URL).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional


@dataclass
class Request:
    path: str
    range: Optional[str]


@dataclass
class FileServer:
    files: Dict[str, bytes]                       # URL path ("/x.tar.gz") -> content
    cut_first_after: Optional[int] = None         # bytes sent before the first transfer is dropped
    down_after_cut: bool = False                  # stop listening once the first transfer is cut
    requests: List[Request] = field(default_factory=list)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                first = not server.requests
                server.requests.append(Request(self.path, rng))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes="):-1])
                if start >= len(data) and start:  # what Apache answers for a file already complete
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if first and server.cut_first_after is not None:
                    self.wfile.write(body[: server.cut_first_after])
                    self.wfile.flush()
                    self.close_connection = True
                    if server.down_after_cut:  # before this connection closes: no retry can get in
                        server._stop()
                    return
                self.wfile.write(body)

        return Handler

    def _start(self, port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True  # so _stop() may run inside a request's own thread
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.port = self._httpd.server_address[1]

    def _stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FileServer":
        self._httpd = None
        self._start()
        return self

    def restart(self) -> None:
        """Listen again, on the same port, after ``down_after_cut`` took the server down."""
        self._stop()
        self._start(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self._stop()

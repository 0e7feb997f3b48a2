"""A counting HTTP proxy in front of moto: every AWS call the functions make passes through it and
is counted by operation (the `Action` of query/form APIs, `X-Amz-Target` of JSON APIs, or method
and path for REST APIs), so "AWS calls made" is measured at the HTTP layer, for Rust and Python
alike."""

from __future__ import annotations

import collections
import http.client
import http.server
import threading
import urllib.parse


def operation(method: str, path: str, headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    for source in (urllib.parse.urlparse(path).query, body.decode("utf-8", "replace") if body else ""):
        action = urllib.parse.parse_qs(source).get("Action")
        if action:
            return action[0]
    return f"{method} {urllib.parse.urlparse(path).path.split('/')[1] if '/' in path else path}"


class CountingProxy:
    def __init__(self, port: int, upstream: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        target = urllib.parse.urlparse(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle and the
            # peer's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.counts[operation(self.command, self.path, self.headers, body)] += 1
                # http.client, not urllib: urllib adds a form Content-Type to a POST without one
                # (botocore's Route 53 calls), which makes moto read it as a query-protocol call.
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, out_headers, answer = resp.status, resp.headers, resp.read()
                finally:
                    conn.close()
                self.send_response(status)
                for k, v in out_headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()

    def total(self) -> int:
        return sum(self.counts.values())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A minimal Lambda Runtime API server: the benchmark's own stand-in for the Lambda service.

Both a Rust `bootstrap` (lambda_runtime) and Python's `awslambdaric` speak this API: they poll
`GET /2018-06-01/runtime/invocation/next` for an event and POST the result to
`/2018-06-01/runtime/invocation/{id}/response` (or `/error`). The server hands out the queued
events one at a time and records when each answer arrived, so the time from spawning a process to
its first answer is the cold start, and the time from handing out an event to its answer is an
invocation.
"""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
import uuid


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A function process killed mid-poll resets its connection: expected, not worth a trace."""


class RuntimeApi:
    def __init__(self, port: int, events: list[object]):
        self.port = port
        self.pending: queue.Queue = queue.Queue()
        for e in events:
            self.pending.put(e)
        self.handed_out: dict[str, float] = {}
        # When the process first asked for an event: the end of its initialisation.
        self.first_poll: float | None = None
        self.answers: list[dict] = []
        self.done = threading.Event()
        self.answered = threading.Condition()
        self.expected = len(events)
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle and the
            # peer's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._send(404)
                if api.first_poll is None:
                    api.first_poll = time.perf_counter()
                try:
                    event = api.pending.get(timeout=120)
                except queue.Empty:
                    return self._send(500)
                request_id = str(uuid.uuid4())
                api.handed_out[request_id] = time.perf_counter()
                deadline = int((time.time() + 300) * 1000)
                self._send(200, json.dumps(event).encode(), {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:ap-northeast-2:123456789012:function:bench",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                now = time.perf_counter()
                if len(parts) >= 5 and parts[2] == "invocation" and parts[4] in ("response", "error"):
                    request_id = parts[3]
                    with api.answered:
                        api.answers.append({
                            "requestId": request_id, "ok": parts[4] == "response", "at": now,
                            "handedOut": api.handed_out.get(request_id), "body": body,
                        })
                        api.answered.notify_all()
                    self._send(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
                    if len(api.answers) >= api.expected:
                        api.done.set()
                    return
                if self.path.endswith("/init/error"):
                    api.answers.append({"requestId": None, "ok": False, "at": now, "handedOut": None, "body": body[:2000]})
                    api.done.set()
                    return self._send(202, b'{"status":"OK"}')
                self._send(404)

        self.server = QuietServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event: object, timeout: float = 300) -> dict:
        """Hands one more event to the (already running) function process and waits for its
        answer: a warm Lambda invocation. One at a time."""
        with self.answered:
            seen = len(self.answers)
            self.pending.put(event)
            if not self.answered.wait_for(lambda: len(self.answers) > seen, timeout=timeout):
                raise TimeoutError("the function did not answer")
            return self.answers[seen]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

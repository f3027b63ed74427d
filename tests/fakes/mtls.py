"""A real HTTPS server on 127.0.0.1 that takes only clients presenting a certificate its CA
signed (ssl.CERT_REQUIRED), for the tests of mutual TLS (tests/test_mtls.py)."""

from __future__ import annotations

import json
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = {"id": "E1", "email": "e1@example.com"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MtlsServer

    def do_GET(self) -> None:
        self._answer(ANSWER)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer({"access_token": "token-1", "token_type": "Bearer", "expires_in": 3600})

    def _answer(self, answer: dict[str, Any]) -> None:
        peer = self.connection.getpeercert() or {}
        subject = dict(pair[0] for pair in peer.get("subject", ()))
        self.server.seen.append((f"{self.command} {self.path}", subject.get("commonName", "")))
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class MtlsServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 for clients with a certificate `context`'s CA signed: `seen` holds
    each request let in with its client certificate's common name, `refused` each handshake
    refused, as the server's TLS library said it."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = context
        self.seen: list[tuple[str, str]] = []
        self.refused: list[str] = []
        self.url = f"https://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.refused.append(str(exc))
            return
        Handler(conn, client_address, self)

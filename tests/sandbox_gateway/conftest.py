"""A real HTTP receiver for the sandbox's notifications: answers a scripted list of statuses
and keeps what it was sent."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self, statuses):
        self.statuses = list(statuses)  # the answers, in order; the last one repeats
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = (
                        receiver.statuses.pop(0)
                        if len(receiver.statuses) > 1
                        else receiver.statuses[0]
                    )
                answer = b"" if status == 204 else b'{"code":"FAIL","message":"not now"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/notify/wechat/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(*statuses):
        receiver = Receiver(statuses or (204,))
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def quick(settings):
    """Retries within a fraction of a second; deliveries only when the test sweeps."""
    settings.SANDBOX_GATEWAY_RETRY_SCALE = 0.01
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    settings.SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "http"
    return settings

"""Real uvicorn servers for the tests that must see what a client sees (threads, timing of the
commit, rate limits across connections): `serve(app)` runs one on a free loopback port."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app served by uvicorn in a thread; yields its base URL, stops it at the end."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class LossyProxy:
    """A TCP proxy between a browser and a server that can lose answers: armed with a request
    line's start (`cut(b"POST /api/resources ")`), it forwards each such request to the
    server, waits for the server's first byte of answer (the server has committed: 2xx means
    committed) and closes the browser's connection instead of passing the answer on — the
    weak-network case a client-generated id is for. Playwright's routes cannot do this: they
    do not see a service worker's page's requests; a proxy sees everything.

    Plain HTTP/1.1 without pipelining (what Chromium speaks to http://): on a connection the
    next answer after a request is that request's. `sent` keeps every byte the browser sent,
    per connection, to count what it sent again."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.prefix: bytes | None = None
        self.lost = 0  # answers lost so far
        self.sent: list[bytearray] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, prefix: bytes | None) -> None:
        """Lose the answers to requests starting so (None: lose nothing any more)."""
        self.prefix = prefix

    def count(self, needle: bytes) -> int:
        """How many times the browser sent `needle` (a client id, say)."""
        with self._lock:
            return sum(bytes(chunk).count(needle) for chunk in self.sent)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._open += [client, server]
            state = {"cutting": False}
            log = bytearray()
            with self._lock:
                self.sent.append(log)
            threading.Thread(target=self._up, args=(client, server, state, log),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state),
                             daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, bool],
            log: bytearray) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    log.extend(data)
                if self.prefix is not None and data.startswith(self.prefix):
                    state["cutting"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _down(self, server: socket.socket, client: socket.socket,
              state: dict[str, bool]) -> None:
        try:
            while data := server.recv(65536):
                if state["cutting"]:  # the server answered: the browser never hears it
                    with self._lock:
                        self.lost += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)

    def close(self) -> None:
        self._listener.close()
        for sock in self._open:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def lossy_proxy(upstream: str) -> Iterator[LossyProxy]:
    """A LossyProxy in front of `upstream` (a base URL), closed at the end."""
    proxy = LossyProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()

"""A TCP proxy in front of PostgreSQL that a test can take down and bring back: the
database "goes away" for the processes behind it while the test keeps its own connection.

    with TcpProxy(connection.get_connection_params()) as proxy:   # listens on 127.0.0.1
        url = proxy.database_url(name)                            # for a server subprocess
        proxy.down()     # every connection through it is cut, new ones are refused
        proxy.up()
        proxy.freeze()   # nothing is forwarded any more, nothing is refused: a frozen server
        proxy.thaw()
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any
from urllib.parse import quote

from tests.support.worker import free_port


class TcpProxy:
    def __init__(self, params: dict[str, Any]) -> None:
        host = str(params.get("host") or "127.0.0.1")
        port = int(params.get("port") or 5432)
        # An embedded server listens on a Unix socket in its data directory.
        self.target: Any = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self.user = str(params.get("user") or "postgres")
        self.password = str(params.get("password") or "")
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()

    def freeze(self) -> None:
        """Stop forwarding, in both directions, without closing or refusing anything: what
        clients see of a server whose processes are stopped (SIGSTOP) or of a network
        path that drops packets. What arrives meanwhile is held, and sent on `thaw`."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def database_url(self, name: str) -> str:
        password = f":{quote(self.password)}" if self.password else ""
        return f"postgres://{quote(self.user)}{password}@127.0.0.1:{self.port}/{name}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut every open one, as a stopped server does."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        for pair in pairs:
            for sock in pair:
                # shutdown wakes the pump blocked in recv() on it; close alone would not
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by down()
                return
            family = socket.AF_UNIX if isinstance(self.target, str) else socket.AF_INET
            server = socket.socket(family, socket.SOCK_STREAM)
            try:
                server.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while this one was connecting
                    client.close()
                    server.close()
                    return
                self._pairs.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=_pump, args=(source, sink, self._flowing), daemon=True
                ).start()

    def __enter__(self) -> TcpProxy:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()


def _pump(source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
    try:
        while data := source.recv(65536):
            flowing.wait()
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

"""moto's server for the local stack."""

from __future__ import annotations

import threading


def atomic_moto_server(host: str):
    """moto's threaded server with each request handled atomically, as DynamoDB applies each
    request atomically. moto has no per-item lock: two concurrent conditional writes on one item
    could both pass their condition, and then the local stack would test moto's races instead of
    the service's conditions (the concurrency tests run against it)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    lock = threading.Lock()

    class AtomicDispatcher(DomainDispatcherApplication):
        def __call__(self, environ, start_response):
            with lock:
                # The whole body is read and the whole answer built inside the lock.
                return list(super().__call__(environ, start_response))

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(
                self._ip_address,
                self._port,
                AtomicDispatcher(create_backend_app),
                True,
                request_handler=MotoRequestHandler,
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return AtomicMotoServer(ip_address=host, port=0, verbose=False)

"""The sandbox's receiver: a loopback receiver for async runs against the bundled simulator.

In sandbox mode the API is the simulator in this process, which POSTs callbacks to loopback only;
so an async step in sandbox mode needs no deployed receiver: one is started here on a free
loopback port, once per process and callback store, and stopped when the process exits.

Example:
    >>> server = sandbox_receiver(store)  # doctest: +SKIP
    >>> server.callback_url  # doctest: +SKIP
    'http://127.0.0.1:49152/callbacks'
"""

from __future__ import annotations

import atexit
import threading

from captaindata_dagster.receiver.server import ReceiverServer
from captaindata_dagster.receiver.settings import ReceiverSettings
from captaindata_dagster.storage.callbacks import CallbackStore

_lock = threading.Lock()
_servers: dict[str, ReceiverServer] = {}


def sandbox_receiver(store: CallbackStore) -> ReceiverServer:
    """The loopback receiver writing to `store`, started on first use (one per store).

    Args:
        store: the callback store the sandbox's async steps read.
    """
    key = str(store.location)
    with _lock:
        server = _servers.get(key)
        if server is None:
            settings = ReceiverSettings(host="127.0.0.1", port=0, public_url=None)
            server = ReceiverServer(settings, store=store).start()
            _servers[key] = server
            atexit.register(server.stop)
        return server

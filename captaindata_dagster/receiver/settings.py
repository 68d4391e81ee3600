"""What a deployment of the receiver sets: where it listens, the URL the API is given, the store.

Security: the bind address (`host`, `port`) is where uvicorn listens, usually loopback behind the
user's TLS proxy; `public_url` is the https URL the Internet reaches that proxy on, the one put in
each submission's `callback.url`. They differ on purpose: the receiver speaks plain HTTP and
should not be exposed without TLS, since every callback carries its submission's secret in a
header. The body limit bounds what an anonymous post can make the server read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from captaindata_dagster.storage.callbacks import CallbackStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_PATH = "/callbacks"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
PUBLIC_URL_ENV = "CAPTAINDATA_RECEIVER_PUBLIC_URL"


@dataclass(frozen=True)
class ReceiverSettings:
    """The receiver's settings.

    Args:
        host: the address uvicorn binds (loopback by default: put a TLS proxy in front).
        port: the port it binds (0 picks a free one).
        public_url: the base URL the API reaches the receiver on (https, through the proxy);
            default `$CAPTAINDATA_RECEIVER_PUBLIC_URL`, else the bind address (local tests only).
        store: the callback store's path or PostgreSQL URL; default beside the ledger
            (`storage.callbacks.default_callback_store_location`).
        max_body_bytes: larger bodies are refused (413) while being read.
        path: the path callbacks are posted to.

    Example:
        >>> ReceiverSettings(public_url="https://hooks.example.com/").callback_url()
        'https://hooks.example.com/callbacks'
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None
    store: str | os.PathLike[str] | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    path: str = DEFAULT_PATH

    def __post_init__(self) -> None:
        if not 0 <= int(self.port) <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if int(self.max_body_bytes) < 1:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")
        public = self.public_url or os.environ.get(PUBLIC_URL_ENV, "").strip() or None
        if public is not None and not public.startswith(("http://", "https://")):
            raise ValueError(f"public_url must be an http(s) URL, got {public!r}")

    def callback_url(self, port: int | None = None) -> str:
        """The `callback.url` to give the API: the public URL (else the bind address) + path.

        Args:
            port: the port actually bound, when `port` was 0.
        """
        public = self.public_url or os.environ.get(PUBLIC_URL_ENV, "").strip()
        if not public:
            public = f"http://{self.host}:{self.port if port is None else port}"
        return public.rstrip("/") + self.path

    def open_store(self) -> CallbackStore:
        """The callback store these settings name (nothing is opened until its first call)."""
        return CallbackStore(self.store)

"""What a deployment of the receiver sets: where it listens, the URL the API is given, the store.

Security: the bind address (`host`, `port`) is where uvicorn listens, usually loopback behind the
user's TLS proxy; `public_url` is the https URL the Internet reaches that proxy on, the one put in
each submission's `callback.url`. They differ on purpose: the receiver speaks plain HTTP and
should not be exposed without TLS, since every callback carries its submission's secret in a
header. So the public URL must be https, unless its host is loopback (a test, or a proxy on the
same machine); with no public URL the bind address is used, and only a loopback one is allowed
(`callback_url` refuses a public bind address without one). The body limit bounds what an
anonymous post can make the server read.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from captaindata_dagster.storage.callbacks import CallbackStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_PATH = "/callbacks"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
PUBLIC_URL_ENV = "CAPTAINDATA_RECEIVER_PUBLIC_URL"


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1): reached from this machine.

    Example:
        >>> is_loopback_host("127.0.0.1"), is_loopback_host("0.0.0.0"), is_loopback_host("[::1]")
        (True, False, True)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ReceiverSettings:
    """The receiver's settings.

    Args:
        host: the address uvicorn binds (loopback by default: put a TLS proxy in front).
        port: the port it binds (0 picks a free one).
        public_url: the base URL the API reaches the receiver on (https, through the proxy; http
            only on a loopback host); default `$CAPTAINDATA_RECEIVER_PUBLIC_URL` (read once, when
            the settings are made), else the bind address (loopback only: local tests).
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
        object.__setattr__(self, "public_url", public)  # resolved once: the environment may change
        if public is not None:
            parts = urlsplit(public)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"public_url must be an http(s) URL, got {public!r}")
            if parts.scheme == "http" and not is_loopback_host(parts.hostname):
                raise ValueError(
                    f"public_url must be https (callbacks carry their secret), got {public!r}"
                )

    def callback_url(self, port: int | None = None) -> str:
        """The `callback.url` to give the API: the public URL (else the bind address) + path.

        Args:
            port: the port actually bound, when `port` was 0.

        Raises:
            ValueError: no public URL, and the bind address is not loopback (the API would be
                given plain http on a public address).
        """
        public = self.public_url
        if public is None:
            if not is_loopback_host(self.host):
                raise ValueError(
                    f"a receiver bound to {self.host} needs a public https URL (--public-url or "
                    f"${PUBLIC_URL_ENV}): callbacks carry their secret"
                )
            public = f"http://{self.host}:{self.port if port is None else port}"
        return public.rstrip("/") + self.path

    def open_store(self) -> CallbackStore:
        """The callback store these settings name (nothing is opened until its first call)."""
        return CallbackStore(self.store)

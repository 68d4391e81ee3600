"""Where the stores live, and how a location is shown: paths, PostgreSQL URLs, the environment.

A location is a path (a SQLite file) or a `postgresql://` URL. The ledger's comes from its
settings, else `$CAPTAINDATA_LEDGER_URL`, else `$CAPTAINDATA_LEDGER`, else
`.captaindata/ledger.sqlite`; the outreach store's from `$CAPTAINDATA_OUTREACH_STORE`, else
beside the ledger (the same PostgreSQL database, or `outreach.sqlite` next to the ledger file).

A URL's password is never shown: `redact_url` is what every message, `repr` and `describe()`
carry, and `scrub` takes it out of a driver's error text in case one holds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from captaindata_dagster.api.errors import ValidationError

LEDGER_ENV = "CAPTAINDATA_LEDGER"
LEDGER_URL_ENV = "CAPTAINDATA_LEDGER_URL"
DEFAULT_LEDGER_PATH = Path(".captaindata") / "ledger.sqlite"
STORE_ENV = "CAPTAINDATA_OUTREACH_STORE"
STORE_FILENAME = "outreach.sqlite"
DEFAULT_STORE_PATH = Path(".captaindata") / STORE_FILENAME
POSTGRES_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"


def is_postgres_url(value: Any) -> bool:
    """True for a `postgresql://` or `postgres://` URL (the PostgreSQL backend's locations)."""
    if not isinstance(value, str):
        return False
    return value.strip().split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in value


def redact_url(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) replaced by `***`.

    Args:
        url: a database URL, as given (password included).

    Example:
        >>> redact_url("postgresql://ada:s3cret@db:5432/x")
        'postgresql://ada:***@db:5432/x'
    """
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return f"<unparseable URL, {len(text)} characters>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
        netloc = f"{userinfo}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = "&".join(
                f"{quote(k)}={REDACTED if k.lower() == 'password' else quote(v)}" for k, v in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    """The password a URL carries (user part or `password=` parameter), percent-decoded."""
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            return unquote(userinfo.split(":", 1)[1]) or None
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k.lower() == "password" and v:
            return v
    return None


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password (raw or percent-encoded) removed: for messages built from a
    driver's error, which should never hold it, in case one does.

    Example:
        >>> scrub("failed for s3cr@t", "postgresql://a:s3cr%40t@h/x")
        'failed for ***'
    """
    secret = url_password(url)
    if not secret:
        return text
    for form in {secret, quote(secret, safe=""), quote(secret)}:
        text = text.replace(form, REDACTED)
    return text


def default_ledger_path() -> Path:
    """`$CAPTAINDATA_LEDGER`, else `.captaindata/ledger.sqlite` under the current directory."""
    env = os.environ.get(LEDGER_ENV, "").strip()
    return Path(env) if env else DEFAULT_LEDGER_PATH


def resolve_ledger_location(
    ledger_url: str | None = None, ledger_path: str | os.PathLike[str] | None = None
) -> str | Path:
    """Where the ledger lives: `ledger_url`, else `ledger_path`, else `$CAPTAINDATA_LEDGER_URL`,
    else `$CAPTAINDATA_LEDGER`, else `.captaindata/ledger.sqlite`.

    Settings given in code win over the environment; a URL that is not PostgreSQL's is refused
    (ValidationError) naming where it came from, and so are both settings at once.

    Args:
        ledger_url: a `postgresql://` URL (a ledger shared by several machines).
        ledger_path: a SQLite file.

    Example:
        >>> resolve_ledger_location(None, "/srv/ledger.sqlite")
        PosixPath('/srv/ledger.sqlite')
    """
    url = (ledger_url or "").strip() or None
    if url is not None and ledger_path:
        raise ValidationError(
            "Both ledger_url and ledger_path are set: keep ledger_url for a PostgreSQL ledger "
            "shared by several machines, or ledger_path for a SQLite file, not both.",
            field="ledger_url",
        )
    source = "ledger_url"
    if url is None and not ledger_path:
        url = os.environ.get(LEDGER_URL_ENV, "").strip() or None
        source = LEDGER_URL_ENV
    if url is not None:
        if not is_postgres_url(url):
            raise ValidationError(
                f"{source} must be a PostgreSQL URL such as "
                f"postgresql://user@host:5432/database, got {redact_url(url)!r}; "
                "for a SQLite file use ledger_path (or CAPTAINDATA_LEDGER).",
                field=source,
            )
        return url
    return Path(ledger_path) if ledger_path else default_ledger_path()


def default_store_path(ledger_path: str | os.PathLike[str] | None = None) -> str | Path:
    """Where the outreach store lives when none is given.

    `$CAPTAINDATA_OUTREACH_STORE` (a path or a PostgreSQL URL), else beside the ledger: the
    same PostgreSQL database when the ledger is one (given here, or `$CAPTAINDATA_LEDGER_URL`
    without a ledger), else `outreach.sqlite` next to the ledger file.

    Args:
        ledger_path: the ledger's location (a path or a URL), if known.

    Example:
        >>> default_store_path("/srv/ledger.sqlite")  # without $CAPTAINDATA_OUTREACH_STORE
        PosixPath('/srv/outreach.sqlite')
    """
    env = os.environ.get(STORE_ENV, "").strip()
    if env:
        return env if is_postgres_url(env) else Path(env)
    if is_postgres_url(ledger_path):
        return str(ledger_path).strip()
    if ledger_path is not None:
        return Path(ledger_path).with_name(STORE_FILENAME)
    url = os.environ.get(LEDGER_URL_ENV, "").strip()
    if is_postgres_url(url):
        return url
    return DEFAULT_STORE_PATH

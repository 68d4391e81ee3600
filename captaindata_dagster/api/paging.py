"""Paging through a list action with `X-Pagination-Next`: where the next page is, when to stop.

A walk ends on an empty page, an absent, empty or `null` next header, or enough results. A short
page does not end it: the API's `page_size` is a maximum it undershoots when throttled. The next
URL is only ever followed on the client's own origin and on the action's own path; a URL naming
another path, or a page already fetched in the walk (a loop), stops the walk with an error rather
than pay for something else.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urljoin, urlsplit

from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import MalformedResponseError

log = logging.getLogger("captaindata_dagster.api.client")  # one logger for the whole client

NULL_HEADER = ("", "null", "none", "undefined")
"""Next-header values that mean "no next page" (after stripping, case-insensitive)."""


def is_last_page(
    act: Action, result: ActionResult, seen: int, max_results: int | None = None
) -> bool:
    """True when a walk ends after `result` (`seen` results so far, this page included).

    The end is an empty page, an absent/empty/`null` `X-Pagination-Next` (already None in
    `result.next_url`), or `max_results` reached. A short page is not the end: `page_size` is a
    maximum the API may undershoot (throttling) in the middle of a search.

    Args:
        act: the action walked.
        result: the page just fetched.
        seen: results seen in the walk so far, this page's included.
        max_results: stop once this many were seen (None: no limit).

    Example:
        >>> is_last_page(act, page_of_three_with_next, seen=3)  # doctest: +SKIP
        False
    """
    if not act.is_list or not result.results:
        return True
    if max_results is not None and seen >= max_results:
        return True
    return not result.next_url and result.next_error is None


def next_page_url(
    next_url: str | None, request_url: str, act: Action, *, base_url: str, api_key: str = ""
) -> str | None:
    """The next page's URL on our own origin, or None at the end of the walk.

    A relative URL resolves against the request's URL. Whatever the header names, the call goes
    to `base_url`'s origin (the key never leaves it) and only to this action's own path.

    Args:
        next_url: the `X-Pagination-Next` header (None when absent).
        request_url: the URL of the page that named it.
        act: the action walked.
        base_url: the client's base URL, e.g. "https://api.captaindata.com/v4".
        api_key: masked out of error messages that quote the header.

    Raises:
        MalformedResponseError: BAD_PAGINATION_URL, for a header that is not a URL or names
            another path than the action's.

    Example:
        >>> next_page_url("/v4/actions/x/run/live?page=2", url, act, base_url=base)  # doctest: +SKIP
        'https://api.captaindata.com/v4/actions/x/run/live?page=2'
    """
    if next_url is None or next_url.strip().lower() in NULL_HEADER:
        return None
    shown = repr(next_url.strip()[:100])
    if api_key:
        shown = shown.replace(api_key, "***")
    try:
        parts = urlsplit(urljoin(request_url, next_url.strip()))
    except ValueError:  # e.g. "http://[": not a URL
        raise bad_next_url(act, f"X-Pagination-Next is not a URL: {shown}") from None
    # The API names its own path (`/v4/actions/<id>/run/live`); behind a proxy our base URL
    # may have another prefix: what must match is the action's path, kept under our base.
    if not parts.path.rstrip("/").endswith(act.path):
        raise bad_next_url(
            act,
            f"X-Pagination-Next {shown} does not name {act.id}'s own path ({act.path}); "
            "the walk stops here rather than call another endpoint",
        )
    origin = urlsplit(base_url)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
        log.warning(
            "X-Pagination-Next points at %s://%s; following its query on %s instead",
            parts.scheme,
            parts.netloc,
            base_url,
        )
    return base_url + act.path + (f"?{parts.query}" if parts.query else "")


class WalkedPages:
    """The pages one walk has fetched, to refuse a next URL that points back at one of them.

    Two URLs are the same page when their path and query match (`page=1` counts as no page).
    """

    def __init__(self, act: Action, first_url: str | None) -> None:
        self._act = act
        self._seen = {page_identity(first_url)}

    def visit(self, url: str | None, page: int) -> None:
        """Record `url` as the page after page `page`; raise PAGINATION_LOOP if already fetched."""
        identity = page_identity(url)
        if identity in self._seen:
            raise pagination_loop(self._act, url, page)
        self._seen.add(identity)


def page_identity(url: str | None) -> tuple[str, frozenset[tuple[str, str]]]:
    """What makes two page URLs the same page: the path and the query (`page=1` is no page)."""
    parts = urlsplit(url or "")
    query = frozenset((k, v) for k, v in parse_qsl(parts.query) if (k, v) != ("page", "1"))
    return parts.path.rstrip("/"), query


def pagination_loop(act: Action, url: str | None, page: int) -> MalformedResponseError:
    """The error for page `page`'s next URL pointing back at a page already fetched."""
    path = urlsplit(url or "")
    shown = f"{path.path}?{path.query}" if path.query else path.path
    return MalformedResponseError(
        f"{act.id}: page {page}'s X-Pagination-Next ({shown}) points back to a page already "
        "fetched in this walk; stopping rather than pay for it again. The search is recorded "
        "as failed, not complete, and is walked again on the next run.",
        action_id=act.id,
        error_label="PAGINATION_LOOP",
        retryable=True,  # for a later run: the ledger does not keep it as the input's answer
    )


def bad_next_url(act: Action, message: str) -> MalformedResponseError:
    """The error for a next URL the walk must not follow (BAD_PAGINATION_URL)."""
    # retryable for a later run (the ledger keeps it as a failure to retry, not an answer);
    # within the call it is never retried: it is raised after the page's results are handed over
    return MalformedResponseError(message, action_id=act.id, error_label="BAD_PAGINATION_URL")

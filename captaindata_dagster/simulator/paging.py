"""Paginated lists: which page a request asks for, the page's results, and the links to the others.

A list action pages by number (`?page=2`) or by an opaque token (`?token=...`), as the catalog
says; the answer names the next and previous pages in `X-Pagination-Next` / `X-Pagination-Previous`.
Tokens are the page number signed with a hash of the action, so a token of another action (or a
made-up one) is refused.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from captaindata_dagster.api.catalog import Action, Problem
from captaindata_dagster.simulator import data
from captaindata_dagster.simulator.config import SimulatorConfig


def page_token(action_id: str, page: int) -> str:
    """The opaque token naming `page` of `action_id`'s list."""
    raw = f"{page}:{data.short_hash('token', action_id, page, n=8)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_page(action_id: str, token: str) -> int | None:
    """The page a token of `action_id` names, or None for a token this action never gave."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        page_s, check = raw.split(":", 1)
        page = int(page_s)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return page if page >= 1 and check == data.short_hash("token", action_id, page, n=8) else None


def requested_page(action: Action, query: dict[str, str]) -> int | Problem:
    """The 1-based page a request asks for (by `token` or `page`), or the problem with it."""
    if "token" in query and query["token"] != "":
        page = token_page(action.id, query["token"])
        if page is None:
            return Problem("token", "is not a pagination token this action gave", "param")
        return page
    text = query.get("page", "1") or "1"
    try:
        page = int(text)
    except ValueError:
        page = 0
    if page < 1:
        return Problem("page", f"must be an integer >= 1, got {text!r}", "param")
    return page


def page_url(base_url: str, action: Action, page: int) -> str:
    """The URL of another page of a list, as the pagination headers give it."""
    base = f"{base_url}/actions/{action.id}/run/live"
    if action.pagination == "token":
        return f"{base}?token={page_token(action.id, page)}"
    return f"{base}?page={page}"


def list_page(
    action: Action, cfg: SimulatorConfig, inp: Any, page: int, base_url: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(the results of `page` of a list action, the pagination headers).

    An unpaginated list answers all its results at once. A page listed in `cfg.short_pages`
    answers half its results, yet still names the next page, as a throttled search does.
    """
    headers: dict[str, str] = {}
    total = data.list_total(action, cfg.seed, inp)
    if action.pagination is None:
        return data.make_page(action, cfg.seed, inp, 0, total), headers
    if cfg.search_total is not None:
        total = cfg.search_total
    size = action.page_size or 10
    start = (page - 1) * size
    stop = min(start + size, total)
    served = min(stop, start + size // 2) if page in cfg.short_pages else stop
    items = data.make_page(action, cfg.seed, inp, start, served) if start < total else []
    if stop < total:  # a short (throttled) page still names the next one
        headers["X-Pagination-Next"] = page_url(base_url, action, page + 1)
    if page > 1:
        headers["X-Pagination-Previous"] = page_url(base_url, action, page - 1)
    return items, headers

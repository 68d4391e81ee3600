"""Which accounts a step rotates over when `rotate_connected_users` is on: the connected ones.

Listed once, when the resource builds its client: the users (or identities) whose LinkedIn
account is connected without error, restricted to `integration_users` when those are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import ValidationError

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.resource import CaptainDataResource


def rotation_users(client: CaptainDataClient, resource: CaptainDataResource) -> list[str]:
    """The users to rotate over: connected ones, restricted to `integration_users` if set.

    Args:
        client: the client being built (its key lists the workspace's accounts).
        resource: the resource's `integration_users` and `account_form`.

    Raises:
        ValidationError: none is connected (field `rotate_connected_users`).

    Example:
        >>> client.integration_users = rotation_users(client, resource)  # doctest: +SKIP
    """
    from captaindata_dagster.api.accounts import connected_users  # loaded only when rotating

    connected = connected_users(client)
    group = "identities" if resource.account_form == "identity_ids" else "users"
    explicit = list(dict.fromkeys(resource.integration_users))
    users = [u for u in explicit if u in connected] if explicit else connected
    dropped = [u for u in explicit if u not in connected]
    if dropped:
        dg.get_dagster_logger().warning(
            "rotate_connected_users: skipping integration_users without a connected LinkedIn "
            "account: %s (reconnect with `captaindata-dagster %s connect <uid>`)",
            ", ".join(dropped),
            group,
        )
    if not users:
        among = f" among integration_users {', '.join(explicit)}" if explicit else ""
        raise ValidationError(
            "rotate_connected_users is on but no account of the workspace has a LinkedIn "
            f"account connected without error{among}. Connect one with `captaindata-dagster "
            f"{group} connect <uid>` (li_at cookie from CAPTAINDATA_LI_AT; `{group} list` "
            "shows each one's status), or set integration_users and turn "
            "rotate_connected_users off.",
            field="rotate_connected_users",
            error_label="NO_VALID_ACCOUNT_CONFIGURED",
            error_scope="config",
        )
    dg.get_dagster_logger().info(
        "rotate_connected_users: %d user(s) with a connected LinkedIn account: %s",
        len(users),
        ", ".join(users),
    )
    return users

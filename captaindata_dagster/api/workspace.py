"""The workspace endpoints: the workspace's credits, its users and identities, their accounts.

`WorkspaceEndpoints` is a part of `CaptainDataClient` (which inherits it): call these on a client,
e.g. `client.create_identity("Ada Lovelace")`. None is an action: they cost no credit and are not
paced per connected account. Creating is never retried (a retry could create a second one);
reading and refreshing (GET, PUT) are retried like any call.
"""

from __future__ import annotations

import uuid
from typing import Any

from captaindata_dagster.api.calls import ApiCalls
from captaindata_dagster.api.errors import MalformedResponseError, ValidationError


class WorkspaceEndpoints(ApiCalls):
    """The `/workspaces`, `/users` and `/identities` endpoints, for `CaptainDataClient`."""

    def get_workspace(self) -> dict[str, Any]:
        """The workspace: `credits_left`, `credits_used`, `credits_max`, `plan_name`, ..."""
        data = self._request_json("GET", "/workspaces")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise MalformedResponseError("GET /workspaces did not answer an object")
        return data

    def create_user(self, email: str, full_name: str, timezone: str = "UTC") -> dict[str, Any]:
        """Create a workspace user (who can then connect a LinkedIn account). Not retried."""
        for name, value in (("email", email), ("full_name", full_name)):
            if not value or not isinstance(value, str):
                raise ValidationError(f"{name} is required to create a user", field=name)
        body = {"email": email, "full_name": full_name, "timezone": timezone}
        return self._request_json("POST", "/users", json_body=body, idempotent=False)

    def list_users(self, query: str | None = None, page: int | None = None) -> list[dict[str, Any]]:
        """One page of the workspace's users (the seed's form), each with its `integrations`.

        Args:
            query: Filter by name or email, on the server.
            page: 1-based page number; None asks for the first page.

        Raises:
            MalformedResponseError: the answer is not a JSON list.

        Example:
            >>> [u["email"] for u in client.list_users(query="ada")]  # doctest: +SKIP
            ['ada@example.com']
        """
        return self._list_accounts("/users", query, page)

    def create_identity(self, name: str, timezone: str = "UTC") -> dict[str, Any]:
        """Create an identity (the published form of a user), who can then connect LinkedIn.

        The answer has `uid`, `name`, `timezone`, `integrations` (empty) and
        `identity_login_links`: `{"linkedin": "<url>"}`, a link valid 48 hours that a person opens
        to connect their own LinkedIn, without handing over a cookie. Not retried.

        Args:
            name: The identity's display name, e.g. "Ada Lovelace".
            timezone: IANA time zone of the person behind it.

        Example:
            >>> ada = client.create_identity("Ada Lovelace", "Europe/Paris")  # doctest: +SKIP
            >>> ada["identity_login_links"]["linkedin"]  # hand it to Ada  # doctest: +SKIP
        """
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name is required to create an identity", field="name")
        body = {"name": name, "timezone": timezone or "UTC"}
        return self._request_json("POST", "/identities", json_body=body, idempotent=False)

    def list_identities(
        self, query: str | None = None, page: int | None = None
    ) -> list[dict[str, Any]]:
        """One page of the workspace's identities, each with its `integrations`.

        Args:
            query: Filter by name, on the server.
            page: 1-based page number; None asks for the first page.

        Raises:
            MalformedResponseError: the answer is not a JSON list.

        Example:
            >>> [i["name"] for i in client.list_identities(page=1)]  # doctest: +SKIP
            ['Ada Lovelace']
        """
        return self._list_accounts("/identities", query, page)

    def get_identity(self, identity_uid: str) -> dict[str, Any]:
        """One identity by uid, with its `integrations` (a `NotFoundError` if unknown).

        Args:
            identity_uid: The identity's uid (a UUID).

        Example:
            >>> client.get_identity("5f0c2a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")["name"]  # doctest: +SKIP
        """
        path = f"/identities/{self._uuid(identity_uid, 'identity_uid')}"
        data = self._request_json("GET", path)
        if not isinstance(data, dict):
            raise MalformedResponseError(f"GET {path} did not answer an object")
        return data

    def connect_integration(
        self,
        user_uid: str,
        integration: str = "linkedin",
        *,
        li_at: str,
        li_a: str | None = None,
        account_name: str | None = None,
        update: bool = False,
    ) -> dict[str, Any]:
        """Connect (or with `update=True`, refresh) a user's account from its session cookies.

        The cookies are sent once and never logged or kept by the client.

        Args:
            user_uid: The user whose account it is (the seed's form; see `list_users`).
            integration: The platform, "linkedin" by default.
            li_at: LinkedIn's `li_at` session cookie.
            li_a: LinkedIn's `li_a` cookie (Sales Navigator), optional.
            account_name: A label for the account.
            update: True refreshes an existing account (PUT), False connects one (POST).

        Example:
            >>> client.connect_integration(uid, li_at=os.environ["CAPTAINDATA_LI_AT"])  # doctest: +SKIP
        """
        if not user_uid:
            raise ValidationError("user_uid is required", field="user_uid")
        path = f"/users/{user_uid}/integrations/{integration}"
        return self._connect(path, li_at, li_a, account_name, update)

    def connect_identity_integration(
        self,
        identity_uid: str,
        integration: str = "linkedin",
        *,
        li_at: str,
        li_a: str | None = None,
        account_name: str | None = None,
        update: bool = False,
    ) -> dict[str, Any]:
        """Connect (or with `update=True`, refresh) an identity's account from session cookies.

        `connect_integration` for identities (same arguments, the identity's uid, a UUID, first).
        The answer has `uid`, `auth_type`, `setup_source`, `is_shared`, `name`,
        `integration_permalink`, `level`, `identity_uid`, `meta`. Without cookies, hand the
        person the identity's login link instead (`create_identity`).

        Example:
            >>> client.connect_identity_integration(ada["uid"], li_at=li_at)  # doctest: +SKIP
        """
        uid = self._uuid(identity_uid, "identity_uid")
        path = f"/identities/{uid}/integrations/{integration}"
        return self._connect(path, li_at, li_a, account_name, update)

    @staticmethod
    def _uuid(value: Any, name: str) -> str:
        """`value` as a canonical UUID (what the API's uids are), or a `ValidationError`."""
        try:
            return str(uuid.UUID(str(value).strip()))
        except ValueError:
            raise ValidationError(
                f"{name} must be a uid (a UUID such as 5f0c2a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b), "
                f"got {value!r}",
                field=name,
            ) from None

    def _list_accounts(
        self, path: str, query: str | None, page: int | None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("query", query), ("page", page)) if v is not None}
        data = self._request_json("GET", path, params=params or None)
        if not isinstance(data, list):
            raise MalformedResponseError(
                f"GET {path} did not answer a JSON list (got {type(data).__name__})"
            )
        return data

    def _connect(
        self, path: str, li_at: str, li_a: str | None, account_name: str | None, update: bool
    ) -> dict[str, Any]:
        """POST (connect) or PUT (refresh) an account's cookies; they are neither logged nor kept."""
        if not li_at:
            raise ValidationError("li_at cookie is required to connect LinkedIn", field="li_at")
        cookies = {"li_at": li_at} | ({"li_a": li_a} if li_a else {})
        body: dict[str, Any] = {"auth_data": {"cookies": cookies}}
        if account_name:
            body["account_name"] = account_name
        return self._request_json(
            "PUT" if update else "POST", path, json_body=body, idempotent=update
        )

"""The API client a command uses: the key and base URL from the environment, or the sandbox.

The key and the base URL are read from the environment only (`CAPTAINDATA_API_KEY`,
`CAPTAINDATA_BASE_URL`), never from an option: a command-line argument would show in `ps` and in
the shell's history. `--sandbox` (or `CAPTAINDATA_SANDBOX=1`) swaps in the bundled simulator,
started in this process, so the commands can be tried without an account.
"""

from __future__ import annotations

import os

from captaindata_dagster.api.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    AccountForm,
    CaptainDataClient,
)
from captaindata_dagster.cli.options import SettingsError


def client_from_environment(
    *, sandbox: bool = False, account_form: AccountForm = "integration_users"
) -> CaptainDataClient:
    """A client for the API the environment names (or the sandbox); the caller closes it.

    Args:
        sandbox: use the bundled simulator (also when `CAPTAINDATA_SANDBOX=1`).
        account_form: how the client sends accounts: `identity_ids` for `identities`,
            `integration_users` for `users`.

    Raises:
        SettingsError: no API key in the environment (exit code 2); the message says which
            variable to set, or to try `--sandbox`.

    Example:
        >>> client = client_from_environment(sandbox=True)  # doctest: +SKIP
        >>> client.close()  # doctest: +SKIP
    """
    from captaindata_dagster.simulator.sandbox import SANDBOX_ENV, sandbox_enabled

    if sandbox or sandbox_enabled():
        from captaindata_dagster.simulator.sandbox import sandbox_simulator

        sim = sandbox_simulator()
        return CaptainDataClient(sim.api_key, sim.base_url, account_form=account_form)
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise SettingsError(
            f"no API key: set {API_KEY_ENV} (and {BASE_URL_ENV} for another API root), or pass "
            f"--sandbox / set {SANDBOX_ENV}=1 to try the commands on the bundled simulator"
        )
    base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    return CaptainDataClient(key, base_url, account_form=account_form)

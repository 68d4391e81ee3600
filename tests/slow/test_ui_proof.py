"""The real UI path: faults -> assets -> daemon-ticked sensors -> dagster-webserver's GraphQL API.

Runs `scripts/ui_proof.py` against a temporary DAGSTER_HOME and reads what an on-call engineer
would: the error sensor's tick, the observations on the asset, the check results.
"""

from __future__ import annotations

from tests.helpers import load_script


def load_proof():
    return load_script("scripts/ui_proof.py", "ui_proof")


def test_labels_and_counts_reach_the_ui(tmp_path):
    proof = load_proof()
    facts = proof.run(tmp_path / "home", tmp_path, proof.free_port())
    injected, ui = facts["injected"], facts["ui"]
    n_cookie, n_429 = len(injected["LK_BAD_COOKIE"]), len(injected["STATUS_429"])
    assert (n_cookie, n_429) == (proof.BAD_COOKIE, proof.RATE_LIMITED)

    # the error sensor's ticks, as the tick list shows them: first the labels, counts and fixes
    # (the skip reason: a person must act), then the re-run it held for one tick
    [told] = [t for t in ui["ticks"] if t["status"] == "SKIPPED" and t["skip_reason"]][-1:]
    message = told["skip_reason"]
    profiles = f"linkedin_profiles / {proof.FAULTED}"
    assert f"LK_BAD_COOKIE x{n_cookie} on {profiles}: needs a person: reconnect" in message
    assert f"STATUS_429 x{n_429} on {profiles}: re-run at the next tick" in message
    assert (
        f"UNAUTHORIZED x1 on linkedin_people / {proof.BROKEN}: needs a person: "
        "check CAPTAINDATA_API_KEY" in message
    )
    [rerun] = [t for t in ui["ticks"] if t["status"] == "SUCCESS"]
    assert len(rerun["run_ids"]) == 1

    # observations on the asset page, one per (partition, label)
    by_label = {o["error_label"]: o for o in ui["observations"] if o["partition"] == proof.FAULTED}
    assert set(by_label) == {"LK_BAD_COOKIE", "STATUS_429"}
    cookie, limited = by_label["LK_BAD_COOKIE"], by_label["STATUS_429"]
    assert cookie["partition"] == proof.FAULTED and cookie["count"] == n_cookie
    assert set(cookie["sample_inputs"]) <= set(injected["LK_BAD_COOKIE"])
    assert all(ref.startswith("ERR-") for ref in cookie["error_refs"])
    assert cookie["rerun_requested"] is False and "reconnect" in cookie["needs_a_person"]
    assert limited["count"] == n_429 and limited["rerun_requested"] is True
    # the failed search's partition: the step's own observation, the fix with it
    [auth] = ui["people_observations"]
    assert (auth["error_label"], auth["status_code"]) == ("UNAUTHORIZED", 401)
    assert auth["partition"] == proof.BROKEN
    assert auth["needs_a_person"] == "check CAPTAINDATA_API_KEY"

    # the error-rate check failed on the faulted partition and names the labels; the sensor's
    # re-run (newest first) fetched the 429s and the bad cookies again (an account's failure never
    # answers for its input in the ledger), and the sandbox's account being fine, it passed
    rates = ui["checks"]["captaindata_error_rate"]  # newest first
    both = {"LK_BAD_COOKIE": n_cookie, "STATUS_429": n_429}
    [first] = [x for x in rates if x["status"] == "FAILED"]
    assert first["errors_by_label"] == both
    assert first["severity"] == "ERROR" and "STATUS_429" in first["labels"]  # over 20 %: blocking
    assert rates[0]["status"] == "SUCCEEDED" and rates[0]["errors"] == 0
    passed = [x for x in ui["checks"]["captaindata_unique_key"] if x["status"] == "SUCCEEDED"]
    assert passed and passed[0]["column"] == "linkedin_profile_url"

    # the clean search's expired account: every profile landed, yet a person must reconnect it,
    # which the accounts check (WARN), the sensor's tick and its observation all say
    expired = facts["expired_account"]
    fix = f"captaindata-dagster users connect {expired}"
    [warned] = [x for x in ui["checks"]["captaindata_accounts"] if x["status"] == "FAILED"]
    assert warned["severity"] == "WARN"  # the step succeeded: a warning, not a failure
    assert warned["description"].startswith("LK_BAD_COOKIE: reconnect user")
    assert fix in warned["description"]
    [account] = [o for o in ui["observations"] if o["partition"] == proof.CLEAN]
    assert account["error_label"] == "LK_BAD_COOKIE" and account["user_uids"] == [expired]
    assert fix in account["needs_a_person"]
    assert f"LK_BAD_COOKIE x1 on linkedin_profiles / {proof.CLEAN}: needs a person" in message

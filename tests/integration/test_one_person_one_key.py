"""One person, one key: every spelling of a profile URL is one invitation and one payment.

Through real runs against the simulator: `run_outreach` sends one connection request to a person
named five ways, `run_batch` pays for one profile named five ways, and an outreach store written
before the keys changed still stops a person it already invited.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from captaindata_dagster.api.request_body import resolve_action
from captaindata_dagster.engine.batch.run import run_batch
from captaindata_dagster.engine.outreach import run_outreach
from captaindata_dagster.storage.ledger import input_key
from captaindata_dagster.storage.outreach_records import SENT, UNKNOWN, OutreachStore, profile_key

CONNECT = "linkedin-connect-profile"
PEOPLE = "linkedin-extract-people"
JANE = [
    "https://www.linkedin.com/in/jane-doe",
    "https://www.linkedin.com/in/jane-doe/fr",
    "https://www.linkedin.com/in/jane-doe/overlay/contact-info/",
    "https://www.linkedin.com/in/jane-doe/details/experience/?trk=x",
    "https://fr.linkedin.com/in/Jane-Doe/",
]
JOHN = "https://www.linkedin.com/in/john-roe"


@pytest.fixture
def store(tmp_path):
    with OutreachStore(tmp_path / "outreach.sqlite") as s:
        yield s


def invitations(sim) -> int:
    """Connection requests that reached the simulator and took effect."""
    return sum(1 for r in sim.calls(CONNECT) if r.performed)


# ---------------------------------------------------------------- outreach


def test_five_spellings_of_one_person_are_one_invitation(sim, make_client, store):
    client = make_client(sim, integration_users=["u1"])
    first = run_outreach(client, store, CONNECT, [*JANE, JOHN], campaign="c", message="Hi")
    assert invitations(sim) == 2 and len(sim.calls(CONNECT)) == 2
    assert sorted(first.sent["profile_url"]) == sorted([JANE[0], JOHN])  # the first spelling
    assert first.stats.profiles == 6 and first.stats.unique == 2

    again = run_outreach(client, store, CONNECT, list(reversed(JANE)), campaign="c", message="Hi")
    assert len(sim.calls(CONNECT)) == 2, "a later run invited Jane again"
    assert again.sent.empty and again.stats.already_sent == 1
    assert [r.profile_key for r in store.records("c")].count("person:jane-doe") == 1


def test_a_profile_url_naming_no_one_is_refused_with_its_field(sim, make_client, store):
    client = make_client(sim, integration_users=["u1"])
    nobody = "https://www.linkedin.com/in/%20/"  # passes the catalog's pattern, names no handle
    result = run_outreach(client, store, CONNECT, [nobody, JOHN], campaign="c", message="Hi")
    assert len(sim.calls(CONNECT)) == 1 and list(result.sent["profile_url"]) == [JOHN]
    [row] = result.errors.to_dict("records")
    assert row["input"] == nobody and row["error_label"] == "INVALID_INPUT"
    assert "linkedin_profile_url" in row["message"] and row["retryable"] is False
    assert store.get("c", CONNECT, nobody) is None  # nothing reserved


# ---------------------------------------------------------------- paid calls


def test_five_spellings_of_one_person_are_one_paid_call(sim, make_client, ledger):
    client = make_client(sim)
    first = run_batch(client, PEOPLE, [*JANE, JOHN], ledger=ledger)
    assert len(sim.calls(PEOPLE)) == 2 and first.stats.calls == 2
    assert first.stats.inputs == 6 and first.stats.unique_inputs == 2
    # one row per distinct person; `_input` shows the first spelling
    assert sorted(first.results["_input"]) == sorted([JANE[0], JOHN])

    later = run_batch(
        client, PEOPLE, ["https://de.linkedin.com/in/jane%2Ddoe/?trk=1"], ledger=ledger
    )
    assert len(sim.calls(PEOPLE)) == 2 and later.stats.calls == 0, "Jane was paid for twice"
    assert later.stats.skipped_fresh == 1 and bool(later.results["_from_cache"].all())


def test_ledger_keys_of_canonical_urls_are_unchanged():
    """A ledger written before entity keys still answers for inputs given in canonical form."""
    act = resolve_action(PEOPLE)
    payload = {
        "action": PEOPLE,
        "input": {"linkedin_profile_url": JANE[0]},
        "parameters": {},
        "max_results": None,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    old = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert input_key(act, {"linkedin_profile_url": JANE[0]}) == old
    assert {input_key(act, {"linkedin_profile_url": u}) for u in JANE} == {old}
    assert input_key(act, {"linkedin_profile_url": JOHN}) != old


def test_a_ledger_entry_from_before_serves_every_spelling(sim, make_client, ledger):
    act = resolve_action(PEOPLE)
    key = input_key(act, {"linkedin_profile_url": JANE[0]})
    ledger.save_result(PEOPLE, key, [{"full_name": "Jane Doe"}], input=JANE[0], credits=1)
    result = run_batch(make_client(sim), PEOPLE, JANE, ledger=ledger)
    assert len(sim.calls(PEOPLE)) == 0 and result.stats.skipped_fresh == 1
    assert list(result.results["full_name"]) == ["Jane Doe"]


# ---------------------------------------------------------------- upgrading a store


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):
    """An outreach store in a SQLite file, then in a PostgreSQL database."""
    where = tmp_path / "outreach.sqlite"
    if request.param == "postgres":
        where = request.getfixturevalue("pg_url")
    with OutreachStore(where) as s:
        yield s


def legacy_row(store, url: str, legacy_key: str, state: str, campaign: str = "c") -> None:
    """A record as the store wrote it before entity keys (keyed by the URL's path)."""
    at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    with store._write() as conn:
        conn.execute(
            "INSERT INTO sends (campaign, action_id, profile_key, profile_url, state, account, "
            "attempts, created_at, attempted_at, settled_at) VALUES (?, ?, ?, ?, ?, 'u1', 1, ?, "
            "?, ?)",
            (campaign, CONNECT, legacy_key, url, state, at, at, at if state == SENT else None),
        )


def test_a_person_invited_before_the_upgrade_is_not_invited_again(sim, make_client, any_store):
    store = any_store
    legacy_row(store, JANE[1], "linkedin.com/in/jane-doe/fr", SENT)
    legacy_row(store, JOHN, "linkedin.com/in/john-roe", UNKNOWN)
    assert store.get("c", CONNECT, JANE[0]).state == SENT  # any spelling finds the old record
    assert store.reserve("c", CONNECT, JANE[4], account="u1").outcome == "taken"

    client = make_client(sim, integration_users=["u1"])
    result = run_outreach(client, store, CONNECT, [*JANE, JOHN + "/"], campaign="c", message="Hi")
    assert len(sim.calls(CONNECT)) == 0, "a person invited before the upgrade was invited again"
    assert result.stats.already_sent == 1 and list(result.needs_review["state"]) == [UNKNOWN]

    # a person checks John's lost answer: it did not go out; the next run sends it, once
    again = run_outreach(
        client, store, CONNECT, [*JANE, JOHN], campaign="c", message="Hi", mark_retry=[JOHN + "/"]
    )
    assert Counter(r.input["linkedin_profile_url"] for r in sim.calls(CONNECT)) == {JOHN: 1}
    assert list(again.sent["profile_url"]) == [JOHN] and again.stats.already_sent == 1
    run_outreach(client, store, CONNECT, [JOHN], campaign="c", message="Hi")
    assert len(sim.calls(CONNECT)) == 1 and store.needs_review("c") == []


def test_a_person_marks_a_record_from_before_the_upgrade_as_sent(any_store):
    store = any_store
    old = "https://www.linkedin.com/in/Ann_O%2DBrien/fr"
    legacy_row(store, old, "linkedin.com/in/ann_o-brien/fr", "pending")  # a run died mid-call
    legacy_row(store, JOHN, "linkedin.com/in/john-roe", SENT)
    assert [r.profile_url for r in store.needs_review("c")] == [old]
    store.mark_sent("c", CONNECT, "https://www.linkedin.com/in/ann_o-brien")
    assert store.needs_review("c") == []  # the old record is settled with it
    assert store.reserve("c", CONNECT, old, account="u1").outcome == "taken"
    other = store.reserve("c", CONNECT, "https://www.linkedin.com/in/annxo-brien", account="u1")
    assert other.outcome == "reserved"  # another person
    with pytest.raises(ValueError, match="recorded as sent"):
        store.mark_retry("c", CONNECT, "https://fr.linkedin.com/in/John-Roe/")


def test_profile_keys_are_entity_keys_and_unknown_urls_keep_the_old_key():
    assert {profile_key(u) for u in JANE} == {"person:jane-doe"}
    assert profile_key("https://www.linkedin.com/sales/lead/ACwAAB,NAME_SEARCH,x") == (
        "sales_navigator_lead:ACwAAB"
    )
    assert profile_key("https://www.linkedin.com/feed/update/urn:li:activity:1/") == (
        "linkedin.com/feed/update/urn:li:activity:1"
    )


def test_two_lists_of_one_school_or_company_are_two_entries():
    """A list action's URL may carry its query: only a URL naming the entity alone is folded."""
    from captaindata_dagster.api.catalog import load_catalog
    from captaindata_dagster.storage.ledger import input_key

    alumni = load_catalog().get("linkedin-extract-school-alumnis")
    base = "https://www.linkedin.com/school/stanford-university"

    def key(url):
        return input_key(alumni, {"linkedin_school_url": url})

    assert key(f"{base}/people/?educationStartYear=2010") != key(f"{base}/people/?keywords=cto")
    assert key(f"{base}/people/") != key(f"{base}/")
    assert key(f"{base}/") == key("https://fr.linkedin.com/school/Stanford-University?trk=x")

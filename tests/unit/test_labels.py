"""The one table of what each error label means: the derived sets are what its rows say, an
unknown label means nothing special, and the rows agree with each other and with the errors."""

from __future__ import annotations

import dataclasses

import pytest

from captaindata_dagster.api import labels
from captaindata_dagster.api.errors import (
    SYSTEMIC_ERRORS,
    CaptainDataError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    ValidationError,
)
from captaindata_dagster.api.labels import LABELS, LabelMeaning, labels_where, meaning

FLAGS = [f.name for f in dataclasses.fields(LabelMeaning) if f.type in (bool, "bool")]


def rows_where(flag: str) -> frozenset[str]:
    return frozenset(label for label, row in LABELS.items() if getattr(row, flag))


def test_every_flag_but_fix_is_a_yes_or_no():
    assert {"transient", "rerun", "account", "ambiguous"} <= set(FLAGS)
    assert set(FLAGS) | {"fix"} == {f.name for f in dataclasses.fields(LabelMeaning)}


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("TRANSIENT_LABELS", "transient"),
        ("RERUN_LABELS", "rerun"),
        ("ACCOUNT_LABELS", "account"),
        ("AMBIGUOUS_LABELS", "ambiguous"),
    ],
)
def test_each_derived_set_is_what_the_rows_say(name: str, flag: str):
    derived = getattr(labels, name)
    assert isinstance(derived, frozenset)
    assert derived == rows_where(flag)
    assert derived  # the table names some of each


@pytest.mark.parametrize("flag", FLAGS)
def test_labels_where_one_flag_splits_the_table(flag: str):
    yes, no = labels_where(**{flag: True}), labels_where(**{flag: False})
    assert yes == rows_where(flag)
    assert yes | no == set(LABELS) and not yes & no


def test_labels_where_several_flags_must_all_hold():
    assert labels_where() == set(LABELS)
    assert labels_where(transient=True, ambiguous=False) == {"STATUS_429", "LIMIT_REACHED"}
    assert labels_where(transient=True, ambiguous=True) == labels.AMBIGUOUS_LABELS
    assert labels_where(account=True, rerun=True) == frozenset()


def test_person_fixes_are_the_rows_with_a_fix():
    assert labels.PERSON_FIXES == {label: row.fix for label, row in LABELS.items() if row.fix}
    assert all(isinstance(fix, str) and fix.strip() for fix in labels.PERSON_FIXES.values())


@pytest.mark.parametrize("label", [None, "", "NOT_A_LABEL", "lk_bad_cookie"])
def test_a_label_the_table_does_not_list_means_nothing_special(label: str | None):
    row = meaning(label)
    assert row == LabelMeaning()
    assert not any(getattr(row, flag) for flag in FLAGS) and row.fix is None


def test_meaning_is_the_row():
    assert all(meaning(label) is row for label, row in LABELS.items())
    assert meaning("LK_BAD_COOKIE").account  # the module's own example


def test_rows_cannot_be_changed_in_place():
    with pytest.raises(dataclasses.FrozenInstanceError):
        meaning("STATUS_429").transient = False  # type: ignore[misc]


# ---------------------------------------------------------------- rows agree with each other


def test_every_account_label_says_what_a_person_does():
    for label in labels.ACCOUNT_LABELS:
        assert meaning(label).fix, label


def test_an_ambiguous_label_is_a_passing_condition():
    assert labels.AMBIGUOUS_LABELS <= labels.TRANSIENT_LABELS


def test_a_passing_condition_is_worth_a_rerun():
    assert labels.TRANSIENT_LABELS <= labels.RERUN_LABELS


def test_a_label_a_person_must_fix_is_no_rerun_and_no_passing_condition():
    for label in labels.PERSON_FIXES:
        row = meaning(label)
        assert not row.rerun and not row.transient and not row.ambiguous, label


def test_an_account_label_is_about_the_account_not_a_passing_condition():
    for label in labels.ACCOUNT_LABELS:
        assert not meaning(label).transient and not meaning(label).ambiguous, label


# ---------------------------------------------------------------- rows agree with the errors


@pytest.mark.parametrize(
    "kind",
    [
        TransportError,
        RequestTimeoutError,
        ConnectionFailedError,
        MalformedResponseError,
        ServerError,
    ],
)
def test_what_went_wrong_on_our_side_of_the_wire_is_worth_a_rerun(kind: type[CaptainDataError]):
    assert kind.default_label in labels.RERUN_LABELS


@pytest.mark.parametrize("kind", [*SYSTEMIC_ERRORS, ValidationError])
def test_a_systemic_error_or_a_refused_input_says_what_a_person_does(
    kind: type[CaptainDataError],
):
    assert kind.default_label in labels.PERSON_FIXES


def test_a_rate_limit_is_a_passing_condition_where_nothing_was_done():
    row = meaning(RateLimitError.default_label)
    assert row.transient and not row.ambiguous


def test_the_input_paging_and_every_account_rows():
    from captaindata_dagster.api.labels import INPUT_LABELS, LABELS, PAGING_LABELS

    assert INPUT_LABELS == {"INVALID_INPUT", "BAD_INPUT", "BAD_PARAMETERS"}
    assert PAGING_LABELS == {"PAGINATION_LOOP", "BAD_PAGINATION_URL"}
    every = {label for label, row in LABELS.items() if row.every_account}
    assert every == {"NO_VALID_ACCOUNT_CONFIGURED"}
    assert all(LABELS[label].account for label in every)  # a kind of account label

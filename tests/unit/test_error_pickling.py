"""An error crosses Dagster's process boundaries whole (pickled), but without a run's frames."""

from __future__ import annotations

import pickle

from captaindata_dagster.api.errors import CaptainDataError, RateLimitError, ValidationError


def test_every_attribute_survives_pickling_but_the_partial_result():
    err = RateLimitError("slow down", status_code=429, error_label="STATUS_429", retry_after=3.0)
    err.credits_at_risk = 2.0
    err.user_uid = "u-1"
    err.maybe_sent = False
    err.partial_result = object()  # a run's frames: not worth shipping to another process

    clone = pickle.loads(pickle.dumps(err))

    assert type(clone) is RateLimitError and str(clone) == str(err)
    assert (clone.retry_after, clone.credits_at_risk, clone.user_uid) == (3.0, 2.0, "u-1")
    assert clone.maybe_sent is False and clone.partial_result is None
    assert err.partial_result is not None  # the original keeps it


def test_a_subclass_keeps_its_own_fields():
    err = ValidationError("bad input", field="linkedin_profile_url")
    clone = pickle.loads(pickle.dumps(err))
    assert isinstance(clone, CaptainDataError)
    assert vars(clone) == {**vars(err), "partial_result": None}

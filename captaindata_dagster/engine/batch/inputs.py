"""A batch's inputs: accept what the caller gives, normalise each one, check it locally, key it.

The caller gives dicts, strings meaning the action's primary field, None (an action without
input), or a DataFrame of such rows. Each becomes a `BatchItem`: its normalised value, the ledger
key it is deduplicated and cached under (one per person, however the URL is spelled: see
`entity_keys`), and the label the frames show. A refused input keeps its problem for an error row.

Example:
    >>> item, problem = prepare_input(act, "https://www.linkedin.com/in/jane", None, None, 1)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.api.request_body import check_input
from captaindata_dagster.storage.ledger import input_key


@dataclass
class BatchItem:
    """One distinct input of a batch."""

    index: int  # order of first appearance, so frames follow the caller's order
    key: str  # the ledger key (one per person named, see `entity_keys`)
    input: Any  # normalised: catalog names, strings stripped, custom_data kept
    label: str  # what the `_input` / `input` columns show


def iter_inputs(inputs: Any) -> Iterable[Any]:
    """The inputs one by one: an iterable as given, a DataFrame as its rows (dicts).

    Args:
        inputs: an iterable of inputs, or a pandas DataFrame; a lone dict or string is refused.

    Example:
        >>> list(iter_inputs(["a", "b"]))
        ['a', 'b']
    """
    if isinstance(inputs, (str, bytes, Mapping)):
        raise TypeError(
            "inputs must be an iterable of inputs (dicts or strings); wrap a single one in a list"
        )
    pandas = sys.modules.get("pandas")  # not imported yet: inputs cannot be a DataFrame
    if pandas is not None and isinstance(inputs, pandas.DataFrame):
        return inputs.to_dict("records")
    return inputs


def prepare_input(
    act: Action,
    raw: Any,
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    index: int,
    *,
    validate: bool = True,
) -> tuple[BatchItem, CaptainDataError | None]:
    """Normalise one input and check it locally: (item, None) or (item, the problem).

    No client is needed: the check is the one the client makes before a call (`check_input`),
    so a cost preview sorts inputs out exactly as a run does, without a key.

    Args:
        act: the action.
        raw: the input as given.
        parameters: the action's parameters (part of the key).
        max_results: the cap on a search's results (part of the key).
        index: the input's order of first appearance.
        validate: check the input against the catalog (the client's `validate`; the parameters
            are checked once per batch).

    Example:
        >>> item, problem = prepare_input(act, "https://www.linkedin.com/in/jane", None, None, 1)
    """
    problem: CaptainDataError | None = None
    value: Any
    if raw is None:
        value = {}
    elif isinstance(raw, str):
        if act.primary_field is None:
            value = raw
            problem = ValidationError(
                f"{act.id} takes no input field, so a plain string input cannot be used",
                field="input",
                action_id=act.id,
            )
        else:
            value = {act.primary_field: raw.strip()}
    elif isinstance(raw, Mapping):
        value = {
            k: (v.strip() if isinstance(v, str) and k != CUSTOM_DATA else v)
            for k, v in act.canonical_input(raw).items()
            if v is not None
        }
    else:
        value = raw
        field_hint = f" or a {act.primary_field} string" if act.primary_field else ""
        problem = ValidationError(
            f"{act.id}: input must be an object of fields{field_hint}, got {type(raw).__name__}",
            field="input",
            action_id=act.id,
        )
    if problem is None and validate:
        try:
            check_input(act, value)
        except ValidationError as err:
            problem = err
    # a refused input is keyed as written: its spelling of a person must not hide a valid one
    key = input_key(act, value, parameters, max_results, by_entity=problem is None)
    return BatchItem(index, key, value, input_label(act, value)), problem


def input_label(act: Action, value: Any) -> str:
    """The primary input value when that is the whole input, else its JSON.

    Args:
        act: the action (its primary field).
        value: a normalised input.

    Example:
        >>> input_label(act, {"linkedin_profile_url": "https://www.linkedin.com/in/jane"})
        'https://www.linkedin.com/in/jane'
    """
    if isinstance(value, Mapping):
        core = {k: v for k, v in value.items() if k != CUSTOM_DATA}
        pf = act.primary_field
        if pf is not None and list(core) == [pf] and isinstance(core[pf], str):
            return core[pf]
        return json.dumps(core, sort_keys=True, default=str)
    return value if isinstance(value, str) else json.dumps(value, default=str)

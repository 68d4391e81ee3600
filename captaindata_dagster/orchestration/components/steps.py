"""The component's assets: each YAML step built by the package's factory, checked against the YAML.

Steps are built in declaration order (people, profiles, companies, then `actions`), each reading a
column of one declared before it. A mistake is refused at load with the YAML attribute to fix:
an unknown action, an input column the upstream table will never have, a name taken twice, an
action that sends something (that is outreach's), a `mode` other than live or async, `defer`
on a live step, or a factory's own `ValidationError` re-raised under its YAML path.

Example:
    >>> steps = build_component_assets(component)
    >>> list(steps)
    ['linkedin_people', 'linkedin_profiles']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import resolve_action
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.engine.column_types import META_COLUMNS
from captaindata_dagster.orchestration.bulk_fields import ASYNC, MODES
from captaindata_dagster.orchestration.components.settings import (
    CatalogAction,
    CompanyExtraction,
    PeopleSearch,
    ProfileExtraction,
)
from captaindata_dagster.orchestration.components.translation import component_translator

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.components.binding import ResourceBinding
    from captaindata_dagster.orchestration.components.component import CaptainDataActionsComponent


@dataclass(frozen=True)
class Step:
    """One built step: its assets definition, its action, and whether it defers (async runs
    landed later by the component's landing sensor)."""

    asset: dg.AssetsDefinition
    action: Action
    deferred: bool = False


Steps = dict[str, Step]
"""Asset name -> its built step, in declaration order."""


def build_component_assets(
    component: CaptainDataActionsComponent, binding: ResourceBinding | None = None
) -> Steps:
    """The component's assets, in declaration order; each step by its factory.

    Args:
        component: the component whose `searches`, steps and options to build.
        binding: its resource binding, when the caller shares it with other definitions
            (default: `component.resource_binding()`).

    Example:
        >>> [s.asset.key for s in build_component_assets(component).values()]
    """
    if not component.searches:
        raise ValidationError(
            "searches: give at least one search, e.g. {data-engineers-paris: "
            "https://www.linkedin.com/search/results/people/?keywords=data%20engineer}",
            field="searches",
        )
    _check_mode(component.mode, "mode")
    builder = _StepBuilder(component, binding or component.resource_binding())
    builder.people(component.people)
    upstream = component.people.name
    if component.profiles is not None:
        builder.extraction("profiles", component.profiles, upstream)
        upstream = component.profiles.name
    if component.companies is not None:
        builder.extraction("companies", component.companies, upstream)
    for i, step in enumerate(component.actions):
        builder.action(step, f"actions[{i}]")
    return builder.steps


class _StepBuilder:
    """Builds the steps one by one, remembering names, aliases and the shared options."""

    def __init__(self, component: CaptainDataActionsComponent, binding: ResourceBinding) -> None:
        self.component = component
        self.steps: Steps = {}
        self.aliases: dict[str, str] = {}  # people / profiles / companies -> asset name
        retry = component.retry_policy
        self.common: dict[str, Any] = {
            "pool": component.pool,
            "retry_policy": retry.build() if retry else None,
            "group_name": component.group_name,
            "key_prefix": component.key_prefix or None,
            "checks": component.checks,
            "translator": component_translator(component),
            **binding.factory_options(),
        }

    def options(self, step: Any) -> dict[str, Any]:
        """The factory options of a step: the component's, with what the step sets itself
        (budget, error threshold, blocking, automation condition, mode, defer)."""
        c = self.component
        return {
            **self.common,
            "budget": _own(step.budget, c.budget),
            "max_error_rate": _own(step.max_error_rate, c.max_error_rate),
            "blocking": _own(step.blocking, c.blocking),
            "automation_condition": _own(step.automation_condition, c.automation_condition),
            "mode": _own(step.mode, c.mode),
            "defer": step.defer,
        }

    def deferred(self, step: Any, path: str) -> bool:
        """Whether the step defers; refuses a bad `mode`, and `defer` on a live step."""
        mode = _own(step.mode, self.component.mode)
        _check_mode(step.mode, f"{path}.mode")
        if step.defer and mode != ASYNC:
            raise ValidationError(
                f"{path}.defer: defer: true is for async steps; add mode: async to the step "
                "(or to the component), or remove defer (a live step lands when it ends)",
                field=f"{path}.defer",
            )
        return bool(step.defer)

    def add(
        self,
        alias: str | None,
        name: str,
        path: str,
        make: Callable[[], dg.AssetsDefinition],
        action: Action,
        step: Any,
    ) -> None:
        """Build one step under `name`, refusing a name (or its errors table's) already taken,
        a bad `mode` or a `defer` without async."""
        taken = {n for step in self.steps for n in (step, f"{step}_errors")}
        if name in taken or f"{name}_errors" in taken:
            raise ValidationError(
                f"{path}.name: {name!r} is already an asset of this component; give it "
                "another name",
                field=f"{path}.name",
            )
        deferred = self.deferred(step, path)
        self.steps[name] = Step(_build(path, make), action, deferred)
        if alias:
            self.aliases[alias] = name

    def people(self, p: PeopleSearch) -> None:
        """The search step: one partition per search (crossed with days if asked)."""
        from captaindata_dagster.orchestration.assets.factories import build_people_search_asset

        action = _action(p.action_id, "people.action_id")
        _check_date(p.daily_start_date)
        searches = dict(self.component.searches)

        def make() -> dg.AssetsDefinition:
            return build_people_search_asset(
                p.name,
                searches=searches,
                max_results=p.max_results,
                max_age_hours=p.max_age_hours,
                daily_start_date=p.daily_start_date,
                action_id=p.action_id,
                parameters=p.parameters or None,
                **self.options(p),
            )

        self.add("people", p.name, "people", make, action, p)

    def extraction(
        self, alias: str, step: ProfileExtraction | CompanyExtraction, upstream: str
    ) -> None:
        """An extraction over a column of the step before it: `profiles` (full profiles of the
        people found) or `companies` (the companies of the profiles, or of the people)."""
        from captaindata_dagster.orchestration.assets.factories import (
            build_company_extraction_asset,
            build_profile_extraction_asset,
        )

        factory = {
            "profiles": build_profile_extraction_asset,
            "companies": build_company_extraction_asset,
        }[alias]
        action = _action(step.action_id, f"{alias}.action_id")
        _check_column(self.steps, upstream, step.input_column, f"{alias}.input_column")

        def make() -> dg.AssetsDefinition:
            return factory(
                step.name,
                upstream=self.steps[upstream].asset,
                input_column=step.input_column,
                max_age_days=step.max_age_days,
                parameters=step.parameters or None,
                action_id=step.action_id,
                **self.options(step),
            )

        self.add(alias, step.name, alias, make, action, step)

    def action(self, step: CatalogAction, path: str) -> None:
        """Any catalog action over a column of an asset declared before it."""
        from captaindata_dagster.orchestration.assets.factories import build_action_asset

        action = _catalog_action(step.action_id, path)
        upstream = self._upstream(step.upstream, path)
        column = step.input_column or action.primary_field
        _check_column(self.steps, upstream, column, f"{path}.input_column")
        name = step.name or action.id.replace("-", "_")

        def make() -> dg.AssetsDefinition:
            return build_action_asset(
                step.action_id,
                name=name,
                upstream=self.steps[upstream].asset,
                input_column=column,
                parameters=step.parameters or None,
                max_age_days=step.max_age_days,
                max_results=step.max_results,
                **self.options(step),
            )

        self.add(None, name, path, make, action, step)

    def _upstream(self, upstream: str, path: str) -> str:
        """The asset name an `upstream:` means (an alias such as `profiles`, or a name)."""
        name = self.aliases.get(upstream, upstream)
        if name in self.steps:
            return name
        by_name = {n: a for a, n in self.aliases.items()}
        known = [f"{by_name[n]} ({n})" if n in by_name else n for n in self.steps]
        raise ValidationError(
            f"{path}.upstream: {upstream!r} is not an asset declared before it in "
            f"this component; one of: {', '.join(known)}",
            field=f"{path}.upstream",
        )


def _own(value: Any, default: Any) -> Any:
    """A step's own setting, else the component's."""
    return value if value is not None else default


def _build(path: str, make: Callable[[], Any]) -> Any:
    """Run a factory; its `ValidationError` is re-raised naming the YAML attribute to fix."""
    try:
        return make()
    except CaptainDataError as err:
        field = err.field if isinstance(err, ValidationError) else None
        if field and field.startswith("searches"):  # a top-level attribute, not the step's
            where = _yaml_field(field)
        elif field and err.error_scope == "param":
            where = f"{path}.parameters.{field}"
        else:
            where = f"{path}.{_yaml_field(field)}" if field else path
        raise ValidationError(
            f"{where}: {err.message}", field=where, error_label=err.error_label
        ) from None


def _yaml_field(field: str) -> str:
    """`searches['a-b']` (a factory's name) -> `searches.a-b` (where it is in the YAML)."""
    m = re.fullmatch(r"(\w+)\[['\"](.*)['\"]\]", field)
    return f"{m.group(1)}.{m.group(2)}" if m else field


def _action(action_id: str, path: str) -> Action:
    try:
        return resolve_action(action_id)
    except ValidationError as err:
        raise ValidationError(
            f"{path}: {err.message}", field=path, error_label=err.error_label
        ) from None


def _catalog_action(action_id: str, path: str) -> Action:
    """An `actions` entry's action: one that reads an input column and sends nothing."""
    action = _action(action_id, f"{path}.action_id")
    if action.side_effects:
        raise ValidationError(
            f"{path}.action_id: {action.id} acts on LinkedIn (it sends or changes "
            "something); run it with build_outreach_asset, which sends once per campaign",
            field=f"{path}.action_id",
        )
    if action.primary_field is None:
        raise ValidationError(
            f"{path}.action_id: {action.id} takes no input, so it cannot run over a "
            "column; use build_action_asset(..., inputs=[{{}}]) in Python",
            field=f"{path}.action_id",
        )
    return action


def _check_mode(mode: str | None, path: str) -> None:
    """Refuse a `mode:` other than live and async (unset: the component's), naming where."""
    if mode is not None and mode not in MODES:
        raise ValidationError(
            f"{path}: mode must be 'live' or 'async', got {mode!r} (live: one call per input; "
            "async: async runs through the callback receiver)",
            field=path,
        )


def _check_date(daily_start_date: str | None) -> None:
    if daily_start_date is None:
        return
    try:
        datetime.strptime(daily_start_date, "%Y-%m-%d")
    except ValueError:
        raise ValidationError(
            f"people.daily_start_date: {daily_start_date!r} is not a date; write "
            "YYYY-MM-DD, e.g. 2026-01-01",
            field="people.daily_start_date",
        ) from None


def _check_column(steps: Mapping[str, Step], upstream: str, column: str | None, path: str) -> None:
    """Refuse at load an input column that the upstream table will never have."""
    action = steps[upstream].action
    columns = [*action.output_types, *META_COLUMNS]
    if column in columns:
        return
    close = difflib.get_close_matches(str(column), columns, n=3, cutoff=0.6)
    urls = [c for c in columns if c.endswith("_url")]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValidationError(
        f"{path}: the {upstream} table ({action.id}) has no column {column!r}; {hint}"
        f"columns holding URLs: {', '.join(urls)}",
        field=path,
    )

"""The component's `translation:`: change its tables' specs as dagster-fivetran's and dbt's do.

`translation:` takes Dagster's asset attributes (`key`, `group_name`, `tags`, `owners`,
`description`, `kinds`, `metadata`, `automation_condition`...), templated with `props` (the
table's `CaptainDataAssetProps`: `props.name`, `props.table_name`, `props.table`,
`props.action.id`...) and `spec` (the default spec); in Python, a function `(spec, props) -> spec`.
A subclass of the component may instead override `get_asset_spec(props)`. Either way the factories
get a `DagsterCaptainDataTranslator` built by Dagster's `create_component_translator_cls`.

Example (YAML):
    translation:
      group_name: growth
      key: "crm/{{ props.table_name }}"
      tags: {team: growth}
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any

import dagster as dg
from dagster.components.utils.translation import (
    ComponentTranslator,
    TranslationFn,
    TranslationFnResolver,
    create_component_translator_cls,
)

from captaindata_dagster.orchestration.translator import (
    CaptainDataAssetProps,
    DagsterCaptainDataTranslator,
)

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.components.component import CaptainDataActionsComponent

TRANSLATION_HELP = (
    "Change every table's asset spec: Dagster's asset attributes (key, group_name, tags, owners, "
    "description, kinds, metadata, automation_condition...) templated with `props` (the table: "
    "props.name, props.table_name, props.table, props.action.id) and `spec` (its default spec), "
    'e.g. key: "crm/{{ props.table_name }}". Python: a function (spec, props) -> spec.'
)


_TEMPLATED = TranslationFnResolver[CaptainDataAssetProps](lambda props: {"props": props})


def _resolve_translation(context: dg.ResolutionContext, model: Any) -> Any:
    """Dagster's translation function over `props`; None when the YAML says `translation: null`."""
    if model is None:
        return None
    fn: Any = _TEMPLATED.fn
    return fn.callable(context, model)


ResolvedTranslation = Annotated[
    TranslationFn[CaptainDataAssetProps] | None,
    dg.Resolver(
        _resolve_translation,
        model_field_type=_TEMPLATED.model_field_type | None,  # pyright: ignore[reportOptionalOperand]
        description=TRANSLATION_HELP,  # shown by dg's JSON schema and editors
        inject_before_resolve=False,
    ),
]
"""The `translation:` field: asset attributes templated with `props` and `spec` (YAML), or a
function `(spec, props) -> spec` (Python)."""


def component_translator(component: CaptainDataActionsComponent) -> DagsterCaptainDataTranslator:
    """The translator the component's factories use: its `get_asset_spec`, then `translation`.

    Args:
        component: the component whose `translation` (and `get_asset_spec`) to apply.

    Example:
        >>> component_translator(component).get_asset_spec(props).group_name
        'growth'
    """
    return _translator_cls()(component)  # pyright: ignore[reportCallIssue]


@functools.cache
def _translator_cls() -> type[DagsterCaptainDataTranslator]:
    """Built once, on first use: the component module imports this one."""
    from captaindata_dagster.orchestration.components.component import (
        CaptainDataActionsComponent,
    )

    shimmed: Any = create_component_translator_cls(
        CaptainDataActionsComponent, DagsterCaptainDataTranslator
    )

    class CaptainDataComponentTranslator(shimmed, ComponentTranslator[CaptainDataActionsComponent]):
        """`get_asset_spec`: the component's (a subclass may override it), then `translation`."""

        def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
            spec = super().get_asset_spec(props)
            translation = self.component.translation
            return translation(spec, props) if translation is not None else spec

    return CaptainDataComponentTranslator

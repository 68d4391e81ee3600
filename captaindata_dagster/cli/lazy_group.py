"""A click group whose heavy commands are imported only when they run (or help lists them).

`estimate` loads a code location's Definitions, so its module may import Dagster (a second or
two); `users list` should not pay for that. The group names such commands by "module:attribute".
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A `click.Group` that also offers commands named by "module:attribute", imported on use.

    Args:
        lazy_commands: command name -> "package.module:attribute" of a `click.Command`.
        **kwargs: what `click.Group` takes.

    Example:
        >>> group = LazyGroup(lazy_commands={"estimate": "captaindata_dagster.cli.estimate:estimate_command"})
        >>> "estimate" in group.list_commands(click.Context(group))
        True
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
        self.add_command(command, cmd_name)
        return command

"""`python -m captaindata_dagster.simulator`: the same as the `captaindata-simulator` command."""

from .cli import main

raise SystemExit(main())

"""`python -m captaindata_dagster.simulator`: the same as the `captaindata-simulator` command."""

from captaindata_dagster.simulator.cli import main

raise SystemExit(main())

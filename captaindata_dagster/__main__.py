"""`python -m captaindata_dagster ...`: the `captaindata-dagster` command."""

from captaindata_dagster.cli import main

main()

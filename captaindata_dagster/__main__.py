"""`python -m captaindata_dagster users ...`: the `captaindata-dagster` command."""

import sys

from captaindata_dagster.cli import main

sys.exit(main())

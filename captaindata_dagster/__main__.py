"""`python -m captaindata_dagster users ...`: the `captaindata-dagster` command."""

import sys

from .cli import main

sys.exit(main())

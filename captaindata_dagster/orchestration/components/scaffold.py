"""`dg scaffold defs captaindata_dagster.CaptainDataActionsComponent <path>`: a working example.

The scaffolder writes `SCAFFOLD_TEMPLATE`, a commented `defs.yaml` that runs as it is against the
bundled simulator (`CAPTAINDATA_SANDBOX=1 dg dev`) and says, line by line, what to change for real
data.

Example:
    >>> print(SCAFFOLD_TEMPLATE.replace("{type_name}", "captaindata_dagster.CaptainDataActionsComponent"))
"""

from __future__ import annotations

import dagster as dg

TYPE_NAME = "captaindata_dagster.CaptainDataActionsComponent"
"""The component's `type:` in YAML: its public name, whatever module defines the class (so a
`defs.yaml` keeps loading when the package's insides move)."""


class ComponentScaffolder(dg.Scaffolder):
    """Writes a commented `defs.yaml` that runs as it is with CAPTAINDATA_SANDBOX=1."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        """Write (or append, with `--append`) the example; other formats get dg's default."""
        if request.scaffold_format != "yaml":
            from dagster.components.component_scaffolding import scaffold_component

            scaffold_component(request, {})
            return
        text = SCAFFOLD_TEMPLATE.replace("{type_name}", TYPE_NAME)
        if request.append:  # target_path is then an existing defs.yaml
            with open(request.target_path, "a", encoding="utf-8") as fh:
                fh.write("---\n" + text)
        else:
            request.target_path.mkdir(parents=True, exist_ok=True)
            (request.target_path / "defs.yaml").write_text(text, encoding="utf-8")


SCAFFOLD_TEMPLATE = """\
# Captain Data: LinkedIn searches -> people -> profiles -> companies, as partitioned assets.
# Runs as it is against the bundled simulator (synthetic data): CAPTAINDATA_SANDBOX=1 dg dev
# For real data: set CAPTAINDATA_API_KEY (and unset CAPTAINDATA_SANDBOX).
type: {type_name}

attributes:
  # One partition per search: name -> LinkedIn people search URL.
  searches:
    data-engineers-paris: "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D"
    cto-saas-berlin: "https://www.linkedin.com/search/results/people/?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D"

  people:
    name: linkedin_people
    max_results: 30          # per search: pages beyond are never fetched (a result is a credit)
    max_age_hours: 12        # a search walked within 12 hours is served from the ledger

  profiles:                  # delete to stop after the search
    name: linkedin_profiles
    max_age_days: 30         # profiles fetched within 30 days come from the ledger, free
    parameters: {experiences: true, skills: true}
    # mode: async            # send the inputs as async runs (thousands at once): set receiver_url
    # defer: true            # ...and end the step at submission; a sensor lands it once done

  companies:
    name: linkedin_companies
    max_age_days: 90

  # Any catalog action over a column of an asset declared above:
  # actions:
  #   - action_id: linkedin-extract-company-employees-insights
  #     upstream: companies
  #     input_column: linkedin_company_url
  #     parameters: {affiliates: false}

  # Any CaptainDataResource setting (bound on these assets only; null: the project's
  # `captaindata` resource). The key is an EnvVar: never in the run config or the logs.
  resource:
    api_key: "{{ env.CAPTAINDATA_API_KEY }}"
    # your plan's limit (trial 1, low 2, mid 10, high 20, highest 40); the simulator takes 40
    requests_per_second: "{{ env('CAPTAINDATA_REQUESTS_PER_SECOND', '40' if env.CAPTAINDATA_SANDBOX == '1' else '2') }}"
    # rotate_connected_users: true   # run on every user whose LinkedIn account is connected
    # integration_users: ["<user uid>", "<another user uid>"]   # or these users only
    # async steps: where the API posts results (`captaindata-dagster receiver --public-url`)
    # receiver_url: "{{ env.CAPTAINDATA_RECEIVER_PUBLIC_URL }}"

  # Land every table in DuckDB (bound on these assets only); delete to use the project's io_manager.
  warehouse:
    database: "{{ env('CAPTAINDATA_WAREHOUSE', 'warehouse.duckdb') }}"
    schema: linkedin

  budget: 500                # credits one partition of one asset may spend
  max_error_rate: 0.2        # above this share of failed inputs the error-rate check fails and
                             # stops the paid steps downstream in the same run (blocking: true)
  mode: live                 # or async: every step's default (a step's own mode: wins)
  pool: captaindata          # Dagster concurrency pool of every Captain Data step
  retry_policy: {max_retries: 3, delay: 30, backoff: exponential, jitter: plus_minus}
  checks: true               # error rate, required columns and unique key checks
  error_sensor: true         # error labels on the asset pages; re-runs partitions hit by 429s/5xx
  run_failure_sensor: true
  schedule:
    cron: "0 5 * * *"        # every morning, one run per search
    timezone: UTC
    running: false           # start it from the UI, or set true
"""

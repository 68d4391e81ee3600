# Everything runs from a virtual environment this Makefile creates from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers of `make test` (a test file runs whole on one worker); 1 for a plain run
TEST_WORKERS ?= 2
# The Dagster instance `make demo` writes its runs to (its default too) and `make ui` opens.
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
UI_PORT ?= 3000

.PHONY: install test demo ui lint format docs catalog simulator screenshot clean bench postgres postgres-stop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## the whole test suite (starts its own simulators on loopback), on two workers
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

demo: $(STAMP)  ## the main job against the bundled simulator
	DAGSTER_HOME='$(DAGSTER_HOME)' $(BIN)/python -m captaindata_dagster.demo

ui: $(STAMP)  ## the Dagster UI (http://127.0.0.1:3000) on the demo's instance: what `make demo` materialized
	mkdir -p '$(DAGSTER_HOME)'
	test -f '$(DAGSTER_HOME)/dagster.yaml' || printf 'telemetry:\n  enabled: false\n' > '$(DAGSTER_HOME)/dagster.yaml'
	DAGSTER_HOME='$(DAGSTER_HOME)' CAPTAINDATA_SANDBOX=1 $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

bench: $(STAMP)  ## performance vs the plan's physical limit (minutes); writes bench/results.json and .md
	$(BIN)/python -m bench

lint: $(STAMP)  ## ruff, the layers contract, types, and the size limits
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/basedpyright
	$(BIN)/python scripts/check_sizes.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)  ## regenerate docs/configuration.md (the configuration reference) from the settings classes
	$(BIN)/python scripts/gen_config_reference.py

catalog: $(STAMP)  ## regenerate captaindata_dagster/api/catalog.json from ../shared/captaindata-v4/openapi.json
	$(BIN)/python scripts/gen_catalog.py

screenshot: $(STAMP)  ## docs/ui-*.png from a live webserver (needs Debian's chromium; not run by CI)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check playwright  # drives that chromium
	$(BIN)/python scripts/screenshot.py

simulator: $(STAMP)  ## serve the simulator on 127.0.0.1:8765 until Ctrl-C
	$(BIN)/captaindata-dagster simulator --port 8765

# outside the tree: as root the server runs as `postgres`, which must reach its directory
PG_DIR ?= /tmp/captaindata-postgres-$(shell id -u)

postgres:  ## a throwaway PostgreSQL on 127.0.0.1 for the ledger's tests; prints what to export
	@url=$$($(PYTHON) scripts/postgres.py start --dir $(PG_DIR)) && \
	  echo "export CAPTAINDATA_TEST_POSTGRES_URL='$$url'" && \
	  echo "export CAPTAINDATA_TEST_POSTGRES_DIR='$(PG_DIR)'" && \
	  echo "# stop it with: make postgres-stop"

postgres-stop:  ## stop the server `make postgres` started
	$(PYTHON) scripts/postgres.py stop --dir $(PG_DIR)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	-$(PYTHON) scripts/postgres.py stop --dir $(PG_DIR)
	rm -rf $(PG_DIR)

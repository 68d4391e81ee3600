# Everything runs from a virtual environment this Makefile creates from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint format docs catalog simulator screenshot clean bench postgres postgres-stop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## the whole test suite (starts its own simulators on loopback)
	$(BIN)/python -m pytest -q

demo: $(STAMP)  ## the main job against the bundled simulator
	$(BIN)/python -m captaindata_dagster.demo

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

screenshot: $(STAMP)  ## docs/ui-asset-*.png from a live webserver (needs Debian's chromium; not run by CI)
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

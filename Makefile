# Everything runs from a virtual environment this Makefile creates from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint format catalog simulator screenshot clean bench

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

catalog: $(STAMP)  ## regenerate captaindata_dagster/catalog.json from ../shared/captaindata-v4/openapi.json
	$(BIN)/python scripts/gen_catalog.py

screenshot: $(STAMP)  ## docs/ui-asset-*.png from a live webserver (needs Debian's chromium; not run by CI)
	$(BIN)/python scripts/screenshot.py

simulator: $(STAMP)  ## serve the simulator on 127.0.0.1:8765 until Ctrl-C
	$(BIN)/captaindata-simulator --port 8765

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

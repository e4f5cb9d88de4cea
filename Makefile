# golden-noise: `make demo` (set up + materialize everything on the digits profile),
# `make test`, `make ui` (Dagster web UI on the demo's instance), `make scale-demo` (the demo
# through a local Postgres instance, Redis and two Celery workers; `make scale-ui` browses it).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export GN_STORAGE_ROOT ?= $(CURDIR)/artifacts
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONWARNINGS ?= ignore::FutureWarning,ignore::UserWarning
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
SCALE_STAMP := $(VENV)/.installed-scale
PIP := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: demo test ui scale-demo scale-ui install install-dev home clean

# The demo needs only the project; tests also need the dev extra (pytest, ruff, and the
# scale-out packages whose config schemas the tests validate).
install: $(STAMP)
install-dev: $(DEV_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -U pip
	$(PIP) -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) -e '.[dev]'
	touch $(DEV_STAMP)

home:
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

$(SCALE_STAMP): $(STAMP)
	$(PIP) -e '.[scale]'
	touch $(SCALE_STAMP)

demo: install home
	$(PY) -m gn_dagster.demo

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

ui: install home
	@# run from DAGSTER_HOME: Dagster warns when a dagster.yaml sits in the working directory
	cd $(DAGSTER_HOME) && $(CURDIR)/$(VENV)/bin/dagster dev -w $(CURDIR)/workspace.yaml

# Needs Debian's postgresql and redis-server packages (the script says so when missing).
scale-demo: $(SCALE_STAMP)
	deploy/local/scale-demo.sh demo

scale-ui: $(SCALE_STAMP)
	deploy/local/scale-demo.sh ui

clean:
	rm -rf $(DAGSTER_HOME) $(GN_STORAGE_ROOT) .scale

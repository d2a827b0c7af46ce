# The two commands a newcomer needs: `make run` and `make test`. Both build .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt clean bench load chaos cluster

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/live demo

# The scaled-out shape on one machine: a loopback Redis Cluster (3 masters, 3 replicas), two
# app processes and nginx in front on http://127.0.0.1:8000. Ctrl-C stops everything.
cluster: $(STAMP)
	bash tests/provision.sh
	$(BIN)/live cluster

# Installs Redis 7, Chromium and CJK fonts first when they are missing (as root, apt-get).
test: $(STAMP)
	bash tests/provision.sh
	$(BIN)/pytest -q

# Every load figure beside a baseline measured in the same run (a few minutes; loopback only).
bench: $(STAMP)
	$(BIN)/python -m loadtest.bench

# One load run with the default plan; adds a row to loadtest/RESULTS.md.
load: $(STAMP)
	$(BIN)/python -m loadtest

# Faults, floods, fuzzing (schemathesis, websocket, atheris 4 min per parser): about 70 min.
chaos: $(STAMP)
	$(BIN)/python -m loadtest.chaos

lint: $(STAMP)
	$(BIN)/ruff check live tests loadtest
	$(BIN)/ruff format --check live tests loadtest
	$(BIN)/mypy --strict
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format live tests loadtest
	$(BIN)/ruff check --fix live tests loadtest

clean:
	rm -rf $(VENV) .live .pytest_cache .mypy_cache .ruff_cache

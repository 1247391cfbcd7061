# Two commands on a fresh machine: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint fmt bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo clock: a whole trading day every MARKET_DEMO_DAY_SECONDS (0: the real clock), from
# the instant in .demo-epoch, written on the first run so that the clock survives restarts. It is
# set 45 s back: by the time the demo is seeded and served, the first pre-open is nearly over
# and the opening auction comes within the first minute.
run: export MARKET_DEMO_DAY_SECONDS ?= 600
run: export MARKET_SIMULATOR_ENABLED ?= true
run: install
	@test -s .demo-epoch || date -u -d '-45 seconds' +%Y-%m-%dT%H:%M:%SZ > .demo-epoch
	$(PY) manage.py migrate --noinput
	MARKET_DEMO_EPOCH="$${MARKET_DEMO_EPOCH:-$$(cat .demo-epoch)}" $(PY) manage.py seed_demo --if-empty
	MARKET_DEMO_EPOCH="$${MARKET_DEMO_EPOCH:-$$(cat .demo-epoch)}" $(PY) manage.py serve $(HOST):$(PORT)

test: install
	$(PY) scripts/run_tests.py $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) scripts/run_bench.py

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles .test-media .mypy_cache .ruff_cache

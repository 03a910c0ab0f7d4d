# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the bot (console mode when TELEGRAM_BOT_TOKEN is not set); state in ./data/
run: $(STAMP)
	mkdir -p data
	$(BIN)/newsbot run

## test: the whole test suite (PostgreSQL tests run when TEST_DATABASE_URL is set)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## lint: ruff, as CI runs it
lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix bot tests bench
	$(BIN)/ruff format bot tests bench

## bench: matching throughput, index build, pipeline memory over many polls; writes docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python bench/bench_match.py
	$(BIN)/python bench/bench_poll.py
	$(BIN)/python bench/bench_subscribers.py

## check: validate the feeds file and the watchlists
check: $(STAMP)
	$(BIN)/newsbot check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

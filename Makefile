# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format bench bench-scale check lock docker-smoke clean

# The tool that makes requirements.lock, pinned so that `make lock` gives the same file everywhere.
LOCK_TOOL    := uv==0.13.9
DOCKER_SMOKE ?= ../shared/tools/docker-smoke

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the bot (console mode when TELEGRAM_BOT_TOKEN is not set); state in ./data/
run: $(STAMP)
	mkdir -p data
	$(BIN)/newsbot run

## test: the whole test suite on two workers (PostgreSQL tests run when TEST_DATABASE_URL is
## set, all in one worker: they share one server)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

## lint: ruff, as CI runs it
lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix bot tests bench
	$(BIN)/ruff format bot tests bench

## bench: matching throughput, index build, pipeline memory over many polls, story lookup cost,
## and scale (last: about 10 minutes); writes docs/benchmarks.md and docs/scale.svg
bench: $(STAMP)
	$(BIN)/python bench/bench_match.py
	$(BIN)/python bench/bench_poll.py
	$(BIN)/python bench/bench_freshness.py
	$(BIN)/python bench/bench_subscribers.py
	$(BIN)/python bench/bench_outbox.py
	$(BIN)/python bench/bench_stories.py
	$(BIN)/python bench/bench_scale.py

## bench-scale: cycle CPU against the fetch+parse floor, feeds 25-200 and subscribers 1k-100k,
## SQLite and (with TEST_DATABASE_URL) PostgreSQL; writes its figures and docs/scale.svg when every
## target holds. One configuration: bench/bench_scale.py --feeds N --subscribers N [--profile]
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py

## check: validate the feeds file and the watchlists
check: $(STAMP)
	$(BIN)/newsbot check

## lock: regenerate requirements.lock, the hash-checked pins the image installs. Run it after
## changing dependencies in pyproject.toml; pins already in the file are kept unless they must
## move (add --upgrade to the command to move every pin to its newest version).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet '$(LOCK_TOOL)'
	UV_NATIVE_TLS=1 $(BIN)/uv pip compile --quiet pyproject.toml --group build --generate-hashes --universal --python-version 3.11 -o requirements.lock

## docker-smoke: build the image and run it (needs root; installs Docker; minutes the first time)
docker-smoke:
	bash $(DOCKER_SMOKE) .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

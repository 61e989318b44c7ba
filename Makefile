# Everyday commands. `make run` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Starts RabbitMQ/PostgreSQL, enables the broker's plugins, installs chromium and promtool,
# each only when missing (deploy/dev/bring-up.sh --help). `make test BRING_UP=:` skips it.
BRING_UP ?= deploy/dev/bring-up.sh

.PHONY: install run test test-fast lint bench clean asyncapi fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run every service in its own process on SQLite files under var/ and the local RabbitMQ.
run: install
	$(BRING_UP) rabbitmq
	$(BIN)/gonghui up

## The whole suite, on SQLite and PostgreSQL, against the real local RabbitMQ.
test: install
	$(BRING_UP)
	$(BIN)/ruff check .
	$(BIN)/pytest

## The OpenAPI fuzz run of `make test` at a few hundred examples per operation (minutes).
fuzz: install
	$(BRING_UP)
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),300) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),900) \
	  $(BIN)/pytest tests/e2e/test_openapi_fuzz.py -s

lint: install
	$(BIN)/ruff check .

## Benchmarks: the long tests (pytest -m long, e.g. the seeds' figures from `make run`'s
## loading), then each script in bench/, printing its figures (see README "Benchmarks").
bench: install
	$(BRING_UP)
	$(BIN)/pytest -m long -s
	$(BIN)/python bench/run_all.py

## Regenerate asyncapi.yaml (and asyncapi.bundled.yaml, references inlined) from the event
## catalogue in shared/events/ and the services' event handlers.
asyncapi: install
	$(BIN)/gonghui asyncapi > asyncapi.yaml
	$(BIN)/gonghui asyncapi --bundled > asyncapi.bundled.yaml

clean:
	rm -rf var/*.db var/*.db-* .pytest_cache

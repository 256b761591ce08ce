PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCKS := requirements/development.lock requirements/production.lock

.PHONY: run test test-kafka check install lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs exactly the locked versions (hashes checked), then the project itself.
$(STAMP): $(BIN)/python requirements/development.lock pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/development.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The broker: auto (Apache Kafka where Java 17+ and Maven or cached jars exist, else Tansu),
# kafka or tansu: `make run BROKER=tansu`.
BROKER ?= auto

run: $(STAMP)
	$(BIN)/handoff up --broker $(BROKER)

test: $(STAMP) check
	$(BIN)/python -m pytest

# Lint, format and types: a finding fails `make test` (and so CI).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The same suite on a real Apache Kafka broker (Java 17+; Maven once, the jars are then cached
# in ~/.cache/handoff/kafka, shared with `make run`).
test-kafka: $(STAMP)
	$(BIN)/python tools/kafka_tier/kafka_tier.py run -- $(BIN)/python -m pytest

# Re-resolve the locks after changing dependencies in pyproject.toml (needs network to PyPI).
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		--extra embedded --extra test -o requirements/development.lock
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		-o requirements/production.lock

clean:
	rm -rf $(VENV) .handoff

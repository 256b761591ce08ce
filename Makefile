PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORKERS ?= 3  # pytest-xdist workers: each has its own PostgreSQL (and embedded broker)
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
	$(BIN)/python -m pytest -n $(WORKERS)

# Lint, format and types: a finding fails `make test` (and so CI).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The same suite on a real Apache Kafka broker (Java 17+; Maven once, the jars are then cached
# in ~/.cache/handoff/kafka, shared with `make run`).
# Its outage tests really stop that broker, which the workers share: they run first, on their
# own, while the broker restarts quickly (the rest create, and delete, tens of thousands of
# partitions).
test-kafka: $(STAMP)
	$(BIN)/python tools/kafka_tier/kafka_tier.py run -- sh -c '\
		$(BIN)/python -m pytest -m broker_outage && \
		$(BIN)/python -m pytest -n $(WORKERS) -m "not broker_outage"' 

# Re-resolve the locks after changing dependencies in pyproject.toml (needs network to PyPI).
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		--extra embedded --extra test -o requirements/development.lock
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		-o requirements/production.lock

clean:
	rm -rf $(VENV) .handoff

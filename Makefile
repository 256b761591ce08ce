PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-kafka install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/handoff up

test: $(STAMP)
	$(BIN)/python -m pytest

# The same suite on a real Apache Kafka broker (Java 17+ and Maven; jars cached under .cache/kafka).
test-kafka: $(STAMP)
	$(BIN)/python tools/kafka_tier/kafka_tier.py run -- $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .handoff

# The two commands of the README: `make run` and `make test`.
# Both create .venv and install everything they need (system packages included) on first use.

VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit setup clean test-ha

$(STAMP): pyproject.toml deploy/bootstrap.sh deploy/node-red/install.sh deploy/node-red/package-lock.json \
          deploy/homeassistant.sh
	VENV=$(VENV) PYTHON=$(PYTHON) bash deploy/bootstrap.sh
	touch $(STAMP)

setup: $(STAMP)

# The daemon on its embedded defaults: the bundled demo clip as camera, gpiozero's
# mock pins when there is no GPIO, events kept in the outbox when no broker answers.
run: $(STAMP)
	$(BIN)/edgeface enroll --from-dir config/demo/faces
	$(BIN)/edgeface -v run

lint: $(STAMP)
	$(BIN)/ruff check edgeface tests
	$(BIN)/ruff format --check edgeface tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# Only the tests against the real Home Assistant (installed under .tools/ by deploy/homeassistant.sh).
test-ha: $(STAMP)
	bash deploy/homeassistant.sh
	$(BIN)/pytest -m homeassistant

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The two commands of the README: `make run` and `make test`.
# Each installs what it needs (system packages included) on first use: `run` the virtualenv,
# `test` also the servers and clients the tests start.

VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .tools/.installed

.PHONY: run test lint typecheck unit setup clean test-ha

$(STAMP): pyproject.toml deploy/bootstrap.sh deploy/apt.sh
	VENV=$(VENV) PYTHON=$(PYTHON) bash deploy/bootstrap.sh
	touch $(STAMP)

# The real servers and clients the tests start (mosquitto, Chromium, promtool, Node-RED, Home Assistant):
# `make test` installs them, `make run` needs none.
$(TOOLS): deploy/test-tools.sh deploy/apt.sh deploy/node-red/install.sh deploy/node-red/package-lock.json \
          deploy/homeassistant.sh
	bash deploy/test-tools.sh
	mkdir -p $(dir $(TOOLS)) && touch $(TOOLS)

setup: $(STAMP) $(TOOLS)

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

unit: $(STAMP) $(TOOLS)
	$(BIN)/pytest

test: lint typecheck unit

# Only the tests against the real Home Assistant (installed under .tools/ by deploy/homeassistant.sh).
test-ha: $(STAMP) $(TOOLS)
	$(BIN)/pytest -m homeassistant

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache

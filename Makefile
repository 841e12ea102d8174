# The two commands of the README: `make run` and `make test`.
# Each installs what it needs (system packages included) on first use: `run` the virtualenv with what the
# daemon needs, `test` also the development tools and the servers and clients the tests start.

VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev
TOOLS  := .tools/.installed

.PHONY: run test quick lint typecheck unit setup clean test-ha test-arm64

$(STAMP): pyproject.toml deploy/bootstrap.sh deploy/apt.sh
	VENV=$(VENV) PYTHON=$(PYTHON) bash deploy/bootstrap.sh
	touch $(STAMP)

# pytest, hypothesis, ruff, mypy and onnx (the `dev` extra): `make test` needs them, the daemon does not.
$(DEV): $(STAMP)
	VENV=$(VENV) PYTHON=$(PYTHON) bash deploy/bootstrap.sh dev
	touch $(DEV)

# The real servers and clients the tests start (mosquitto, Chromium, promtool, Node-RED, Home Assistant):
# `make test` installs them, `make run` needs none.
$(TOOLS): $(STAMP) deploy/test-tools.sh deploy/apt.sh deploy/node-red/install.sh deploy/node-red/package-lock.json \
          deploy/homeassistant.sh
	bash deploy/test-tools.sh
	mkdir -p $(dir $(TOOLS)) && touch $(TOOLS)

setup: $(DEV) $(TOOLS)

# The demo: the bundled clip as camera, gpiozero's mock pins, events kept in the outbox when no broker
# answers, and a state directory of its own (config/demo/edgeface.yaml), never the user's real store.
DEMO := $(BIN)/edgeface --config config/demo/edgeface.yaml

run: $(STAMP)
	$(DEMO) enroll --from-dir config/demo/faces
	$(DEMO) run

lint: $(DEV)
	$(BIN)/ruff check edgeface tests
	$(BIN)/ruff format --check edgeface tests

typecheck: $(DEV)
	$(BIN)/mypy

unit: $(DEV) $(TOOLS)
	$(BIN)/pytest

test: lint typecheck unit

# The quick tier for everyday work: lint, types and the tests not marked slow (no daemon, browser or
# home-automation server, no whole data set), about a minute on 2 cores. `make test` runs everything.
quick: lint typecheck $(TOOLS)
	$(BIN)/pytest -m "not slow"

# Only the tests against the real Home Assistant (installed under .tools/ by deploy/homeassistant.sh).
test-ha: $(DEV) $(TOOLS)
	$(BIN)/pytest -m homeassistant

# The same project on an emulated arm64 Debian (qemu-user, see deploy/arm64/test.sh and docs/install.md):
# as root; about 25 min the first time on 2 cores, then the root is cached in /var/cache/edgeface-arm64.
test-arm64: $(STAMP)
	VENV=$(VENV) bash deploy/arm64/test.sh

clean:
	rm -rf $(VENV) .tools config/demo/state .mypy_cache .ruff_cache .pytest_cache

# callcenter — make targets. `make demo` and `make test` are the two commands in the README.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ASTERISK_STAMP := $(VENV)/.asterisk
KAMAILIO_STAMP := $(VENV)/.kamailio
DEMO_DIR ?= $(HOME)/.local/state/callcenter/demo

.PHONY: install test test-fast test-clock demo demo-stop lint bench clean asterisk kamailio

install: $(STAMP) $(ASTERISK_STAMP) $(KAMAILIO_STAMP)

$(STAMP): setup.cfg pyproject.toml $(wildcard setup.py) $(wildcard callcenter/acd/*.pyx callcenter/acd/*.pxi callcenter/acd/*.pxd)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(ASTERISK_STAMP): scripts/install-asterisk
	scripts/install-asterisk
	touch $@

asterisk: $(ASTERISK_STAMP)

# the SIP proxy in front of several nodes (docs/cluster.md); its packaged service stays off
$(KAMAILIO_STAMP): scripts/install-kamailio
	scripts/install-kamailio
	touch $@

kamailio: $(KAMAILIO_STAMP)

# test_faults_live.py runs an Asterisk of its own (short retry and qualify timers) on the
# suite's ports, so it runs in a pytest of its own, after the session Asterisk has stopped
test: install
	$(PY) -m pytest --ignore=tests/integration/test_faults_live.py
	$(PY) -m pytest tests/integration/test_faults_live.py

# the tier that needs no Asterisk, SIPp or PostgreSQL: the edit loop
test-fast: $(STAMP)
	$(PY) -m pytest -m "not asterisk and not sipp and not postgres"

# every test that reads dates, with the machine's clock 400 days ahead: no test may depend
# on the day it runs (Asterisk runs in its own root, outside the fake clock: not here)
test-clock: install
	faketime -f '+400d' $(PY) -m pytest -p no:cacheprovider -m "clock and not asterisk"

lint: $(STAMP)
	$(VENV)/bin/ruff check callcenter tests scripts

demo: install
	$(PY) scripts/demo.py "$(DEMO_DIR)"

demo-stop: $(STAMP)
	-[ -f "$(DEMO_DIR)/daemon.pid" ] && kill "$$(cat "$(DEMO_DIR)/daemon.pid")" && rm -f "$(DEMO_DIR)/daemon.pid"
	$(VENV)/bin/callcenter asterisk stop "$(DEMO_DIR)/asterisk"

bench: $(STAMP)
	$(PY) scripts/bench_scheduler.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis bench-*.json
	find callcenter tests scripts -name __pycache__ -prune -exec rm -rf {} +
	rm -f callcenter/acd/*.so callcenter/acd/_scheduler_c.c

# alertdrill: `make drill` runs every drill; `make test` runs every test tier. Both set up what they
# need first (Docker engine and plugins where missing, images, the Python environment).
VENV    := .venv
COMPOSE := docker compose -f docker-compose.test.yml
PYTEST  := $(VENV)/bin/pytest
# LANES=N: N drill lanes in parallel (pytest-xdist, one stack per lane: alertdrill.target.lane). Two
# where there are two cores or more (half the time of one lane: README, "How long it takes"), else one;
# LANES=1 runs everything in this process, in testpaths order.
LANES   ?= $(shell [ "$$(nproc)" -ge 2 ] && echo 2 || echo 1)
XDIST   := $(if $(filter-out 0 1,$(LANES)),-n $(LANES))

.PHONY: setup images test fast drill reliability flake-rate lock up status down bench-stack clean
.DEFAULT_GOAL := help

help:
	@echo "make test      every test: rules (no containers), platform, stack smoke, drills (two lanes at once; LANES=1: one)"
	@echo "make drill     every drill against the container stack, with a summary table (two lanes; LANES=1: one)"
	@echo "make fast      the tiers that need no containers (rules, report, adopt, platform, reliability)"
	@echo "make reliability   every phase x SIGINT/SIGTERM, two lanes side by side (about 30 min; CI: a subset)"
	@echo "make flake-rate    every drill 5 times on one stack: passes out of 5 and the spread of its timings"
	@echo "make up | status | down   the stack with drill timings; down leaves nothing behind"

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[platform,dev]'
	touch $@

setup: $(VENV)/.installed
	bash scripts/bootstrap.sh

images: setup
	$(COMPOSE) build

test: images
	$(PYTEST) $(XDIST)

fast: $(VENV)/.installed
	$(PYTEST) tests/rules tests/report tests/adopt tests/platform tests/reliability -m "not drill and not stack"

reliability: images
	$(PYTEST) tests/reliability --all-phases --lanes

flake-rate: images
	$(VENV)/bin/python scripts/flake_rate.py -n 5

# Re-pin on purpose: resolve the newest allowed versions and record them (then run make test).
lock: setup
	bash scripts/lock.sh

drill: images
	$(VENV)/bin/alertdrill drill $(XDIST)

up: images
	$(VENV)/bin/alertdrill stack up

status: $(VENV)/.installed
	$(VENV)/bin/alertdrill stack status

down: $(VENV)/.installed
	$(VENV)/bin/alertdrill stack down

bench-stack: setup
	$(VENV)/bin/python scripts/bench_stack.py

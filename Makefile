# provenance — developer entry points. Everything runs inside .venv, which this file makes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all venv test test-fast demo bench fuzz lint format lock clean

all: test

$(STAMP): requirements.lock pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools==84.2.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

## make test: lint, then the whole suite (slow, postgres, browser and e2e tests included).
test: $(STAMP)
	$(VENV)/bin/ruff check provenance addons dashboards tests bench
	$(PY) -m pytest -q $(PYTEST_ARGS)

## make test-fast: skip tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

## make demo: stand-in provider + capture proxy + the real openai SDK, then the dashboard.
demo: $(STAMP)
	$(PY) -m provenance.demo

## make bench: benchmarks; results go to docs/benchmarks.md.
bench: $(STAMP)
	$(PY) -m bench

## make fuzz: atheris harnesses over the byte-level parsers, FUZZ_SECONDS each.
fuzz: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check "atheris==3.0.0"
	$(PY) -m bench.fuzz --seconds $${FUZZ_SECONDS:-60}

lint: $(STAMP)
	$(VENV)/bin/ruff check provenance addons dashboards tests bench
	$(VENV)/bin/ruff format --check provenance addons dashboards tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format provenance addons dashboards tests bench
	$(VENV)/bin/ruff check --fix provenance addons dashboards tests bench

## make lock: re-resolve requirements.lock from pyproject's extras (slow: minutes).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet "pip>=24"
	.lockenv/bin/pip install --quiet -e ".[dashboard,pcap,tokenizers,logits,serve]" "torch==2.13.0" \
	    ai21-tokenizer playwright hypothesis pytest pytest-timeout ruff openai anthropic
	( echo "# Exact pins for every dependency (runtime, tests, dashboard, fingerprinting)."; \
	  echo "# Regenerate: make lock  (never edit by hand; see README \"Dependencies\")."; \
	  .lockenv/bin/pip freeze --exclude-editable | sed 's/+cpu$$//' ) > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

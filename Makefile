# provenance — developer entry points. Everything runs inside .venv, which this file makes.
# Python 3.12 or newer (mitmproxy 12 needs it): the first of these that runs, pyenv's 3.12 included.
PYENV_312 := $(lastword $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.12*/bin/python3.12)))
PYTHON ?= $(shell for p in python3.12 $(PYENV_312) python3.13 python3; do \
            "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
            && "$$p" -c 'import sys; print(sys.executable)' && break; done)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all venv vllm-venv test test-fast demo bench fuzz lint format lock clean screenshots

all: test

$(STAMP): requirements.lock pyproject.toml setup.py
	@test -n "$(PYTHON)" || { echo "error: provenance needs Python >= 3.12 (mitmproxy 12); install it or run make PYTHON=/path/to/python3.12" >&2; exit 2; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools==84.2.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

## make vllm-venv: the real vLLM server (CPU build) the reference tests start; its own venv,
## $$PROVENANCE_VLLM_VENV (default .vllm-venv), from requirements-vllm.lock (about 2 minutes).
vllm-venv:
	bash scripts/vllm-venv

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

## make screenshots: refresh docs/screenshots from the browser test (needs Chromium).
screenshots: $(STAMP)
	PROVENANCE_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/browser/test_dashboard_browser.py

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
	  echo "# Resolved on Linux x86_64 with $$(.lockenv/bin/python -V); Linux-only wheels carry a marker."; \
	  .lockenv/bin/pip freeze --exclude-editable | sed -e 's/+cpu$$//' \
	    -e '/^\(nvidia-\|cuda-\|triton=\|mitmproxy_linux=\)/s/$$/ ; sys_platform == "linux"/' ) > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

# The short names. Each target creates .venv from the pinned requirements when they change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run sweep test lint format bench package clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

## make run: the whole service on this machine (moto DynamoDB, demo tenant, API on PORT or 8000)
run: $(STAMP)
	$(PY) -m local.stack

## make sweep NAME=deactivate_silent AT=2026-12-01T00:00:00Z: run a scheduled function once on the local stack
sweep: $(STAMP)
	$(PY) -m local.sweep $(NAME) $(if $(AT),--at $(AT))

## make test: every test (unit, service, e2e, infra), then ruff
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache

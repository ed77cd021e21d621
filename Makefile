# The short names. Each target creates .venv from the pinned requirements when they change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run sweep test test-fast lint lock format bench package deploy drill clean

# The stamp's name is a hash of the lock files, so editing them (make lock, a pull) rebuilds the
# venv and merely touching them does not.
$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

## make lock: compile requirements*.in into the pinned, hashed requirements*.txt (README: Dependencies).
## Pins already in a lock are kept; make lock UPGRADE="pydantic boto3" moves those to their newest releases.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(foreach p,$(UPGRADE),--upgrade-package $(p))
lock: $(STAMP)
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt

## make run: the whole service on this machine (moto DynamoDB, demo tenant, API on PORT or 8000)
run: $(STAMP)
	$(PY) -m local.stack

## make sweep NAME=deactivate_silent AT=2026-12-01T00:00:00Z: run a scheduled function once on the local stack
sweep: $(STAMP)
	$(PY) -m local.sweep $(NAME) $(if $(AT),--at $(AT))

# Debian's chromium, which the browser tests drive (Playwright's own browser download cannot run
# here); installed once, as root or through sudo.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || \
		{ $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## make test: every test (unit, service, e2e, infra), then ruff
test: $(STAMP) $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m pytest

## make test-fast: the unit, service and CLI tiers on every core (pytest-xdist), without the two
## long property runs, fault injection and the model-based test, which make test runs
FAST_TIERS := tests/unit tests/service tests/cli
LONG_RUNS := tests/service/test_faults.py tests/service/test_model_based.py
test-fast: $(STAMP)
	$(PY) -m pytest -n auto $(FAST_TIERS) $(foreach f,$(LONG_RUNS),--deselect $(f))

## make package STAGE=prod: the CloudFormation (SAM) template and zip in out/STAGE, checked by cfn-lint
STAGE ?= prod
package: $(STAMP)
	rm -rf out/$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template infra/resources.json out/$(STAGE)
	$(VENV)/bin/cfn-lint out/$(STAGE)/sam.json

## make deploy STAGE=prod BUCKET=... ALARM_TOPIC_ARN=... OPERATOR_KEY_SHA256=...: see docs/DEPLOY.md
deploy: package
	@test -n "$(BUCKET)" -a -n "$(ALARM_TOPIC_ARN)" -a -n "$(OPERATOR_KEY_SHA256)" || \
		{ echo "set BUCKET, ALARM_TOPIC_ARN and OPERATOR_KEY_SHA256 (docs/DEPLOY.md)"; exit 2; }
	aws cloudformation package --template-file out/$(STAGE)/sam.json --s3-bucket $(BUCKET) \
		--output-template-file out/$(STAGE)/packaged.yaml
	aws cloudformation deploy --template-file out/$(STAGE)/packaged.yaml --stack-name licensing-$(STAGE) \
		--capabilities CAPABILITY_IAM --parameter-overrides Stage=$(STAGE) AlarmTopicArn=$(ALARM_TOPIC_ARN) \
		OperatorKeySha256=$(OPERATOR_KEY_SHA256)

## make drill: the deploy drill of issue 12 alone (package, translate, create on moto, use, delete, create again)
drill: $(STAMP)
	$(PY) -m pytest tests/infra/test_deploy_drill.py

## make bench: the benchmarks behind docs/PERFORMANCE.md (--devices 100000 for the issue's fleet)
bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache

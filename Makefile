# The short names. Each target creates .venv from the pinned requirements when they change.
# Lambda runs the service on python3.13, and Chalice packages for the Python that runs it: the venv
# is 3.13 (.python-version tells pyenv; elsewhere, PYTHON=/path/to/python3.13).
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run sweep test test-fast typecheck lint lock format bench package deploy replay restore drill rotate-key clean

# The stamp's name is a hash of the lock files, so editing them (make lock, a pull) rebuilds the
# venv and merely touching them does not.
NEED_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || \
	{ echo "make: Python 3.13 is needed (Lambda's runtime, which Chalice packages for): install it, or set PYTHON="; exit 2; }

$(STAMP):
	$(NEED_PYTHON)
	$(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip<26.3"
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

## make lock: compile requirements*.in into the pinned, hashed requirements*.txt (README: Dependencies).
## Pins already in a lock are kept; make lock UPGRADE="pydantic boto3" moves those to their newest releases.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.13 \
	--custom-compile-command "make lock" $(foreach p,$(UPGRADE),--upgrade-package $(p))
lock: $(STAMP)
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) requirements-checkov.in -o requirements-checkov.txt

# checkov (infra/lint.py) in a venv of its own: its dependencies cannot share the dev pins.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | sha256sum | cut -c1-12)
$(CHECKOV_STAMP):
	$(NEED_PYTHON)
	$(PYTHON) -m venv --clear $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --require-hashes -r requirements-checkov.txt
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $@
.venv-checkov: $(CHECKOV_STAMP)

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

## make test: ruff (lint and formatting) and mypy, then every test (unit, service, e2e, infra) on every core,
## each file on one worker (its module fixtures, such as the e2e stacks and the deploy drill's steps, made once)
test: $(STAMP) $(CHECKOV_STAMP) $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto --dist loadfile

## make test-fast: the unit, service and CLI tiers on every core (pytest-xdist), without the long
## runs (fault injection, the model-based test, the fuzzing of every route, the 1,000- and
## 50,000-device backlogs, a whole key rotation) and the CLI over a local stack's HTTP, which make test runs
FAST_TIERS := tests/unit tests/service tests/cli
LONG_RUNS := tests/service/test_faults.py tests/service/test_model_based.py tests/cli/test_cli_over_http.py \
	tests/service/test_hostile_input.py::test_no_route_answers_hostile_input_with_a_5xx_or_off_contract \
	tests/service/test_sweep_budget.py::test_a_backlog_drains_over_runs_stopped_by_their_budget_each_device_released_and_announced_once \
	tests/service/test_sweep_budget.py::test_a_backlog_of_50000_silent_devices_drains_in_a_bounded_number_of_runs_each_released_once \
	tests/service/test_sweep_budget.py::test_releases_go_in_batches_of_24_and_notifications_ten_to_a_call \
	tests/service/test_key_rotation.py::test_a_whole_rotation_refuses_no_check_in_and_leaves_no_lease_unverifiable
test-fast: $(STAMP)
	$(PY) -m mypy
	$(PY) -m pytest -n auto $(FAST_TIERS) $(foreach f,$(LONG_RUNS),--deselect $(f))

## make package: the deployment package (zip) and its template in out/package, checked by cfn-lint and
## checkov (infra/lint.py); the same package deploys any stage
package: $(STAMP) $(CHECKOV_STAMP)
	$(PY) -m infra.build --out out/package
	$(PY) -m infra.lint out/package

## make rotate-key STAGE=prod STEP=add|activate|retire: one step of the lease-signing key's rotation, refused while too early (docs/DEPLOY.md)
rotate-key: $(STAMP)
	@test -n "$(STEP)" || { echo "set STEP=add, activate or retire: docs/DEPLOY.md"; exit 2; }
	$(PY) -m infra.rotate_key --stage $(STAGE) $(if $(REGION),--region $(REGION)) $(STEP)

## make deploy STAGE=prod BUCKET=... ALARM_TOPIC_ARN=... OPERATOR_KEY_SHA256=... [DOMAIN_NAME=... CERTIFICATE_ARN=...]:
## create or update the stack licensing-STAGE (docs/DEPLOY.md names every variable)
STAGE ?= prod
DEPLOY_VARIABLES := ALARM_TOPIC_ARN OPERATOR_KEY_SHA256 EXISTING_DATA LOG_RETENTION_DAYS DOMAIN_NAME \
	CERTIFICATE_ARN HOSTED_ZONE_ID DEPLOYMENT_TYPE MANAGE_API_GATEWAY_ACCOUNT API_RATE_LIMIT API_BURST_LIMIT SWEEP_BATCH \
	EXISTING_USER_POOL_ID ADVANCED_SECURITY SES_IDENTITY_ARN EMAIL_FROM DEVICE_DOMAIN_NAME DEVICE_API_RATE_LIMIT \
	DEVICE_API_BURST_LIMIT ACTIVATION_RATE_LIMIT ACTIVATION_BURST_LIMIT DEVICE_FRONT_DOOR
deploy: package
	@test -n "$(BUCKET)" || { echo "set BUCKET (an S3 bucket for the code and the template): docs/DEPLOY.md"; exit 2; }
	$(PY) -m infra.deploy --stage $(STAGE) --bucket $(BUCKET) \
		$(foreach v,$(DEPLOY_VARIABLES),$(if $(filter-out undefined,$(origin $(v))),$(v)=$($(v))))

## make replay STAGE=prod: run again the scheduled runs kept in the failures queues (docs/DEPLOY.md)
replay: $(STAMP)
	$(PY) -m infra.replay --stage $(STAGE)

## make restore STAGE=prod INTO=prod2 AT=2026-11-30T09:00:00+00:00: a stage's data at one point in time
## as a new stage (docs/DEPLOY.md, Restore)
restore: $(STAMP)
	@test -n "$(INTO)" -a -n "$(AT)" || { echo "set INTO (the new stage) and AT (the point in time)"; exit 2; }
	$(PY) -m infra.restore --stage $(STAGE) --into $(INTO) --at $(AT)

## make drill: the deploy drill of issue 12 alone (package, translate, create on moto, use, delete, create again)
drill: $(STAMP)
	$(PY) -m pytest tests/infra/test_deploy_drill.py

## make bench: the benchmarks behind docs/PERFORMANCE.md (--devices 100000 for the issue's fleet)
bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## make typecheck: mypy on the service (chalicelib and app.py, as pyproject.toml says), with pydantic's plugin
typecheck: $(STAMP)
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) out .pytest_cache .ruff_cache .mypy_cache

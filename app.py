"""The Chalice app: wiring only. Routes live in blueprints under ``chalicelib/api``; the rules
they call live in ``chalicelib/services`` and ``chalicelib/domain``."""

from chalice import ConvertToMiddleware, Cron, Rate

from chalicelib import clock
from chalicelib.api import accounts, console, function_url, loadmaster, operator, public, tenant_admin
from chalicelib.api.http import contract_error_bodies
from chalicelib.budget import Budget
from chalicelib.observability import begin_invocation, flush_metrics, log_keys, logger
from chalicelib.services import accounts as account_service
from chalicelib.services import sweeps
from chalicelib.settings import Settings
from chalicelib.startup import configure, configured

# Cold start: the settings from the environment, validated once (a wrong variable fails the
# container with its name). A host that configured the service itself (the tests, the
# benchmarks, the local stack) keeps its own settings, whether it imports this before or after.
if not configured():
    configure(Settings.from_environ())

# Reads the function URL's payload 2.0 events as well (the LoadMasters' optional front door).
app = function_url.App(app_name="metered-licensing", configure_logs=False)

app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))


@app.middleware("all")
def publish_metrics(event, get_response):
    begin_invocation()
    try:
        return get_response(event)
    finally:
        flush_metrics()


@app.middleware("http")
def request_context(event, get_response):
    # Every log line of the request carries its id (API Gateway's, else Lambda's) and path.
    request_id = (event.context or {}).get("requestId") or getattr(event.lambda_context, "aws_request_id", None)
    log_keys(request_id=request_id, path=event.path)
    return get_response(event)


# Innermost: Chalice's own answers outside the views (405 for a known path's unknown method) in
# the contract's error body.
app.register_middleware(contract_error_bodies, "http")

for blueprint in (public, operator, tenant_admin, loadmaster, accounts, console):
    app.register_blueprint(blueprint.bp)


# The scheduled functions take "now" from their event, so a replayed or late event acts as of
# its own time, and tests and operators can run any of them at a chosen time. Each stops
# starting work before Lambda's deadline (its context's remaining time, see chalicelib.budget);
# what is left is the next run's.


@app.schedule(Rate(1, unit=Rate.HOURS), name="expire_trials")
def expire_trials(event):
    return sweeps.expire_trials(clock.parse_rfc3339(event.time), Budget.of(event.context))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="block_unconfirmed")
def block_unconfirmed(event):
    return sweeps.block_unconfirmed(clock.parse_rfc3339(event.time), Budget.of(event.context))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="deactivate_silent")
def deactivate_silent(event):
    return sweeps.deactivate_silent(clock.parse_rfc3339(event.time), Budget.of(event.context))


# At five past every hour (a rate would drift with the deploy time): the reading stands for the
# hour just begun, and the hours since the last one metered are caught up.
@app.schedule(Cron(5, "*", "*", "*", "?", "*"), name="meter_usage")
def meter_usage(event):
    return sweeps.meter_usage(clock.parse_rfc3339(event.time), Budget.of(event.context))


@app.schedule(Rate(1, unit=Rate.HOURS), name="purge_unconfirmed")
def purge_unconfirmed(event):
    # The seed's 24-hour rule: registrations never confirmed are deleted.
    return account_service.purge_unconfirmed(clock.parse_rfc3339(event.time), Budget.of(event.context))

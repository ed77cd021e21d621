"""The Chalice app: wiring only. Routes live in blueprints under ``chalicelib/api``; the rules
they call live in ``chalicelib/services`` and ``chalicelib/domain``."""

from chalice import Chalice, ConvertToMiddleware

from chalicelib.api import loadmaster, operator, public, tenant_admin
from chalicelib.observability import flush_metrics, logger

app = Chalice(app_name="metered-licensing", configure_logs=False)

app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))


@app.middleware("http")
def request_context(event, get_response):
    # Every log line of the request carries its id (API Gateway's, else Lambda's) and path.
    request_id = (event.context or {}).get("requestId") or getattr(event.lambda_context, "aws_request_id", None)
    logger.append_keys(request_id=request_id, path=event.path)
    try:
        return get_response(event)
    finally:
        flush_metrics()


for blueprint in (public, operator, tenant_admin, loadmaster):
    app.register_blueprint(blueprint.bp)

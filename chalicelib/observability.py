"""The one place that owns the powertools Logger and the metrics. ``app.py`` wires them into every
route and schedule by middleware; other modules import them from here.

Lambda runs one invocation at a time per container, but ``chalice local`` (the local stack) and
the in-process concurrency tests serve requests on threads of one process. So what belongs to an
invocation is kept per thread, as Lambda keeps it per container: the metrics counted so far (a
provider of their own; powertools' ``Metrics`` shares one dict between instances) and the log keys
of the request (``thread_safe_append_keys``: a context variable per thread).
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

SERVICE = "licensing"
_namespace = "MeteredLicensing"  # configure_metrics() sets the stage's

# The service name differs from the Chalice app name: the same name prints every line twice.
logger = Logger(service=SERVICE)

__all__ = ["MetricUnit", "begin_invocation", "configure_metrics", "count", "flush_metrics", "log_keys", "logger"]


class _InvocationMetrics(threading.local):
    def __init__(self) -> None:
        self.provider = AmazonCloudWatchEMFProvider(namespace=_namespace, service=SERVICE)


_metrics = _InvocationMetrics()


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Add to a counter metric; dimensions make one metric per value (e.g. per error code)."""
    if dimensions:
        # A single-metric EMF line keeps this call's dimensions apart from the others'.
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=_namespace,
            default_dimensions={"service": SERVICE, **dimensions},
        ):
            return
    _metrics.provider.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    """Publish what this invocation counted; say nothing when it counted nothing."""
    if _metrics.provider.metric_set:
        _metrics.provider.flush_metrics()


def log_keys(**keys: object) -> None:
    """Keys every later log line of this invocation carries (request id, tenant, device)."""
    logger.thread_safe_append_keys(**keys)


def configure_metrics(namespace: str) -> None:
    """The CloudWatch namespace of every metric from now on (``POWERTOOLS_METRICS_NAMESPACE``)."""
    global _namespace
    _namespace = namespace


def begin_invocation() -> None:
    """Forget the previous invocation's log keys and uncounted metrics on this thread."""
    logger.thread_safe_clear_keys()
    _metrics.provider.clear_metrics()
    _metrics.provider.namespace = _namespace

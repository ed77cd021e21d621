"""The one place that owns the powertools Logger and Metrics. ``app.py`` wires them into every
route and schedule by middleware; other modules import them from here."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

# The service name differs from the Chalice app name: the same name prints every line twice.
logger = Logger(service="licensing")
metrics = Metrics(namespace="MeteredLicensing", service="licensing")

__all__ = ["MetricUnit", "count", "flush_metrics", "logger", "metrics"]


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Add to a counter metric; dimensions make one metric per value (e.g. per error code)."""
    if dimensions:
        # A single-metric EMF line keeps this call's dimensions apart from the others'.
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace,
                           default_dimensions={**metrics.default_dimensions, **dimensions}):
            return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    """Publish what this invocation counted; say nothing when it counted nothing."""
    if metrics.metric_set:
        metrics.flush_metrics()

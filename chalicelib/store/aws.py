"""boto3 clients for the services beside DynamoDB (EventBridge, Secrets Manager, Cognito), each
with the deadlines a 30-second function can afford: boto3's defaults (60 s to read, legacy
retries) would let one slow call outlive the invocation. DynamoDB's deadlines are PynamoDB's
(``store/models.py``): 2 s to connect, 5 s to read."""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from chalicelib.settings import get_settings

# Connect and read deadlines, and at most three attempts (the first and two retries, with the
# standard mode's jittered backoff): the worst call is bounded at about 3 x (2 + 5) s.
OUTBOUND = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3, "mode": "standard"})


def client(service: str) -> Any:
    """A client of ``service`` in the configured region and endpoint, with ``OUTBOUND``'s
    deadlines. Imported on first use: the first call pays for boto3, not the cold start."""
    import boto3

    settings = get_settings()
    return boto3.client(service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=OUTBOUND)

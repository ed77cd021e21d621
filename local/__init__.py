"""Running the service on this machine: ``python -m local.stack`` (``make run``)."""

"""Running the service on this machine: ``python -m local.stack`` (``make run``).

- ``stack``: the ``LocalStack`` that puts the parts together, and the command line;
- ``environment``: the settings of the local stack, the tests and the benchmarks;
- ``moto``: moto's server, each request atomic as in DynamoDB;
- ``api``: the ``chalice local`` process: how it is served, started, asked and stopped;
- ``demo``: the demo tenant, made through the operator API;
- ``schedules``: the scheduled functions, run once (``sweep``) or on the wall clock;
- ``banner``: what the stack prints when it is up.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STAGE = "dev"


def project_on_path() -> None:
    """``app`` and ``chalicelib`` are importable: they sit at the project's root, beside this
    package, which the editable install (``cli``'s ``licensing sweep``) does not put on the path."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# This package is the checkout's own tooling: it works on the checkout's app.
project_on_path()

"""Benchmarks of the service against its DynamoDB floor (issue 7): ``python -m bench`` (``make bench``).

Every figure comes from one run of one process (cold start adds subprocesses, the package size a
``chalice package``) against an in-process moto. Counts of DynamoDB calls are exact and also
guarded by ``tests/bench``; times are this machine's and only their ratios mean anything.

Modules, in the order the runner prints them:

- ``check_in``: calls per check-in, the item's size, index writes per check-in over simulated hours;
- ``endpoints``: calls per activation, and every endpoint and schedule run once to show which Scan;
- ``fleet``: a fleet written with batch writes, then the sweeps (vs a Scan) and the meter;
- ``overhead``: check-ins per second through the app vs the same UpdateItem sent with boto3;
- ``cold_start``: ``import app`` vs ``import boto3`` and a client, in fresh interpreters; package size;
- ``cost``: $ per 1 000 device-months from the figures above and the list prices in ``cost.PRICES``.

``harness`` holds what they share: the environment, moto, the app's test client, the call log.
"""

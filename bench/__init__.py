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

What they share, by what it does: ``world`` (the app's settings, an in-process moto with the
tables, the app behind Chalice's test client, tenants and LoadMasters), ``calls`` (the log of every
AWS call), ``sizes`` (DynamoDB's item sizes, write units and index writes), ``capture`` (stdout,
where the app logs and publishes metrics) and ``moto_scale`` (moto's transactions at fleet scale).
"""

"""``licensing simulate``: a fleet of simulated LoadMasters against a running stack.

Each LoadMaster has its own MAC and IP address (random per run, so runs do not collide), and
does what a real one does: asks which license types it may take, activates one (with an
``Idempotency-Key``), confirms, then checks in ``--rounds`` times, carrying the fresh device
token of each answer. A fraction ``--silent`` of the granted ones stops checking in after the
confirmation (the ``deactivate_silent`` sweep reclaims them later). A bounded thread pool runs
them; every request goes to ``--url`` and nowhere else.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import click

from cli import output
from cli.context import Env, pass_env
from cli.http import ApiError, Client, Credential, Unreachable

MAX_FLEET = 10_000
IMAGE = "LoadMaster-VLM-7.2.47-SPLA.ova"
VERSION = "7.2.47"
LM_PORT = 443


@dataclass
class LoadMaster:
    index: int
    mac: str
    ip: str
    port: int = LM_PORT
    outcome: str = "pending"  # granted | refused | failed
    code: str | None = None  # why it was refused, or why its check-ins stopped
    device_id: str | None = None
    lic_type_id: str | None = None
    confirmed: bool = False
    silent: bool = False
    check_ins_ok: int = 0
    check_ins_failed: int = 0
    stopped: bool = False  # a check-in was refused: it stops checking in
    _token: str | None = None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


@dataclass
class Outcome:
    """One request's result for the summary: an answer, a refusal (4xx), or a failure (5xx or
    no answer at all)."""

    ok: bool
    code: str | None = None
    failure: bool = False
    body: Any = None


def fleet_addresses(count: int, rng: Callable[[int], bytes] = secrets.token_bytes) -> list[tuple[str, str]]:
    """``count`` distinct (MAC, IP) pairs: locally administered MACs ``02:rr:rr:rr:ii:ii`` and
    consecutive 10.0.0.0/8 addresses from a random start, both random per run."""
    run = rng(3)
    start = int.from_bytes(rng(3), "big") % ((1 << 24) - count)
    pairs = []
    for i in range(count):
        mac = "02:" + ":".join(f"{b:02x}" for b in run) + f":{i >> 8:02x}:{i & 0xFF:02x}"
        ip = str(ipaddress.IPv4Address((10 << 24) + start + i))
        pairs.append((mac, ip))
    return pairs


class Fleet:
    def __init__(self, client: Client, activation_key: str, *, sku: str, lic_type_id: str | None, run_id: str) -> None:
        self.client = client
        self.activation = Credential.activation(activation_key)
        self.sku = sku
        self.lic_type_id = lic_type_id
        self.run_id = run_id
        self.failures: Counter[str] = Counter()  # 5xx or no answer, by code
        self.confirm_refused: Counter[str] = Counter()
        self.check_in_refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, counter: Counter[str], code: str | None) -> None:
        with self._lock:
            counter[code or "UNKNOWN"] += 1

    def _request(
        self, method: str, path: str, credential: Credential, body: Any = None, headers: dict[str, str] | None = None
    ) -> Outcome:
        try:
            return Outcome(True, body=self.client.call(method, path, credential=credential, json=body, headers=headers))
        except ApiError as e:
            return Outcome(False, e.code, failure=e.status >= 500)
        except Unreachable:
            return Outcome(False, "UNREACHABLE", failure=True)

    def _note_failure(self, outcome: Outcome) -> None:
        if outcome.failure:
            self._count(self.failures, outcome.code)

    def describe(self, lm: LoadMaster) -> dict[str, Any]:
        return {"mac": lm.mac, "ip": lm.ip, "port": lm.port, "sku": self.sku, "image": IMAGE, "version": VERSION}

    def activate(self, lm: LoadMaster) -> LoadMaster:
        """License types, activation, confirmation."""
        offered = self._request("POST", "/v1/activation/license-types", self.activation, self.describe(lm))
        if not offered.ok:
            return self._refused(lm, offered)
        types = (offered.body or {}).get("license_types") or []
        lic_type_id = self.lic_type_id or _pick(types)
        if lic_type_id is None:
            lm.outcome, lm.code = "refused", "NO_LICENSE_TYPE_OFFERED"
            return lm
        activated = self._request(
            "POST",
            "/v1/activations",
            self.activation,
            {**self.describe(lm), "lic_type_id": lic_type_id},
            headers={"Idempotency-Key": f"sim-{self.run_id}-{lm.index}"},
        )
        if not activated.ok:
            return self._refused(lm, activated)
        lm.outcome, lm.lic_type_id = "granted", lic_type_id
        lm.device_id, lm._token = activated.body["device_id"], activated.body["device_token"]
        confirmed = self._request(
            "POST", f"/v1/devices/{quote(lm.device_id, safe='')}/confirm", Credential.device(lm._token)
        )
        if confirmed.ok:
            lm.confirmed = True
        else:
            self._note_failure(confirmed)
            self._count(self.confirm_refused, confirmed.code)
        return lm

    def _refused(self, lm: LoadMaster, outcome: Outcome) -> LoadMaster:
        self._note_failure(outcome)
        lm.outcome = "failed" if outcome.failure else "refused"
        lm.code = outcome.code
        return lm

    def check_in(self, lm: LoadMaster) -> LoadMaster:
        assert lm.device_id and lm._token
        body = {"mac": lm.mac, "ip": lm.ip, "port": lm.port, "version": VERSION}
        answer = self._request(
            "POST", f"/v1/devices/{quote(lm.device_id, safe='')}/check-ins", Credential.device(lm._token), body
        )
        if answer.ok:
            lm.check_ins_ok += 1
            lm._token = (answer.body or {}).get("device_token") or lm._token
        else:
            self._note_failure(answer)
            self._count(self.check_in_refused, answer.code)
            lm.check_ins_failed += 1
            lm.code = answer.code
            lm.stopped = not answer.failure  # refused (deactivated, blocked, unknown): a real LM stops too
        return lm


def _pick(types: list[dict[str, Any]]) -> str | None:
    """The first type with a free instance, else the first (whose refusal the summary shows)."""
    for t in types:
        if (t.get("available") or 0) > 0:
            return t.get("lic_type_id")
    return types[0].get("lic_type_id") if types else None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option(
    "--count", "-n", type=click.IntRange(1, MAX_FLEET), default=10, show_default=True, help="LoadMasters in the fleet."
)
@click.option(
    "--rounds",
    "-k",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Check-in rounds after the activations.",
)
@click.option(
    "--silent",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of the granted LoadMasters that stop checking in after confirming.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="LoadMasters talking at once (threads).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0, 3600),
    default=0.0,
    show_default=True,
    help="Seconds to wait between check-in rounds.",
)
@click.option("--sku", default="VLM-MAX-SPLA", show_default=True, help="The LoadMasters' SKU.")
@click.option(
    "--type",
    "lic_type_id",
    metavar="LIC_TYPE_ID",
    help="The license type to take (default: the first offered with a free instance).",
)
@click.option(
    "--activation-key",
    envvar="LICENSING_ACTIVATION_KEY",
    show_envvar=True,
    metavar="KEY",
    help="The tenant's activation key. Prefer the environment variable: a flag lands in the shell history.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --url that is not this machine (the fleet takes real instances there).",
)
@pass_env
def simulate(
    env: Env,
    count: int,
    rounds: int,
    silent: float,
    concurrency: int,
    interval: float,
    sku: str,
    lic_type_id: str | None,
    activation_key: str | None,
    allow_remote: bool,
) -> None:
    """Run a fleet of simulated LoadMasters against a running stack.

    Each one lists the license types, activates (with an Idempotency-Key), confirms and checks
    in --rounds times. The summary counts grants, refusals by error code, check-ins and the
    request rate; it exits 1 when the service failed (5xx or no answer), 0 otherwise.

        licensing simulate --count 20 --rounds 3 --silent 0.25
    """
    if not activation_key:
        raise click.UsageError(
            "simulate needs the tenant's activation key: set LICENSING_ACTIVATION_KEY (or --activation-key)"
        )
    client = env.client
    if not allow_remote and not is_loopback(client.host):
        raise click.UsageError(
            f"{env.url} is not this machine: the fleet would take real instances there "
            "(add --allow-remote if that is what you want)"
        )
    client.send("GET", "/v1/health")  # Unreachable ends it here, before any thread starts
    run_id = secrets.token_hex(4)
    fleet = Fleet(client, activation_key, sku=sku, lic_type_id=lic_type_id, run_id=run_id)
    machines = [LoadMaster(i, mac, ip) for i, (mac, ip) in enumerate(fleet_addresses(count))]

    sent_before = client.requests_sent
    started = time.monotonic()
    err = click.get_text_stream("stderr")
    with (
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="loadmaster") as pool,
        click.progressbar(length=count * (1 + rounds), label=f"{count} LoadMasters", file=err, show_pos=True) as bar,
    ):

        def run(step: Callable[[LoadMaster], LoadMaster], who: Iterable[LoadMaster]) -> None:
            futures = [pool.submit(step, lm) for lm in who]
            for future in as_completed(futures):
                future.result()
                bar.update(1)

        run(fleet.activate, machines)
        granted = [lm for lm in machines if lm.outcome == "granted"]
        for lm in granted[len(granted) - int(silent * len(granted) + 0.5) :]:
            lm.silent = True
        bar.update(rounds * sum(1 for lm in machines if lm.outcome != "granted" or lm.silent))
        for round_no in range(rounds):
            if round_no and interval:
                time.sleep(interval)
            talking = [lm for lm in granted if not lm.silent and not lm.stopped]
            bar.update(sum(1 for lm in granted if not lm.silent and lm.stopped))
            run(fleet.check_in, talking)
    elapsed = time.monotonic() - started
    sent = client.requests_sent - sent_before

    summary = _summary(
        env.url,
        machines,
        fleet,
        sku=sku,
        rounds=rounds,
        concurrency=concurrency,
        requests=sent,
        elapsed=elapsed,
        run_id=run_id,
    )
    env.show(summary, _print_summary)
    if summary["failures"]:
        raise click.exceptions.Exit(1)


def _summary(
    url: str,
    machines: list[LoadMaster],
    fleet: Fleet,
    *,
    sku: str,
    rounds: int,
    concurrency: int,
    requests: int,
    elapsed: float,
    run_id: str,
) -> dict[str, Any]:
    refused = Counter(lm.code for lm in machines if lm.outcome != "granted")
    return {
        "url": url,
        "run_id": run_id,
        "fleet": len(machines),
        "sku": sku,
        "rounds": rounds,
        "concurrency": concurrency,
        "granted": sum(lm.outcome == "granted" for lm in machines),
        "confirmed": sum(lm.confirmed for lm in machines),
        "confirm_refused": dict(fleet.confirm_refused),
        "refused": dict(sorted(refused.items())),
        "silent": sum(lm.silent for lm in machines),
        "check_ins": {
            "ok": sum(lm.check_ins_ok for lm in machines),
            "failed": sum(lm.check_ins_failed for lm in machines),
            "failed_by_code": dict(sorted(fleet.check_in_refused.items())),
        },
        "failures": sum(fleet.failures.values()),
        "failures_by_code": dict(sorted(fleet.failures.items())),
        "requests": requests,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1) if elapsed > 0 else None,
        "devices": [lm.public() for lm in machines],
    }


def _print_summary(s: dict[str, Any]) -> None:
    def by_code(counts: dict[str, int]) -> str:
        return ", ".join(f"{code} {n}" for code, n in counts.items())

    refused = sum(s["refused"].values())
    lines = [
        f"Fleet of {s['fleet']} LoadMasters ({s['sku']}) against {s['url']}, {s['rounds']} check-in rounds, "
        f"{s['concurrency']} at once",
        f"  granted           {s['granted']}  (confirmed {s['confirmed']})",
        f"  refused           {refused}" + (f"  ({by_code(s['refused'])})" if refused else ""),
        f"  silent            {s['silent']}",
        f"  check-ins ok      {s['check_ins']['ok']}",
        f"  check-ins failed  {s['check_ins']['failed']}"
        + (f"  ({by_code(s['check_ins']['failed_by_code'])})" if s["check_ins"]["failed"] else ""),
    ]
    if s["confirm_refused"]:
        lines.append(f"  confirm refused   {by_code(s['confirm_refused'])}")
    if s["failures"]:
        lines.append(f"  service failures  {s['failures']}  ({by_code(s['failures_by_code'])})")
    rate = f"{s['requests_per_s']} requests/s" if s["requests_per_s"] is not None else "-"
    lines.append(f"  requests          {s['requests']} in {s['elapsed_s']:.2f} s  ({rate})")
    for line in lines:
        click.echo(line)
    if s["failures"]:
        output.warn("The service failed some requests (5xx or no answer): see its log.")


COMMANDS = (simulate,)

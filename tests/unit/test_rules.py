"""The pure rules, without moto: how far an overage policy lets a pool grow, a tenant's state as
of a moment, the rate limits' windows, the silent-deadline buckets, MAC spelling, and the month
of usage billed from the hourly readings. Property-based where a rule holds for every input;
seeded (``derandomize``), so a failure prints the same example and its ``@reproduce_failure``
blob every run."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from chalicelib.api.schemas import Mac
from chalicelib.domain.model import Contract, LicenseType, OveragePolicy, Tenant, TenantState
from chalicelib.domain.windows import Window
from chalicelib.services import usage
from chalicelib.settings import get_settings
from chalicelib.store import devices as device_store
from chalicelib.store.usage import HourOfUse

SEEDED = settings(derandomize=True, database=None, print_blob=True, max_examples=200, deadline=None)
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
FACTOR = {
    OveragePolicy.NO_OVERAGE: Fraction(1),
    OveragePolicy.ALLOW_1_25X: Fraction(5, 4),
    OveragePolicy.ALLOW_1_5X: Fraction(3, 2),
    OveragePolicy.ALLOW_2X: Fraction(2),
}
capacities = st.integers(min_value=0, max_value=10_000_000)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


# Overage policies: max_in_use -------------------------------------------------------------------


@SEEDED
@given(policy=st.sampled_from(list(FACTOR)), capacity=capacities)
def test_a_policy_allows_its_factor_of_the_capacity_rounded_up_to_a_whole_instance(policy, capacity):
    assert policy.max_in_use(capacity) == math.ceil(FACTOR[policy] * capacity)


@SEEDED
@given(capacity=st.integers(min_value=1, max_value=10_000_000))
def test_every_overage_policy_allows_at_least_one_instance_past_a_capacity_of_one_or_more(capacity):
    for policy in (OveragePolicy.ALLOW_1_25X, OveragePolicy.ALLOW_1_5X, OveragePolicy.ALLOW_2X):
        assert policy.max_in_use(capacity) > capacity


@SEEDED
@given(capacity=capacities)
def test_the_policies_are_ordered_and_grow_with_the_capacity(capacity):
    limits = [p.max_in_use(capacity) for p in FACTOR]
    assert limits == sorted(limits) and limits[0] == capacity
    assert all(p.max_in_use(capacity + 1) >= p.max_in_use(capacity) for p in FACTOR)


@pytest.mark.parametrize(
    ("policy", "capacity", "limit"),
    [
        (OveragePolicy.ALLOW_1_25X, 3, 4),  # 3.75: the README's example, never silently 3
        (OveragePolicy.ALLOW_1_25X, 1, 2),
        (OveragePolicy.ALLOW_1_25X, 4, 5),
        (OveragePolicy.ALLOW_1_5X, 3, 5),
        (OveragePolicy.ALLOW_2X, 3, 6),
        (OveragePolicy.NO_OVERAGE, 3, 3),
        (OveragePolicy.ALLOW_2X, 0, 0),  # a pool of 0 holds none, whatever its policy
    ],
    ids=str,
)
def test_overage_limits_of_the_documentation(policy, capacity, limit):
    assert policy.max_in_use(capacity) == limit


@SEEDED
@given(capacity=capacities)
def test_always_allow_has_no_limit(capacity):
    assert OveragePolicy.ALWAYS_ALLOW.max_in_use(capacity) is None


@SEEDED
@given(capacity=st.integers(0, 1000), in_use=st.integers(0, 2000))
def test_a_pool_counts_what_is_free_and_what_is_overage(capacity, in_use):
    pool = LicenseType("t1", "lt1", "Max", "VLM-MAX-SPLA", capacity, in_use)

    assert pool.available + min(in_use, capacity) == capacity
    assert pool.overage + min(in_use, capacity) == in_use


# A tenant's state as of a moment: effective_state -----------------------------------------------


def tenant(state: TenantState, **fields) -> Tenant:
    return Tenant("t1", "Acme", "a@acme.example", state, NOW - timedelta(days=60), **fields)


offsets = st.integers(min_value=-400 * 86400, max_value=400 * 86400).map(lambda s: timedelta(seconds=s))


@SEEDED
@given(ends=offsets, now=offsets)
def test_a_trial_is_expired_from_its_end_on(ends, now):
    trial = tenant(TenantState.TRIAL, trial_expires_at=NOW + ends)

    expected = TenantState.EXPIRED if now >= ends else TenantState.TRIAL
    assert trial.effective_state(NOW + now) == expected


@SEEDED
@given(ends=offsets, now=offsets)
def test_a_contract_leaves_the_tenant_unlicensed_from_its_end_on(ends, now):
    licensed = tenant(TenantState.LICENSED, contract_id="C-1", contract_ends_at=NOW + ends)

    expected = TenantState.UNLICENSED if now >= ends else TenantState.LICENSED
    assert licensed.effective_state(NOW + now) == expected


def test_a_contract_without_an_end_licenses_for_ever():
    licensed = tenant(TenantState.LICENSED, contract_id="C-1")

    assert licensed.effective_state(NOW + timedelta(days=100 * 365)) == TenantState.LICENSED


@SEEDED
@given(state=st.sampled_from(list(TenantState)), starts=offsets, now=offsets)
def test_a_contract_sold_to_start_later_licenses_every_state_but_terminated_from_its_start(state, starts, now):
    waiting = tenant(state, next_contract=Contract("C-2", 10, NOW + starts))

    effective = waiting.effective_state(NOW + now)

    if state == TenantState.TERMINATED:
        assert effective == TenantState.TERMINATED
    elif now >= starts:
        assert effective == TenantState.LICENSED
    else:
        assert effective == state


@SEEDED
@given(state=st.sampled_from([TenantState.UNLICENSED, TenantState.EXPIRED, TenantState.TERMINATED]), now=offsets)
def test_without_a_contract_to_come_an_unlicensed_expired_or_terminated_tenant_stays_so(state, now):
    assert tenant(state).effective_state(NOW + now) == state


# The rate limits' fixed windows -----------------------------------------------------------------


@SEEDED
@given(now=moments, seconds=st.sampled_from([60, 3600, 86400]) | st.integers(1, 10 * 86400))
def test_a_window_contains_now_and_says_how_long_until_it_ends(now, seconds):
    window = Window.of("mac#00:50:56:aa:bb:01", now, seconds)

    start = window.ends_at - timedelta(seconds=seconds)
    assert start <= now < window.ends_at
    assert start.timestamp() % seconds == 0
    assert window.key == f"mac#00:50:56:aa:bb:01#{int(start.timestamp())}"
    assert 1 <= window.retry_after_s <= seconds
    assert window.retry_after_s >= int((window.ends_at - now).total_seconds())


@SEEDED
@given(now=moments, seconds=st.integers(1, 86400), later=st.integers(0, 2 * 86400))
def test_two_moments_share_a_window_exactly_when_no_boundary_lies_between_them(now, seconds, later):
    first, second = Window.of("k", now, seconds), Window.of("k", now + timedelta(seconds=later), seconds)

    assert (first.key == second.key) == (now + timedelta(seconds=later) < first.ends_at)


def test_the_last_second_of_a_window_is_still_worth_a_retry_after_of_one():
    window = Window.of("k", datetime(2026, 11, 28, 20, 59, 59, 900_000, tzinfo=UTC), 3600)

    assert window.ends_at == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert window.retry_after_s == 1


# The silent-deadline buckets --------------------------------------------------------------------


@SEEDED
@given(now=moments, later=st.integers(0, 3 * 86400))
def test_the_silent_bucket_rounds_down_and_moves_once_per_width(now, later):
    width = get_settings().silent_bucket_s
    base = device_store.silent_bucket_base(now)

    assert base % width == 0 and base <= now.timestamp() < base + width
    then = device_store.silent_bucket_base(now + timedelta(seconds=later))
    assert then >= base and (then == base) == (now.timestamp() + later < base + width)


@SEEDED
@given(now=moments, silent_after_s=st.integers(60, 90 * 86400))
def test_a_silent_deadline_in_the_index_is_never_after_the_exact_one(now, silent_after_s):
    # silent_due (the index key) = bucket base + silent_after_s; silent_at = now + silent_after_s
    silent_due = device_store.silent_bucket_base(now) + silent_after_s

    assert silent_due <= now.timestamp() + silent_after_s < silent_due + get_settings().silent_bucket_s


# MAC addresses: one spelling --------------------------------------------------------------------


MAC = TypeAdapter(Mac)
octets = st.lists(st.integers(0, 255), min_size=6, max_size=6)


@SEEDED
@given(octets=octets, separator=st.sampled_from([":", "-", ""]), upper=st.booleans())
def test_every_spelling_of_a_mac_is_the_lower_case_colon_form(octets, separator, upper):
    canonical = ":".join(f"{o:02x}" for o in octets)
    spelled = separator.join(f"{o:02x}" for o in octets)

    assert MAC.validate_python(spelled.upper() if upper else spelled) == canonical


@SEEDED
@given(octets=octets)
def test_the_canonical_spelling_is_a_fixed_point(octets):
    canonical = ":".join(f"{o:02x}" for o in octets)

    assert MAC.validate_python(MAC.validate_python(canonical)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "00:50:56:aa:bb",
        "00:50:56:aa:bb:cc:dd",
        "00:50-56:aa:bb:cc",
        "00:50:56:aa:bb:cg",
        "0050.56aa.bbcc",
        "00:50:56:aa:bb:c",
        "",
        "::::::",
        "00 50 56 aa bb cc",
    ],
)
def test_what_is_not_a_mac_is_refused(text):
    with pytest.raises(ValidationError):
        MAC.validate_python(text)


# The month of usage billed from the hourly readings ---------------------------------------------


def hours_of(readings: list[tuple[int, str, int, int]]) -> list[HourOfUse]:
    return [
        HourOfUse(NOW + timedelta(hours=h), lic_type_id, in_use, capacity)
        for h, lic_type_id, in_use, capacity in readings
    ]


@pytest.fixture
def month_of(monkeypatch):
    """``usage.month_of_use`` over readings and pools given here: its two reads are stubbed, so
    only the aggregation runs."""

    def run(readings, pools=()):
        monkeypatch.setattr(usage.store, "hours_of_month", lambda tenant_id, month: hours_of(readings))
        monkeypatch.setattr(usage.tenant_store, "list_license_types", lambda tenant_id: list(pools))
        return usage.month_of_use(tenant(TenantState.LICENSED), "2026-11")

    return run


def test_a_month_sums_instance_hours_keeps_the_peak_and_the_last_capacity(month_of):
    pool = LicenseType("t1", "lt1", "Max", "VLM-MAX-SPLA", 5, 0)

    month = month_of([(0, "lt1", 2, 3), (1, "lt1", 5, 4), (2, "lt1", 1, 5)], [pool])

    [line] = month.license_types
    assert (line.instance_hours, line.peak_instances, line.capacity, line.overage_hours) == (8, 5, 5, 1)
    assert (line.name, line.sku) == ("Max", "VLM-MAX-SPLA")


def test_a_deleted_pool_is_still_billed_under_its_id(month_of):
    month = month_of([(0, "lt-gone", 3, 3)])

    [line] = month.license_types
    assert (line.lic_type_id, line.name, line.sku, line.instance_hours) == ("lt-gone", "(deleted)", "", 3)


readings = st.lists(
    st.tuples(st.integers(0, 743), st.sampled_from(["lt1", "lt2", "lt3"]), st.integers(0, 50), st.integers(0, 50)),
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(SEEDED, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the stubs are set per example
@given(rows=readings.map(sorted))
def test_each_pool_is_billed_exactly_what_its_hours_add_up_to(month_of, rows):
    month = month_of(rows)

    assert {line.lic_type_id for line in month.license_types} == {r[1] for r in rows}
    for line in month.license_types:
        mine = [r for r in rows if r[1] == line.lic_type_id]
        assert line.instance_hours == sum(r[2] for r in mine)
        assert line.peak_instances == max(r[2] for r in mine)
        assert line.capacity == mine[-1][3]
        assert line.overage_hours == sum(max(r[2] - r[3], 0) for r in mine)
        assert 0 <= line.overage_hours <= line.instance_hours
    assert month.hours == hours_of(rows)


@SEEDED
@given(name=st.text(max_size=20))
def test_a_csv_cell_never_starts_a_formula(name):
    cell = usage.csv_cell(name)

    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (name, "'" + name)


def test_the_csv_has_one_line_per_pool_and_month(month_of):
    pool = LicenseType("t1", "lt1", "=HYPERLINK(1)", "VLM-MAX-SPLA", 5, 0)
    month = month_of([(0, "lt1", 2, 5)], [pool])

    lines = usage.as_csv([month, replace(month, tenant_name="Other")]).splitlines()

    assert lines[0] == ",".join(usage.CSV_COLUMNS)
    assert len(lines) == 3
    assert "'=HYPERLINK(1)" in lines[1] and lines[2].startswith("t1,Other,2026-11,lt1,")

"""Metered usage for billing: a month per license type, from the hourly records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from chalicelib.domain.model import Tenant
from chalicelib.store import tenants as tenant_store
from chalicelib.store import usage as store
from chalicelib.store.usage import HourOfUse


@dataclass(frozen=True)
class LicenseTypeUsage:
    lic_type_id: str
    name: str
    sku: str
    instance_hours: int  # the sum over the month's metered hours of the instances in use
    peak_instances: int
    capacity: int  # as of the month's last metered hour
    overage_hours: int  # the sum of the instances in use beyond capacity


@dataclass(frozen=True)
class MonthOfUse:
    tenant_id: str
    tenant_name: str
    month: str
    license_types: list[LicenseTypeUsage]
    hours: list[HourOfUse]


def month_of_use(tenant: Tenant, month: str) -> MonthOfUse:
    hours = store.hours_of_month(tenant.tenant_id, month)
    names = {t.lic_type_id: t for t in tenant_store.list_license_types(tenant.tenant_id)}
    by_type: dict[str, list[HourOfUse]] = {}
    for h in hours:
        by_type.setdefault(h.lic_type_id, []).append(h)
    summaries = []
    for lic_type_id, rows in by_type.items():
        known = names.get(lic_type_id)
        summaries.append(
            LicenseTypeUsage(
                lic_type_id=lic_type_id,
                name=known.name if known else "(deleted)",
                sku=known.sku if known else "",
                instance_hours=sum(r.in_use for r in rows),
                peak_instances=max(r.in_use for r in rows),
                capacity=rows[-1].capacity,
                overage_hours=sum(max(r.in_use - r.capacity, 0) for r in rows),
            )
        )
    return MonthOfUse(tenant.tenant_id, tenant.name, month, summaries, hours)


def every_tenant(month: str) -> list[MonthOfUse]:
    """The operator's billing export: every tenant that has a metered hour in the month."""
    found, cursor = [], None
    while True:
        tenants, cursor = tenant_store.list_tenants(100, cursor)
        found += [m for m in (month_of_use(t, month) for t in tenants) if m.hours]
        if cursor is None:
            return found


CSV_COLUMNS = ["tenant_id", "tenant_name", "month", *LicenseTypeUsage.__dataclass_fields__]


# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet shows as text: a leading quote stops it running a formula
    (a pool named ``=HYPERLINK(...)``). Numbers are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def as_csv(months: Iterable[MonthOfUse]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for m in months:
        for t in m.license_types:
            row = {"tenant_id": m.tenant_id, "tenant_name": m.tenant_name, "month": m.month, **asdict(t)}
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue()

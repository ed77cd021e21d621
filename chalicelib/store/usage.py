"""Hourly usage records for billing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from chalicelib.domain.model import LicenseType
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import UsageItem
from chalicelib.store.transaction import failed_condition


@dataclass(frozen=True)
class HourOfUse:
    hour: datetime
    lic_type_id: str
    in_use: int
    capacity: int


def hour_key(hour: datetime, lic_type_id: str) -> str:
    return f"{hour.strftime('%Y-%m-%dT%H')}#{lic_type_id}"


@dynamodb
def record(lic_type: LicenseType, hour: datetime, now: datetime) -> bool:
    """Write the hour's record once; False if the hour was already metered (invariant 5)."""
    item = UsageItem(lic_type.tenant_id, hour_key(hour, lic_type.lic_type_id), lic_type_id=lic_type.lic_type_id,
                     in_use=lic_type.in_use, capacity=lic_type.capacity, metered_at=now)
    try:
        item.save(condition=UsageItem.hour_type.does_not_exist())
    except PutError as e:
        if failed_condition(e):
            return False
        raise
    return True


@dynamodb
def hours_of_month(tenant_id: str, month: str) -> list[HourOfUse]:
    """The tenant's metered hours of ``month`` (``YYYY-MM``), in time order: one query."""
    return [HourOfUse(datetime.strptime(i.hour_type.split("#", 1)[0], "%Y-%m-%dT%H").replace(tzinfo=UTC),
                      i.lic_type_id, int(i.in_use), int(i.capacity))
            for i in UsageItem.query(tenant_id, UsageItem.hour_type.startswith(f"{month}-"))]

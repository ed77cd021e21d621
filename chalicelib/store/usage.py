"""Hourly usage records for billing, and each license type's mark of the last hour metered
(``metered_through``, on the type's own item: the meter's scan reads it with the type)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from chalicelib.domain.model import LicenseType
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import LicenseTypeItem, UsageItem
from chalicelib.store.tenants import license_type_from_item
from chalicelib.store.transaction import failed_condition, update_if


@dataclass(frozen=True)
class HourOfUse:
    hour: datetime
    lic_type_id: str
    in_use: int
    capacity: int


def hour_key(hour: datetime, lic_type_id: str) -> str:
    return f"{hour.strftime('%Y-%m-%dT%H')}#{lic_type_id}"


@dynamodb
def license_types_to_meter() -> Iterator[tuple[LicenseType, datetime | None]]:
    """Every license type of every tenant with the last hour metered for it (None: never), page
    by page: one small item per pool."""
    for item in LicenseTypeItem.scan():
        yield license_type_from_item(item), item.metered_through


@dynamodb
def record(lic_type: LicenseType, hour: datetime, now: datetime, *, backfilled: bool = False) -> bool:
    """Write the hour's record once; False if the hour was already metered (invariant 5).
    ``backfilled``: the hour was missed and is given the reading of a later one."""
    item = UsageItem(
        lic_type.tenant_id,
        hour_key(hour, lic_type.lic_type_id),
        lic_type_id=lic_type.lic_type_id,
        in_use=lic_type.in_use,
        capacity=lic_type.capacity,
        metered_at=now,
        backfilled=True if backfilled else None,
    )
    try:
        item.save(condition=UsageItem.hour_type.does_not_exist())
    except PutError as e:
        if failed_condition(e):
            return False
        raise
    return True


@dynamodb
def mark_metered(lic_type: LicenseType, hour: datetime) -> bool:
    """The type is metered through ``hour``. The mark only moves forward (a late run racing a
    newer one leaves it); False when it did not move, or the type is gone."""
    return update_if(
        LicenseTypeItem(lic_type.tenant_id, lic_type.lic_type_id),
        [LicenseTypeItem.metered_through.set(hour)],
        LicenseTypeItem.lic_type_id.exists()
        & (LicenseTypeItem.metered_through.does_not_exist() | (LicenseTypeItem.metered_through < hour)),
    )


@dynamodb
def hours_of_month(tenant_id: str, month: str) -> list[HourOfUse]:
    """The tenant's metered hours of ``month`` (``YYYY-MM``), in time order: one query."""
    return [
        HourOfUse(
            datetime.strptime(i.hour_type.split("#", 1)[0], "%Y-%m-%dT%H").replace(tzinfo=UTC),
            i.lic_type_id,
            int(i.in_use),
            int(i.capacity),
        )
        for i in UsageItem.query(tenant_id, UsageItem.hour_type.startswith(f"{month}-"))
    ]

"""PynamoDB models: every table and index the service uses.

Each model knows its table's name without the stage's prefix (``Meta.table``); ``bind`` gives
it the full name, the region and the endpoint from the settings, at ``configure`` time, not at
import (PynamoDB reads ``Meta`` when it first makes a model's connection, which ``bind`` resets).
``infra/`` declares the same tables for CloudFormation; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import MetaProtocol, Model

from chalicelib.settings import Settings

# Due-index shards: the sweeps query each shard, so no partition key is hot however large the
# fleet. A device's shard is fixed by its id.
DUE_SHARDS = 8


class TableMeta(MetaProtocol, Protocol):
    """A model's ``Meta``: PynamoDB's settings and ``table``, its table's name without the prefix."""

    table: str


class Item(Model):
    """A model of one of the service's tables."""

    Meta: TableMeta


def _meta(name: str) -> TableMeta:
    # table_name, region and host are set by ``bind``: a model used before it has no table.
    # PynamoDB's metaclass fills in the settings not given here.
    return cast(
        TableMeta,
        type(
            "Meta",
            (),
            {
                "table": name,
                "table_name": None,
                "region": None,
                "host": None,
                "billing_mode": "PAY_PER_REQUEST",
                # Lambda has seconds, not minutes: fail fast and let the caller retry.
                "connect_timeout_seconds": 2,
                "read_timeout_seconds": 5,
                "max_retry_attempts": 3,
            },
        ),
    )


def _index_meta(name: str, projection) -> type:
    return type("Meta", (), {"index_name": name, "projection": projection})


class LicensingPolicyMap(MapAttribute):
    confirm_window_s = NumberAttribute(default=86400)
    check_in_interval_s = NumberAttribute(default=3600)
    silent_after_s = NumberAttribute(default=86400)
    lease_s = NumberAttribute(default=604800)


class TenantItem(Item):
    Meta = _meta("tenants")

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    owner_email = UnicodeAttribute()
    state = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # The contract's (or trial's) capacity and the instances held across all license types:
    # every take and release updates ``in_use`` in the same transaction as the pool's.
    capacity = NumberAttribute(default=0)
    in_use = NumberAttribute(default=0)
    trial_expires_at = UTCDateTimeAttribute(null=True)
    trial_used = BooleanAttribute(default=False)
    trial_warned = BooleanAttribute(default=False)  # the 7-days-left notification was sent
    contract_id = UnicodeAttribute(null=True)
    contract_starts_at = UTCDateTimeAttribute(null=True)
    contract_ends_at = UTCDateTimeAttribute(null=True)
    # A contract sold to start later (see ``chalicelib.domain.model.Tenant.next_contract``).
    next_contract_id = UnicodeAttribute(null=True)
    next_capacity = NumberAttribute(null=True)
    next_starts_at = UTCDateTimeAttribute(null=True)
    next_ends_at = UTCDateTimeAttribute(null=True)
    # The license types' totals, written in the same transaction as every pool change and
    # guarded by ``pools_version`` (see ``chalicelib.store.tenants``).
    allocated = NumberAttribute(default=0)
    ceiling = NumberAttribute(null=True)
    license_types = NumberAttribute(default=0)
    pools_version = NumberAttribute(default=0)
    # Stored as ``settings``, the seed's and the API's word for it.
    policy = LicensingPolicyMap(default=LicensingPolicyMap, attr_name="settings")
    api_key_hash = UnicodeAttribute()
    activation_key_hash = UnicodeAttribute()


class LicenseTypeItem(Item):
    Meta = _meta("license-types")

    tenant_id = UnicodeAttribute(hash_key=True)
    lic_type_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    sku = UnicodeAttribute()
    capacity = NumberAttribute(default=0)
    in_use = NumberAttribute(default=0)
    # The most instances the overage policy lets this pool hold; absent: no limit (ALWAYS_ALLOW).
    max_in_use = NumberAttribute(null=True)
    overage_policy = UnicodeAttribute(default="NO_OVERAGE")
    trial = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    # The last hour the meter recorded for this type: its next run meters every hour after it.
    metered_through = UTCDateTimeAttribute(null=True)


class TenantDevicesIndex(GlobalSecondaryIndex):
    """The tenant's devices, newest first, with what the listing filters on. None of these change
    on a check-in, so a check-in never rewrites this index: the listing reads the page's items."""

    Meta = _index_meta("by-tenant", IncludeProjection(["status", "lic_type_id", "mac", "ip"]))
    tenant_id = UnicodeAttribute(hash_key=True)
    activated_at = UTCDateTimeAttribute(range_key=True)


# What a sweep needs to release a device without reading it: none of these change on a check-in,
# so a check-in never rewrites the index entry (only ``silent_due`` moving to a new bucket does).
SWEEP_PROJECTION = ["tenant_id", "lic_type_id", "mac", "ip", "port", "status", "credential_version"]


class PendingDueIndex(GlobalSecondaryIndex):
    """Sparse: only PENDING devices carry ``pending_shard``; ordered by their confirm deadline."""

    Meta = _index_meta("pending-due", IncludeProjection(SWEEP_PROJECTION))
    pending_shard = UnicodeAttribute(hash_key=True)
    confirm_by = UTCDateTimeAttribute(range_key=True)


class SilentDueIndex(GlobalSecondaryIndex):
    """Sparse: only devices holding an instance carry ``silent_shard``; ordered by the time
    they fall silent, rounded up to a bucket (see ``chalicelib.store.devices``)."""

    Meta = _index_meta("silent-due", IncludeProjection(SWEEP_PROJECTION))
    silent_shard = UnicodeAttribute(hash_key=True)
    silent_due = NumberAttribute(range_key=True)


class DeviceItem(Item):
    Meta = _meta("devices")

    device_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    mac = UnicodeAttribute()
    ip = UnicodeAttribute()
    port = NumberAttribute()
    sku = UnicodeAttribute()
    image = UnicodeAttribute()
    version = UnicodeAttribute()
    lic_type_id = UnicodeAttribute()
    status = UnicodeAttribute()
    # Bumped to revoke every device token issued so far; checked in each write's condition.
    credential_version = NumberAttribute(default=1)
    activated_at = UTCDateTimeAttribute()
    confirm_by = UTCDateTimeAttribute()
    confirmed_at = UTCDateTimeAttribute(null=True)
    last_check_in_at = UTCDateTimeAttribute(null=True)
    deactivated_at = UTCDateTimeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    # The tenant's settings as of activation (a settings change rewrites them): a check-in
    # computes its lease and its silent deadline from the item it writes, reading nothing.
    lease_s = NumberAttribute(default=604800)
    silent_after_s = NumberAttribute(default=86400)
    check_in_interval_s = NumberAttribute(default=3600)
    pending_shard = UnicodeAttribute(null=True)
    silent_shard = UnicodeAttribute(null=True)
    silent_due = NumberAttribute(null=True)  # epoch seconds, at or before ``silent_at``
    # The exact moment the device falls silent (last check-in + silent_after_s), epoch seconds.
    # Not in any index: a check-in rewrites it without touching the due index.
    silent_at = NumberAttribute(null=True)

    by_tenant = TenantDevicesIndex()
    pending_due = PendingDueIndex()
    silent_due_index = SilentDueIndex()


class ClaimItem(Item):
    """A uniqueness claim: ``mac#<tenant>#<MAC>``, ``addr#<tenant>#<IP>:<port>`` or
    ``idem#<tenant>#<Idempotency-Key>``. Written in the activation's transaction with
    ``attribute_not_exists``, so uniqueness is a condition, not a query."""

    Meta = _meta("claims")

    claim = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    lic_type_id = UnicodeAttribute(null=True)
    blocked = BooleanAttribute(default=False)
    request_hash = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    # Idempotency claims expire (TTL); MAC and address claims live as long as the license.
    expires_at = TTLAttribute(null=True)


class UsageItem(Item):
    Meta = _meta("usage")

    tenant_id = UnicodeAttribute(hash_key=True)
    hour_type = UnicodeAttribute(range_key=True)  # "<YYYY-MM-DDTHH>#<lic_type_id>"
    lic_type_id = UnicodeAttribute()
    in_use = NumberAttribute()
    capacity = NumberAttribute()
    metered_at = UTCDateTimeAttribute()
    # The hour was missed (the meter did not run, or failed) and holds the reading of the run
    # that caught up: the only reading there is.
    backfilled = BooleanAttribute(null=True)


class EventItem(Item):
    Meta = _meta("events")

    tenant_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)  # "<RFC 3339 time>#<random>": time-ordered
    kind = UnicodeAttribute()
    device_id = UnicodeAttribute(null=True)
    code = UnicodeAttribute(null=True)
    detail: MapAttribute[str, Any] = MapAttribute(default=dict)
    expires_at = TTLAttribute()


class CounterItem(Item):
    """A rate counter for one key and window (``act#<tenant>#<MAC>#<hour>``,
    ``refused#<tenant>#<minute>``); it expires with its window."""

    Meta = _meta("counters")

    counter = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class MemberItem(Item):
    """People in tenants, one table, read by primary key only (strongly consistent):

    - ``tenant#<tenant_id>`` / ``account#<account_id>``: a member, as the tenant lists it;
    - ``account#<account_id>`` / ``tenant#<tenant_id>``: the same membership as the account
      sees it (authorising a request is one GetItem); both are written in one transaction;
    - ``tenant#<tenant_id>`` / ``invite#<email>`` and ``invite#<email>`` / ``tenant#<tenant_id>``:
      an invitation, listed by the tenant and found by the email once its account is confirmed;
    - ``trial#<sha256 of the email>`` / ``trial``: the one trial of a verified email, a claim
      written in the trial's own transaction (``attribute_not_exists``).
    """

    Meta = _meta("members")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    tenant_name = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


ALL_MODELS: tuple[type[Item], ...] = (
    TenantItem,
    LicenseTypeItem,
    DeviceItem,
    ClaimItem,
    UsageItem,
    EventItem,
    CounterItem,
    MemberItem,
)


def bind(settings: Settings) -> None:
    """Point every model at the stage's tables (``TABLE_PREFIX`` + its name), in the configured
    region and endpoint; a model whose table, region or endpoint changes makes a fresh connection
    on its next call (one that stays where it was keeps its client: a client costs ~0.2 s)."""
    for model in ALL_MODELS:
        where = (f"{settings.table_prefix}{model.Meta.table}", settings.region, settings.aws_endpoint_url)
        if (
            getattr(model.Meta, "table_name", None),
            getattr(model.Meta, "region", None),
            getattr(model.Meta, "host", None),
        ) == where:
            continue
        model.Meta.table_name, model.Meta.region, model.Meta.host = where
        model._connection = None

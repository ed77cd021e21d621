"""Identifiers. Services call these through the module so a test can force collisions."""

from __future__ import annotations

import itertools
import secrets
import uuid

# Orders events written by one container within the same second (times have second precision).
_event_sequence = itertools.count()


def new_device_id() -> str:
    """The license UUID of a device."""
    return str(uuid.uuid4())


def new_tenant_id() -> str:
    return f"t{secrets.token_hex(8)}"


def new_lic_type_id() -> str:
    return f"lt{secrets.token_hex(6)}"


def new_event_suffix() -> str:
    return f"{next(_event_sequence):010d}{secrets.token_hex(3)}"

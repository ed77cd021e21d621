"""What ``make run`` prints once the stack is up."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from local.api import http_get
from local.demo import DEMO_LOADMASTER

if TYPE_CHECKING:
    from local.stack import LocalStack


def _shown(path) -> str:
    """``path`` relative to the working directory when it is below it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(stack: LocalStack) -> str:
    """The URLs, the keys and the curl commands to try, with the stack's real values."""
    base = stack.base_url
    console_status, _ = http_get(f"{base}/console")
    console_note = "" if console_status == 200 else "   (not served by this build yet)"
    lines = [
        "",
        f"Local licensing stack is up (started in {stack.startup_s:.1f} s)",
        "",
        f"  API             {base}",
        f"  health          {base}/v1/health",
        f"  JWKS            {base}/v1/.well-known/jwks.json",
        f"  console         {base}/console{console_note}",
        f"  moto            {stack.moto_endpoint}   (DynamoDB, Secrets Manager, Cognito; in memory)",
    ]
    if stack.user_pool is not None:
        lines.append(f"  user pool       {stack.user_pool.pool_id}   (app client {stack.user_pool.client_id})")
    if stack.mailbox is not None:
        lines.append(f"  mail            codes Cognito would mail: printed below, kept in {_shown(stack.mailbox)}")
    lines += ["", f"  operator key    {stack.operator_key}"]
    op = f"-H {shlex.quote('Authorization: Bearer ' + stack.operator_key)}"
    if stack.demo is None:
        lines += ["", "Try it:", f"  curl -s {base}/v1/tenants {op}"]
    else:
        d = stack.demo
        lm_keys = f"-H 'Content-Type: application/json' -H {shlex.quote('X-Activation-Key: ' + d.activation_key)}"
        admin = f"-H {shlex.quote('Authorization: Bearer ' + d.api_key)}"
        activation_body = json.dumps({**DEMO_LOADMASTER, "lic_type_id": d.lic_type_id})
        if stack.account is not None:
            a = stack.account
            lines += [
                "",
                "Demo account (owner of the demo tenant; console sign-in and licensing login)",
                f"  email           {a.account_email}",
                f"  password        {a.account_password}",
            ]
        lines += [
            "",
            f"Demo tenant {d.tenant_id}: trial, {d.capacity} instances of {d.sku}, until {d.trial_expires_at}",
            f"  api key         {d.api_key}",
            f"  activation key  {d.activation_key}",
            f"  lic_type_id     {d.lic_type_id}",
            "",
            "Try it:",
            "  # a LoadMaster asks which license types it may take",
            f"  curl -s -X POST {base}/v1/activation/license-types {lm_keys} \\",
            f"    -d {shlex.quote(json.dumps(DEMO_LOADMASTER))}",
            "  # it activates: 201 with device_id, device_token and a signed lease (status PENDING)",
            f"  curl -s -X POST {base}/v1/activations {lm_keys} \\",
            f"    -d {shlex.quote(activation_body)}",
            "  # it confirms: put in device_id and device_token from the activation's answer (-> ACTIVE)",
            f"  curl -s -X POST {base}/v1/devices/<device_id>/confirm -H 'Authorization: Device <device_token>'",
            "  # the tenant admin sees the instance in use",
            f"  curl -s {base}/v1/license {admin}",
            "  # the operator lists the tenants",
            f"  curl -s {base}/v1/tenants {op}",
        ]
        if stack.account is not None:
            a = stack.account
            lines += [
                "  # the owner signs in (the CLI asks for the password) and lists the tenant's members",
                f"  licensing --url {base} login --email {a.account_email}",
                "  licensing members list",
            ]
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)

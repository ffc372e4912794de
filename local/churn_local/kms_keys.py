"""moto 5.2.5's CloudFormation creates every ``AWS::KMS::Key`` as a symmetric encryption key,
ignoring ``KeySpec`` and ``KeyUsage``; CloudFormation honours them. The stack's link key
(``OutcomeLinkKey``: HMAC_256, GENERATE_VERIFY_MAC) would then refuse GenerateMac and VerifyMac
locally while working on AWS. :func:`honour_key_spec` makes moto create the key the template
declares (its own ``create_key`` with the template's values), once per process.
"""

from __future__ import annotations

import json
from typing import Any

_PATCHED = "_churn_honours_key_spec"


def honour_key_spec() -> None:
    from moto.kms import models

    if getattr(models.Key, _PATCHED, False):
        return
    original = models.Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        spec, usage = properties.get("KeySpec"), properties.get("KeyUsage")
        if not spec and not usage:
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        backend = models.kms_backends[account_id][region_name]
        key = backend.create_key(
            # A policy document as the API takes it (a string): moto's key-policy checks parse it.
            policy=policy
            if isinstance(policy := properties.get("KeyPolicy"), str) or policy is None
            else json.dumps(policy),
            key_usage=usage or "ENCRYPT_DECRYPT",
            key_spec=spec or "SYMMETRIC_DEFAULT",
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    models.Key.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    setattr(models.Key, _PATCHED, True)

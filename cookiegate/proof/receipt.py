"""A consent receipt: everything held for one consent, shaped after ISO/IEC TS 27560.

`export SITE_KEY CONSENT_ID` prints it (right of access, portability) and the visitor's own
`GET /api/v1/sites/<key>/consents/<id>` answers with the same document. Mapping to the
standard's consent record: record id, PII principal (the consent id), controller (the site),
notice (the banner snapshot shown, with its hash), language, purposes (categories with their
services), events (given / changed / withdrawn, each with its time, state and validity),
the withdrawal method; and, for each event, what verifies it: seq, payload hash, chain hash
and the signed checkpoint that covers it (docs/proof.md).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import select

from ..extensions import db
from ..models import BannerSnapshot, ConsentRecord, Site, utcnow
from ..sites.banner_config import content_hash
from . import checkpoints
from .keys import published_keys
from .ledger import FORMAT

SCHEMA = "cookiegate consent receipt 1, after ISO/IEC TS 27560:2023"
WITHDRAWAL = (
    "Withdraw at any time, as easily as consent was given: the banner's floating button or any "
    "[data-cookiegate-open] link, then 'Reject all' or the withdraw button; or "
    "POST /api/v1/sites/{site}/consents/{consent}/withdraw with the consent token."
)


def _iso(moment: Optional[dt.datetime]) -> Optional[str]:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def records_of(site_id: int, consent_id: str) -> list[ConsentRecord]:
    return list(
        db.session.execute(
            select(ConsentRecord)
            .where(ConsentRecord.site_id == site_id, ConsentRecord.consent_id == consent_id)
            .order_by(ConsentRecord.seq)
        ).scalars()
    )


def _purposes(notice: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    if not notice:
        return []
    services = notice.get("services", [])
    return [
        {
            "category": category["slug"],
            "name": category.get("name"),
            "description": category.get("description"),
            "required": category.get("required", False),
            "services": [
                {
                    "key": service["key"],
                    "name": service.get("name"),
                    "provider": service.get("provider"),
                    "cookies": [cookie.get("name") for cookie in service.get("cookies", [])],
                }
                for service in services
                if service.get("category") == category["slug"]
            ],
        }
        for category in notice.get("categories", [])
    ]


def _event_type(record: ConsentRecord, previous: Optional[ConsentRecord]) -> str:
    if record.method == "withdraw":
        return "withdrawn"
    if previous is None or previous.method == "withdraw":
        return "given"
    return "changed"


def receipt(site: Site, consent_id: str, now: Optional[dt.datetime] = None) -> Optional[dict[str, Any]]:
    """The receipt, or None when nothing is held for this consent (never recorded, erased or purged)."""
    records = records_of(site.id, consent_id)
    if not records:
        return None
    now = now or utcnow()
    hashes = sorted({r.banner_hash for r in records if r.banner_hash})
    snapshots = {}
    if hashes:
        snapshots = {s.hash: s for s in db.session.execute(select(BannerSnapshot).where(BannerSnapshot.hash.in_(hashes))).scalars()}
    lifetime = dt.timedelta(days=site.consent_lifetime_days)

    events = []
    previous = None
    for record in records:
        kind = _event_type(record, previous)
        checkpoint = checkpoints.covering(site.id, site.key, record.seq)
        events.append(
            {
                "seq": record.seq,
                "time": _iso(record.created_at),
                "type": kind,
                "method": record.method,
                "state": record.choices,
                "policy_version": record.policy_version,
                "notice": record.banner_hash or None,
                "language": record.language,
                "validity": {
                    "from": _iso(record.created_at),
                    "until": None if kind == "withdrawn" else _iso(record.created_at + lifetime),
                },
                "context": {
                    "url": record.page_url,
                    "gpc": record.gpc,
                    "location": {"country": record.country, "region": record.region, "city": record.city},
                    "device": {
                        "type": record.device_type,
                        "browser": record.browser_family,
                        "os": record.os_family,
                        "bot": record.is_bot,
                    },
                },
                "proof": {
                    "seq": record.seq,
                    "payload_hash": record.payload_hash,
                    "chain_hash": record.chain_hash,
                    "checkpoint": checkpoint.line() if checkpoint else None,
                },
            }
        )
        previous = record

    last = records[-1]
    if last.method == "withdraw":
        status, until = "withdrawn", None
    else:
        until = last.created_at + lifetime
        status = "expired" if now > until else "outdated" if last.policy_version != site.policy_version else "given"
    latest_notice = snapshots.get(last.banner_hash)
    latest_checkpoint = checkpoints.latest(site.id, site.key)
    return {
        "schema": SCHEMA,
        "record_id": f"urn:cookiegate:{site.key}:{consent_id}",
        "generated_at": _iso(now),
        "controller": {
            "name": site.name,
            "site": site.key,
            "origins": list(site.origins),
            "privacy_policy_url": site.privacy_policy_url,
        },
        "principal": {
            "id": consent_id,
            "id_type": "consent id: 128 random bits kept in the visitor's browser (cookie 'cookiegate'); "
            "no name, e-mail, IP address or raw User-Agent is held",
        },
        "language": last.language,
        "notices": [
            {
                "hash": digest,
                "language": snapshots[digest].language if digest in snapshots else None,
                "policy_version": snapshots[digest].policy_version if digest in snapshots else None,
                "content": snapshots[digest].content if digest in snapshots else None,
                # The text as stored hashes to the name the records carry: it is what was shown.
                "verified": digest in snapshots and content_hash(snapshots[digest].content) == digest,
            }
            for digest in hashes
        ],
        "purposes": _purposes(latest_notice.content if latest_notice else None),
        "events": events,
        "state": {
            "status": status,
            "choices": last.choices,
            "since": _iso(last.created_at),
            "valid_until": _iso(until),
            "policy_version": last.policy_version,
            "current_policy_version": site.policy_version,
        },
        "withdrawal_method": WITHDRAWAL.format(site=site.key, consent=consent_id),
        "retention": {
            "lifetime_days": site.consent_lifetime_days,
            "retention_days": site.retention_days,
            "deleted_after": _iso(last.created_at + lifetime + dt.timedelta(days=site.retention_days)),
        },
        "verification": {
            "log_format": FORMAT,
            "payload_hash": "SHA-256 over canonical JSON of the record's fields (docs/proof.md)",
            "chain_hash": "SHA-256 over 'previous chain hash:seq:payload hash'",
            "checkpoint_signature": "Ed25519 over the checkpoint line before ' sig='",
            "public_keys": published_keys(),
            "latest_checkpoint": latest_checkpoint.line() if latest_checkpoint else None,
            "checkpoint_archive": f"/api/v1/sites/{site.key}/checkpoints",
        },
    }


_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_CHOICES = {"type": "object", "additionalProperties": {"type": "boolean"}}
# JSON Schema of the receipt; the OpenAPI description serves it, the tests check answers against it.
RECEIPT_SCHEMA = {
    "type": "object",
    "description": "A consent receipt after ISO/IEC TS 27560: everything held for one consent, and what verifies it. "
    "Events: `given` (first choice, or first after a withdrawal), `changed`, `withdrawn`. "
    "`proof.checkpoint` is the signed checkpoint line covering the event (null until the next `checkpoint` run); "
    "check it with one of `verification.public_keys` (Ed25519 over the line before ' sig=').",
    "required": ["schema", "record_id", "controller", "principal", "notices", "purposes", "events", "state",
                 "withdrawal_method", "verification"],
    "properties": {
        "schema": {"type": "string"},
        "record_id": {"type": "string"},
        "generated_at": _TIME,
        "controller": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "site": {"type": "string"}, "origins": {"type": "array", "items": {"type": "string"}},
                           "privacy_policy_url": {"type": ["string", "null"]}},
        },
        "principal": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "id_type": {"type": "string"}}},
        "language": {"type": "string"},
        "notices": {
            "type": "array",
            "items": {"type": "object", "properties": {"hash": {"type": "string"}, "language": {"type": ["string", "null"]},
                                                       "policy_version": {"type": ["integer", "null"]}, "content": {"type": ["object", "null"]},
                                                       "verified": {"type": "boolean", "description": "The stored text hashes to `hash`: it is the text the records name."}}},
        },
        "purposes": {
            "type": "array",
            "items": {"type": "object", "properties": {"category": {"type": "string"}, "name": {"type": ["string", "null"]},
                                                       "description": {"type": ["string", "null"]}, "required": {"type": "boolean"},
                                                       "services": {"type": "array", "items": {"type": "object"}}}},
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["seq", "time", "type", "state", "validity", "proof"],
                "properties": {
                    "seq": {"type": "integer"},
                    "time": _TIME,
                    "type": {"type": "string", "enum": ["given", "changed", "withdrawn"]},
                    "method": {"type": "string", "enum": ["accept_all", "reject_all", "custom", "withdraw"]},
                    "state": _CHOICES,
                    "policy_version": {"type": "integer"},
                    "notice": {"type": ["string", "null"]},
                    "language": {"type": "string"},
                    "validity": {"type": "object", "properties": {"from": _TIME, "until": _NULLABLE_TIME}},
                    "context": {"type": "object"},
                    "proof": {
                        "type": "object",
                        "properties": {"seq": {"type": "integer"}, "payload_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                       "chain_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                       "checkpoint": {"type": ["string", "null"]}},
                    },
                },
            },
        },
        "state": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["given", "withdrawn", "expired", "outdated"]},
                           "choices": _CHOICES, "since": _TIME, "valid_until": _NULLABLE_TIME,
                           "policy_version": {"type": "integer"}, "current_policy_version": {"type": "integer"}},
        },
        "withdrawal_method": {"type": "string"},
        "retention": {"type": "object"},
        "verification": {"type": "object", "properties": {
            "public_keys": {"type": "array", "items": {"type": "string"}},
            "latest_checkpoint": {"type": ["string", "null"], "description": "The site's newest signed checkpoint line, to keep a copy of."},
            "checkpoint_archive": {"type": "string", "description": "Where every checkpoint of the site is published."},
        }},
    },
}

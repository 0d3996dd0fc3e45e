"""The subject access bundle: everything held about an officer as a zip of CSV and JSON files,
with a manifest of their SHA-256 digests signed by the export key, and its offline check."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from api.signing import Outcome, Signer, Verdict, verify
from rollcall.tabular import to_csv
from rules.clock import iso_local
from store import subject_access

FORMAT = "rollcall-subject-access/1"
MANIFEST = "manifest.json"
README = (
    "Everything Rollcall holds about you, as stored. manifest.json lists every file with its\n"
    "SHA-256 digest and is signed (Ed25519) with the service's export key: `rollcall\n"
    "subject-access-verify FILE --public-key KEY` checks the signature and every digest.\n"
    "Only on-duty events are ever stored; off-duty locations are never kept.\n"
)


class NoSuchOfficerError(LookupError):
    """No officer has the given id."""


@dataclass(frozen=True)
class Bundle:
    """The zip's bytes and what it holds (file name -> rows)."""

    data: bytes
    files: dict[str, int]


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    if not rows:
        return (",".join(columns) + "\n").encode()
    flat = [
        {c: orjson.dumps(r[c]).decode() if isinstance(r[c], dict) else r[c] for c in columns}
        for r in rows
    ]
    return to_csv(pl.DataFrame(flat, orient="row", infer_schema_length=None))


def build_bundle(
    session: Session,
    officer_id: str,
    signer: Signer,
    *,
    tz: str,
    now: datetime,
    disclosure_days: int,
    requested_by: str,
    role: str,
) -> Bundle:
    """Everything held about ``officer_id`` (profile, devices, badges, every shift version,
    overtime claims, stored on-duty pings and swipes, daily results, flags with reviews and
    responses, contests, adjustments, the access log) as a signed zip. NoSuchOfficerError for
    an unknown officer. Reads only: the caller records the request in the audit log."""
    person = subject_access.profile(session, officer_id, tz)
    if person is None:
        raise NoSuchOfficerError(officer_id)
    contents: dict[str, tuple[bytes, int]] = {"README.txt": (README.encode(), 0)}
    contents["profile.json"] = (_json(person), 1)
    for name, columns, rows in subject_access.tables(session, officer_id, tz=tz):
        contents[f"{name}.csv"] = (_csv(columns, rows), len(rows))
    flags = subject_access.flags_with_history(
        session, officer_id, tz=tz, now=now, disclosure_days=disclosure_days
    )
    contents["flags.json"] = (_json(flags), len(flags))
    log = subject_access.access_entries(
        session, officer_id, tz=tz, now=now, disclosure_days=disclosure_days
    )
    contents["access_log.csv"] = (
        _csv(("at", "actor", "role", "action", "purpose", "case_ref"), log),
        len(log),
    )
    document = {
        "format": FORMAT,
        "officer_id": officer_id,
        "generated_at": iso_local(now, tz),
        "requested_by": requested_by,
        "role": role,
        "files": [
            {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "rows": rows}
            for name, (data, rows) in sorted(contents.items())
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (data, _) in sorted(contents.items()):
            archive.writestr(name, data)
        archive.writestr(MANIFEST, _json(signer.sign(document)))
    return Bundle(buffer.getvalue(), {name: rows for name, (_, rows) in contents.items()})


def verify_bundle(data: bytes, public_keys: Sequence[Ed25519PublicKey]) -> Verdict:
    """Check a bundle offline: the manifest's signature, then every file against its digest,
    and that no file was added or removed. ALTERED names the first file that does not match."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                return Verdict(Outcome.MALFORMED, f"no {MANIFEST} in the bundle")
            signed = orjson.loads(archive.read(MANIFEST))
            verdict = verify(signed, public_keys)
            if not verdict.ok:
                return verdict
            document = signed["document"]
            if document.get("format") != FORMAT or not isinstance(document.get("files"), list):
                return Verdict(Outcome.MALFORMED, "not a subject access manifest", verdict.key_id)
            listed = {f["name"]: f["sha256"] for f in document["files"]}
            extra = sorted(names - set(listed) - {MANIFEST})
            missing = sorted(set(listed) - names)
            if extra or missing:
                return Verdict(
                    Outcome.ALTERED,
                    f"files added {extra} or removed {missing} after signing",
                    verdict.key_id,
                )
            for name, digest in sorted(listed.items()):
                if hashlib.sha256(archive.read(name)).hexdigest() != digest:
                    return Verdict(
                        Outcome.ALTERED, f"{name} does not match its signed digest", verdict.key_id
                    )
    except (zipfile.BadZipFile, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        return Verdict(Outcome.MALFORMED, f"not a readable bundle ({type(exc).__name__})")
    return Verdict(
        Outcome.VALID,
        f"{verdict.reason}; {len(listed)} files match their digests",
        verdict.key_id,
    )

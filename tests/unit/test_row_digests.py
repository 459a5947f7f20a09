"""Row digests (custody.binding): one form for rows from the ORM and from SQL."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

from fieldapp.custody import binding


def test_row_digest_form():
    """Times in any zone, floats given as ints, UUIDs as objects or text digest alike."""
    moment = datetime(2026, 5, 4, 2, 31, tzinfo=UTC)
    row_id = uuid.uuid4()
    base = {"id": row_id, "photo_id": row_id, "reviewer_id": row_id, "decision": "accepted",
            "reason": "", "created_at": moment}
    same = {**base, "id": str(row_id), "created_at": moment.astimezone(
        timezone(timedelta(hours=8)))}
    assert binding.row_digest("review", base) == binding.row_digest("review", same)
    assert binding.row_digest("review", base) != binding.row_digest(
        "review", {**base, "decision": "rejected"})
    assert binding.canonical_value("accuracy_m", 12) == binding.canonical_value(
        "accuracy_m", 12.0) == "12.0"


def test_bytes_enter_as_their_hash_and_every_field_counts():
    row = {name: 1 for name in binding.FIELDS["dossier"]}
    row.update(id=str(uuid.uuid4()), manifest=b'{"items": []}', signature=memoryview(b"s"),
               public_key_pem=b"k", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    canonical = binding.canonical_row("dossier", row)
    assert canonical["manifest"] == hashlib.sha256(b'{"items": []}').hexdigest()
    assert canonical["signature"] == hashlib.sha256(b"s").hexdigest()
    digest = binding.row_digest("dossier", row)
    for name in binding.FIELDS["dossier"]:
        changed = {**row, name: b"other" if isinstance(row[name], bytes | memoryview) else 2}
        if name == "created_at":
            changed[name] = datetime(2026, 1, 2, tzinfo=UTC)
        assert binding.row_digest("dossier", changed) != digest, name


def test_a_naive_time_is_refused():
    row = {name: None for name in binding.FIELDS["photo"]}
    try:
        binding.row_digest("photo", {**row, "received_at": datetime(2026, 1, 1)})
    except ValueError as exc:
        assert "timezone" in str(exc)
    else:
        raise AssertionError("a naive time was digested")


def test_old_creation_events_are_compared_with_their_rows():
    at = datetime(2026, 5, 4, 2, 31, tzinfo=UTC)
    photo = {"sha256": "a" * 64, "size": 10, "media_type": "image/jpeg", "position": 0,
             "report_id": "8c5f3a52-97f4-4c8e-8a0e-0d6f1c1b2a33"}
    assert binding.legacy_mismatch("photo", dict(photo), at, photo) is None
    assert "sha256" in binding.legacy_mismatch("photo", {**photo, "sha256": "b" * 64}, at,
                                               photo)
    review = {"decision": "accepted", "reason": "fine", "created_at": at}
    assert binding.legacy_mismatch("review", {"decision": "accepted", "reason": " fine "},
                                   at, review) is None
    assert "decision" in binding.legacy_mismatch(
        "review", {"decision": "accepted", "reason": "fine"}, at,
        {**review, "decision": "rejected"})
    manifest = b'{"items": []}'
    dossier = {"manifest": manifest, "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
    assert binding.legacy_mismatch("dossier", {"manifest_sha256": dossier["manifest_sha256"]},
                                   at, dossier) is None
    assert "manifest" in binding.legacy_mismatch(
        "dossier", {"manifest_sha256": dossier["manifest_sha256"]}, at,
        {**dossier, "manifest": manifest + b" "})


def test_frozen_items_come_from_the_manifest():
    photo_id = uuid.uuid4()
    manifest = json.dumps({"items": [{"number": 1, "photo_id": str(photo_id),
                                      "sha256": "c" * 64, "title": "t"}]}).encode()
    assert binding.frozen_items(manifest) == [
        {"number": 1, "photo_id": str(photo_id), "sha256": "c" * 64}]
    assert binding.frozen_items(b"not json") == []


def test_a_kind_born_bound_is_never_bound_afterwards():
    at = datetime(2026, 5, 4, tzinfo=UTC)
    assert "never afterwards" in binding.legacy_mismatch("complaint", {}, at, {})


def test_a_field_added_later_leaves_older_rows_digests_as_they_were():
    """An update bound before report_ids existed digests as it did then; one that cites
    reports binds them, so setting or clearing them behind the app changes its digest."""
    moment = datetime(2026, 5, 4, 2, 31, tzinfo=UTC)
    row = {name: None for name in binding.FIELDS["complaint_update"]}
    row.update(id=uuid.uuid4(), complaint_id=uuid.uuid4(), kind="note", occurred_at=moment,
               reason="电话询问进度", recorded_by=uuid.uuid4(), created_at=moment)
    before = {"kind": "complaint_update", **{
        name: binding.canonical_value(name, row[name])
        for name in binding.FIELDS["complaint_update"] if name != "report_ids"}}
    assert binding.row_digest("complaint_update", row) == hashlib.sha256(
        binding.chain.canonical_json(before)).hexdigest()
    cited = {**row, "kind": "supplemented", "report_ids": [str(uuid.uuid4())]}
    assert binding.canonical_row("complaint_update", cited)["report_ids"] == cited["report_ids"]
    assert binding.row_digest("complaint_update", cited) != binding.row_digest(
        "complaint_update", {**cited, "report_ids": None})

"""Which RFC 3161 anchors a dossier carries, and which custody events lead to them.

Each item's receipt (its photo's `received` custody event) is covered by, for each TSA, the
earliest anchor at or after it: the tightest neutral bound on when the photo was received.
The dossier ships those tokens as received and the custody events from each receipt up to its
anchors, so a reader can walk the chain from the photo to the TSA's time.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from fieldapp.anchors import service as anchors
from fieldapp.anchors.models import Anchor
from fieldapp.custody.models import CustodyEvent
from fieldapp.dossiers import manifest as mf
from fieldapp.extensions import db


@dataclass
class Coverage:
    receipts: dict[str, int]  # photo id -> seq of its received event
    per_photo: dict[str, list[Anchor]]

    @property
    def anchors(self) -> list[Anchor]:
        distinct = {anchor.id: anchor for found in self.per_photo.values() for anchor in found}
        return sorted(distinct.values(), key=lambda anchor: (anchor.seq, anchor.tsa_url))

    def files(self, photo_id: str) -> list[str]:
        return [mf.timestamp_file(anchor.seq, anchor.id)
                for anchor in self.per_photo.get(photo_id, [])]

    def entries(self) -> list[dict]:
        """The manifest's "timestamps": one per token file."""
        return [{"file": mf.timestamp_file(anchor.seq, anchor.id), "custody_seq": anchor.seq,
                 "custody_hash": anchor.hash, "tsa": anchor.tsa_url,
                 "gen_time": anchor.gen_time.isoformat()} for anchor in self.anchors]

    def statement(self, numbers: dict[str, int]) -> str:
        """The manifest's timestamping sentence; numbers maps photo ids to item numbers."""
        used = sorted({anchor.tsa_url for anchor in self.anchors})
        uncovered = sorted(number for photo_id, number in numbers.items()
                           if not self.per_photo.get(photo_id))
        return mf.timestamping_statement(used, uncovered)

    def ranges(self) -> list[tuple[int, int]]:
        """Merged seq ranges from each receipt to the last anchor covering it."""
        spans = sorted((seq, max(anchor.seq for anchor in self.per_photo[photo_id]))
                       for photo_id, seq in self.receipts.items() if self.per_photo.get(photo_id))
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return merged


def cover(photo_ids: Iterable) -> Coverage:
    """Make sure an anchor covers every photo's receipt (asking the TSAs if none does; with
    none configured, the photos stay uncovered) and say which anchors cover each."""
    rows = db.session.execute(select(CustodyEvent.subject_id, CustodyEvent.seq).where(
        CustodyEvent.subject_id.in_(list(photo_ids)), CustodyEvent.subject_type == "photo",
        CustodyEvent.action == "received")).all()
    receipts = {str(row.subject_id): row.seq for row in rows}
    if receipts:
        # The newest receipt covered means every older one is too.
        anchors.ensure_covering_anchor(max(receipts.values()))
    covering = anchors.covering_each(receipts.values())
    return Coverage(receipts, {photo_id: covering.get(seq, [])
                               for photo_id, seq in receipts.items()})


def store_tokens(coverage: Coverage, store) -> dict[str, str]:
    """Each token as a blob, byte for byte as the TSA sent it: dossier path -> SHA-256."""
    return {mf.timestamp_file(anchor.seq, anchor.id): store.put_bytes(anchor.response)
            for anchor in coverage.anchors}

"""The custody chain's pure core: every broken link is named, not only the first."""
from __future__ import annotations

import uuid

from fieldapp.custody import chain


def _chain(length: int) -> list[dict]:
    events, prev = [], chain.GENESIS_HASH
    for seq in range(1, length + 1):
        event = {"seq": seq, "id": str(uuid.UUID(int=seq)),
                 "occurred_at": "2026-12-01T00:00:00.000000+00:00", "actor_id": None,
                 "action": "received", "subject_type": "photo",
                 "subject_id": str(uuid.UUID(int=1000 + seq)), "details": {"n": seq},
                 "prev_hash": prev}
        event["hash"] = prev = chain.link_hash(prev, event)
        events.append(event)
    return events


def test_an_intact_chain_has_no_break():
    assert list(chain.breaks(_chain(5))) == []
    assert chain.first_break(_chain(5)) is None


def test_every_altered_event_is_named_and_no_other():
    events = _chain(8)
    events[2]["details"] = {"n": "forged"}  # #3 altered in place
    events[6]["details"] = {"n": "forged too"}  # and #7, later
    assert [(b.seq, "altered" in b.reason) for b in chain.breaks(events)] == [
        (3, True), (7, True)]
    assert chain.first_break(events).seq == 3


def test_a_rehashed_event_and_a_missing_one_are_each_named():
    events = _chain(8)
    events[1]["details"] = {"n": "forged"}
    events[1]["hash"] = chain.link_hash(events[1]["prev_hash"], events[1])  # #2 rehashed
    del events[5]  # #6 cut out
    named = [(b.seq, b.reason) for b in chain.breaks(events)]
    assert [seq for seq, _ in named] == [3, 7]
    assert "prev_hash" in named[0][1]
    assert "expected event #6" in named[1][1]

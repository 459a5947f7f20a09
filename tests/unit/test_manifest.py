"""The manifest's pure parts: SM3, token file names, the timestamping statement."""
from __future__ import annotations

import hashlib

import pytest

from fieldapp.dossiers import manifest as mf


def test_sm3_matches_the_standard_vector(tmp_path):
    # GB/T 32905-2016, example 1: SM3("abc").
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert mf.sm3_of(path) == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_reads_files_larger_than_a_chunk(tmp_path):
    data = bytes(range(256)) * 9000
    path = tmp_path / "big"
    path.write_bytes(data)
    whole = hashlib.new("sm3", data).hexdigest()
    assert mf.sm3_of(path) == whole  # 2.3 MB: three reads of a megabyte


def test_without_sm3_a_dossier_is_refused_loudly(tmp_path, monkeypatch):
    path = tmp_path / "x"
    path.write_bytes(b"x")

    def no_sm3(name, *args, **kwargs):
        raise ValueError(f"unsupported hash type {name}")

    monkeypatch.setattr(mf.hashlib, "new", no_sm3)
    with pytest.raises(RuntimeError, match="SM3 is not available"):
        mf.sm3_of(path)


def test_token_files_sort_by_the_event_they_anchor():
    names = [mf.timestamp_file(seq, anchor) for seq, anchor in ((90, 7), (1200, 3), (5, 12))]
    assert sorted(names) == [mf.timestamp_file(5, 12), mf.timestamp_file(90, 7),
                             mf.timestamp_file(1200, 3)]
    assert names[0] == "timestamps/00000090-7.tsr"


def test_the_timestamping_statement_says_what_is_covered():
    assert mf.timestamping_statement([], []) == mf.NO_TIMESTAMPS
    every = mf.timestamping_statement(["https://tsa.example"], [])
    assert every.startswith("Every item's receipt is covered")
    assert "https://tsa.example" in every and "openssl ts -verify" in every
    some = mf.timestamping_statement(["https://tsa.example"], [2, 5])
    assert some.startswith("Every item's receipt except items 2, 5")


@pytest.mark.parametrize(("received", "anchored", "expected"), [
    ("2026-05-04T10:31:00+08:00", "2026-05-04T02:31:42+00:00", "42 s"),
    ("2026-05-04T10:31:00+00:00", "2026-05-04T10:34:05+00:00", "3 min 5 s"),
    ("2026-05-04T10:31:00+00:00", "2026-05-04T12:38:00+00:00", "2 h 7 min"),
    ("2026-05-01T10:31:00+00:00", "2026-05-04T13:31:00+00:00", "3 d 3 h"),
    ("2026-05-04T10:31:00+00:00", "2026-05-04T10:30:00+00:00", "−1 min 0 s"),
    ("2026-05-04T10:31:00", "2026-05-04T10:30:00+00:00", "—"),
])
def test_the_catalog_states_the_gap_between_receipt_and_time_stamp(received, anchored,
                                                                    expected):
    from fieldapp.dossiers.catalog.text import _gap_text

    assert _gap_text(received, anchored) == expected

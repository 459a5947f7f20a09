"""The tus 1.0 header rules (fieldapp.uploads.protocol), with plain values."""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from fieldapp.uploads import protocol
from fieldapp.uploads.protocol import ProtocolError


def _refused(call, *args):
    with pytest.raises(ProtocolError) as caught:
        call(*args)
    return caught.value.status, caught.value.header


@pytest.mark.parametrize("value", [None, "", "-1", "+1", "1e3", "1 2", "0x10", "١٢", "9" * 20])
def test_offsets_and_lengths_are_plain_non_negative_integers(value):
    assert _refused(protocol.non_negative, "Upload-Offset", value) == (400, "Upload-Offset")


def test_offsets_read_the_same_everywhere():
    assert protocol.non_negative("Upload-Offset", " 0 ") == 0
    assert protocol.non_negative("Upload-Offset", "1048576") == 1048576


def test_creation_length_bounds():
    assert protocol.creation_length("100", None, 100) == 100
    assert _refused(protocol.creation_length, "101", None, 100) == (413, "Upload-Length")
    assert _refused(protocol.creation_length, "0", None, 100) == (422, "Upload-Length")
    assert _refused(protocol.creation_length, None, "1", 100) == (400, "Upload-Defer-Length")


def test_metadata_pairs_and_the_filename():
    header = "filename " + base64.b64encode("河流 1.jpg".encode()).decode() + ",flag"
    pairs = protocol.parse_metadata(header)
    assert pairs == {"filename": "河流 1.jpg".encode(), "flag": b""}
    assert protocol.filename_of(pairs) == "河流 1.jpg"
    assert protocol.filename_of({"filename": b"C:\\phone\\DCIM\\a.jpg"}) == "a.jpg"
    assert protocol.parse_metadata(None) == {}


@pytest.mark.parametrize("header", ["a b,a c", "bad key", "k not*base64", "k " + "A" * 5000,
                                    ",", "k\x00 YQ=="])
def test_bad_metadata_is_refused(header):
    assert _refused(protocol.parse_metadata, header) == (400, "Upload-Metadata")


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"a\x00b"])
def test_filenames_that_cannot_be_stored_are_refused(raw):
    assert _refused(protocol.filename_of, {"filename": raw}) == (400, "Upload-Metadata")


def test_checksums():
    digest = hashlib.sha256(b"chunk").digest()
    parsed = protocol.parse_checksum("sha256 " + base64.b64encode(digest).decode())
    assert parsed.algorithm == "sha256" and parsed.digest == digest
    assert protocol.parse_checksum(None) is None
    sha1 = base64.b64encode(hashlib.sha1(b"x").digest()).decode()
    assert protocol.parse_checksum("sha1 " + sha1).algorithm == "sha1"
    for header in ("md5 " + sha1, "sha256 " + sha1, "sha256 ###", "SHA256 " + sha1):
        assert _refused(protocol.parse_checksum, header) == (400, "Upload-Checksum")


def test_a_chunk_must_start_at_the_offset_and_fit_the_length():
    protocol.check_chunk(10, 20, 10, 10)
    protocol.check_chunk(10, 20, 10, None)
    assert _refused(protocol.check_chunk, 10, 20, 9, 1) == (409, "Upload-Offset")
    assert _refused(protocol.check_chunk, 10, 20, 10, 11) == (413, "Content-Length")


def test_versions_and_dates():
    assert protocol.supported_version("1.0.0") and not protocol.supported_version("0.2.2")
    assert not protocol.supported_version(None)
    moment = datetime(2014, 6, 25, 16, 0, tzinfo=UTC)
    assert protocol.http_date(moment) == "Wed, 25 Jun 2014 16:00:00 GMT"

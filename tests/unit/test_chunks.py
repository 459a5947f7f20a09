"""Reading in 1 MiB pieces through one reused buffer (fieldapp.storage.chunks)."""
from __future__ import annotations

import io
import os

from fieldapp.storage import chunks

DATA = os.urandom(3 * chunks.READ_BYTES + 12345)


class _ReadOnly:
    """A stream with read() only, as gunicorn's own body reader is."""

    def __init__(self, data: bytes):
        self._stream = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self._stream.read(size)


def test_a_stream_comes_whole_in_pieces_the_parser_can_search():
    pieces = [bytes(piece) for piece in chunks.from_stream(io.BytesIO(DATA))]
    assert b"".join(pieces) == DATA
    assert [len(p) for p in pieces] == [chunks.READ_BYTES] * 3 + [12345]
    # Each piece can be searched in place, as the multipart parser does.
    marker = DATA[-100:-90]
    assert [piece.find(marker) for piece in chunks.from_stream(io.BytesIO(DATA))][-1] == (
        12345 - 100)


def test_a_stream_without_readinto_is_read_the_plain_way():
    assert b"".join(chunks.from_stream(_ReadOnly(DATA))) == DATA


def test_one_buffer_serves_read_after_read():
    first = next(chunks.from_stream(io.BytesIO(DATA)))
    again = next(iter(chunks.from_stream(io.BytesIO(DATA))))
    assert again is first  # the same bytearray, handed back between the two reads


def test_two_reads_at_once_never_share_a_buffer(tmp_path):
    other = os.urandom(2 * chunks.READ_BYTES + 7)
    path = tmp_path / "other"
    path.write_bytes(other)
    # Each pair is taken after both have read their next piece: a shared buffer would
    # hold the second's bytes in both.
    lefts = [bytes(a) for a, _ in zip(chunks.from_stream(io.BytesIO(DATA)),
                                       chunks.from_path(path), strict=False)]
    rights = [bytes(b) for _, b in zip(chunks.from_stream(io.BytesIO(DATA)),
                                        chunks.from_path(path), strict=False)]
    assert b"".join(lefts) == DATA[:len(b"".join(lefts))]
    assert b"".join(rights) == other


def test_a_descriptor_is_read_from_an_offset_without_moving_it(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert b"".join(bytes(p) for p in chunks.from_fd(fd, 1000)) == DATA[1000:]
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)
    assert b"".join(bytes(p) for p in chunks.from_path(path)) == DATA

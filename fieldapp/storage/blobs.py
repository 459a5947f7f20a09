"""Content-addressed store of originals and their derivatives.

Originals live at ``blobs/ab/cd/<sha256>``, read-only, written once: bytes are streamed into
a temp file in the same file system while hashed, fsynced, and hard-linked into place. A link
never replaces an existing file, so an original can never be overwritten; the same bytes are
stored once. Derivatives (metadata-stripped JPEGs) live under ``derivatives/`` and can always
be made again from the original.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

CHUNK = 1024 * 1024


class TooLarge(Exception):
    """A streamed file went past its size cap."""


class HashingSpool:
    """A temp file that hashes and counts what is written and refuses to grow past a cap.

    Used as werkzeug's multipart stream target, so an upload is hashed while it arrives and
    is never held in memory.
    """

    HEAD_BYTES = 64

    def __init__(self, tmp_dir: Path, max_bytes: int):
        self._file = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", delete=True)
        self._sha = hashlib.sha256()
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""

    @property
    def name(self) -> str:
        return self._file.name

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge(self.max_bytes)
        if len(self.head) < self.HEAD_BYTES:
            self.head += bytes(data[: self.HEAD_BYTES - len(self.head)])
        self._sha.update(data)
        return self._file.write(data)

    # werkzeug's FileStorage reads the spool back (seek/read) when asked for its content.
    def seek(self, *args):
        return self._file.seek(*args)

    def tell(self):
        return self._file.tell()

    def read(self, *args):
        return self._file.read(*args)

    def flush(self):
        self._file.flush()

    def fileno(self):
        return self._file.fileno()

    def close(self):
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.derivative_dir = self.root / "derivatives"
        for folder in (self.blob_dir, self.tmp_dir, self.derivative_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a lowercase hex SHA-256")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def spool(self, max_bytes: int) -> HashingSpool:
        return HashingSpool(self.tmp_dir, max_bytes)

    def commit_spool(self, spool: HashingSpool) -> Path:
        """Make a fully written spool durable under its hash; the spool itself is untouched."""
        spool.flush()
        os.fsync(spool.fileno())
        os.chmod(spool.name, 0o444)
        return self._link_into_place(spool.name, spool.sha256)

    def put_file(self, source: Path) -> tuple[str, int, Path]:
        """Copy a file into the store (CLI, demo); returns (sha256, size, path)."""
        spool = self.spool(max_bytes=2**62)
        try:
            with open(source, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    spool.write(chunk)
            return spool.sha256, spool.size, self.commit_spool(spool)
        finally:
            spool.close()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def open_original(self, sha256: str):
        return open(self.path_for(sha256), "rb")

    def derivative_path(self, sha256: str, kind: str) -> Path:
        return self.derivative_dir / sha256[:2] / sha256[2:4] / f"{sha256}.{kind}.jpg"

    def _link_into_place(self, temp_name: str, sha256: str) -> Path:
        final = self.path_for(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(temp_name, final)
        except FileExistsError:
            return final  # same bytes already stored: content addressing makes this a no-op
        _fsync_dir(final.parent)
        return final


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

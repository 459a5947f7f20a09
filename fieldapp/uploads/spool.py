"""Where an upload's bytes wait: one spool file per upload under the blob store's tmp dir.

Free of Flask and the database: the service decides what may be written, this module writes
it. The spool lives in the same file system as the blobs, so a finished upload becomes an
original by a hard link (BlobStore.commit_spool), never by a copy.

The upload's offset is its spool's size. A chunk is appended and fdatasynced (its bytes and
the size that reads them back) before its offset is answered, so the size counts the bytes
held for good without a database write per chunk; only the last chunk records the finished
upload in its row. What a crash leaves past an answered offset is the part of a chunk that
arrived before it: the client's own bytes at their places, which tus asks a server to keep
(ext4 in its default ordered mode, XFS and btrfs extend a file's size on disk only once the
data within it is written, so a crash never counts bytes that are not there). Bytes that
count only once proven, a chunk sent with Upload-Checksum, never enter the spool before they
are: they wait in an unnamed file beside it (gone with the process if it dies) and are
copied in once they match.

Hashing: each process keeps the running SHA-256 of the uploads whose chunks it wrote, so a
chunk that follows the last one it saw only hashes its own bytes. hashlib cannot save that
state anywhere else, and the chunks of one upload may land on any gunicorn worker (nginx
opens a new upstream connection per request), after a restart, or after a phone resumes an
hour later; a process that lacks the state does not re-hash the spool for each chunk (that
grows with the square of the size), but once, when the upload completes. A 50 MB photo is
read back at most once, at memory speed from the page cache.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from fieldapp.storage import chunks

HEAD_BYTES = 64
# Running hashes a process remembers: a few hundred bytes each.
_KEPT_STATES = 256
UPLOADS_DIR = "uploads"
# flock cannot time out: a waiting lock is tried again this often.
_LOCK_POLL_S = 0.005


class Busy(Exception):
    """Another request is writing this upload right now."""


class _States:
    """upload id -> (offset, running sha256), the least recently used forgotten first."""

    def __init__(self):
        self._states: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, offset: int):
        """The running hash of the upload's first `offset` bytes, if this process has it."""
        with self._lock:
            found = self._states.pop(key, None)
        if offset == 0:
            return hashlib.sha256()
        if found is None or found[0] != offset:
            return None
        return found[1]

    def keep(self, key: str, offset: int, state) -> None:
        with self._lock:
            self._states[key] = (offset, state)
            while len(self._states) > _KEPT_STATES:
                self._states.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._states.pop(key, None)


STATES = _States()


def directory(tmp_dir: Path) -> Path:
    folder = Path(tmp_dir) / UPLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_for(tmp_dir: Path, upload_id) -> Path:
    return directory(tmp_dir) / upload_id.hex


def create(path: Path) -> None:
    """An empty spool, durable (its directory entry too) before the row that names it is
    committed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def remove(path: Path, upload_id=None) -> None:
    if upload_id is not None:
        STATES.forget(upload_id.hex)
    try:
        path.unlink()
    except FileNotFoundError:
        pass  # already removed (terminated and swept at once): gone either way


@contextmanager
def locked(path: Path, *, shared: bool = False, wait_s: float = 0):
    """The spool open under a lock, which no database connection waits on: exclusive to
    write, shared to read where the upload stands. Busy if another request still holds it
    after wait_s (behind `fieldapp serve` a chunk is written at memory speed, nginx having
    received it whole)."""
    fd = os.open(path, os.O_RDONLY if shared else os.O_RDWR)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy() from None
                time.sleep(_LOCK_POLL_S)
        yield fd
    finally:
        os.close(fd)  # closing drops the lock


def held(fd: int) -> int:
    """The upload's offset, under the lock: the bytes its spool holds for good.
    FileNotFoundError if the spool was removed (terminated, or used by a report) while the
    lock was awaited."""
    status = os.fstat(fd)
    if status.st_nlink == 0:
        raise FileNotFoundError("the spool was removed")
    return status.st_size


def sha256_of(fd: int, key: str, size: int, running=None) -> str:
    """The SHA-256 of a whole spool of `size` bytes: the running hash (this chunk's, or one
    this process kept), else one pass over the file."""
    kept = STATES.take(key, size)
    running = running if running is not None else kept
    if running is not None:
        return running.hexdigest()
    digest = hashlib.sha256()
    for block in chunks.from_fd(fd):
        digest.update(block)
    return digest.hexdigest()


class Chunk:
    """The bytes of one request, appended at `offset` (the spool's size), hashed as they
    arrive for the upload's running SHA-256 and for the client's Upload-Checksum; a chunk
    with a checksum waits in an unnamed file beside the spool until it is kept. Used in a
    `with`: a chunk neither kept nor discarded when an error leaves it is discarded, so the
    spool never ends in bytes that were not fdatasynced."""

    def __init__(self, fd: int, path: Path, offset: int, checksum=None):
        self.fd, self.key, self.start = fd, path.name, offset
        self.written = 0
        self.running = STATES.take(self.key, offset)
        self._final = self._settled = False
        self.expected = checksum
        self.checksum = checksum.new() if checksum is not None else None
        self._apart = None
        if checksum is not None:
            self._apart = tempfile.TemporaryFile(dir=path.parent, buffering=0)
            self._target = self._apart.fileno()
        else:
            self._target = fd
            os.lseek(fd, offset, os.SEEK_SET)

    def __enter__(self) -> Chunk:
        return self

    def __exit__(self, error_type, *exc_info) -> None:
        if error_type is not None and not self._settled:
            self.discard()
        self.close()

    def write(self, data) -> None:
        view = memoryview(data)
        while view:
            done = os.write(self._target, view)
            view = view[done:]
        self.written += len(data)
        if self.running is not None:
            self.running.update(data)
        if self.checksum is not None:
            self.checksum.update(data)

    def matches(self) -> bool:
        """The body's digest is the one the client sent (True when it sent none)."""
        return self.expected is None or self.checksum.digest() == self.expected.digest

    def discard(self) -> None:
        """Drop the chunk (checksum mismatch, refused): the spool ends at the offset again.
        Its running hash is lost with it (the state was taken for this chunk): the whole
        file is hashed once at completion instead."""
        if self._apart is None:
            os.ftruncate(self.fd, self.start)
        self._settled = True
        self.close()

    def keep(self) -> int:
        """Make the chunk durable; returns the new offset. fdatasync: the bytes and the size
        that reads them back, without the times nobody needs after a crash."""
        if self._apart is not None:
            _copy(self._apart.fileno(), self.fd, self.start, self.written)
            self.close()
        os.fdatasync(self.fd)
        self._settled = True
        return self.start + self.written

    def remember(self) -> None:
        """Once kept: the running hash for the next chunk (never before, so a hash is only
        ever kept for bytes that are the upload's for good)."""
        if self.running is not None and not self._final:
            STATES.keep(self.key, self.start + self.written, self.running)

    def sha256(self) -> str:
        """The whole file's SHA-256, once the last chunk is kept."""
        self._final = True
        return sha256_of(self.fd, self.key, self.start + self.written, self.running)

    def close(self) -> None:
        if self._apart is not None:
            self._apart.close()
            self._apart = None


def _copy(source: int, target: int, at: int, count: int) -> None:
    """The first `count` bytes of `source` into `target` at `at`, inside the kernel."""
    done = 0
    while done < count:
        moved = os.copy_file_range(source, target, count - done, done, at + done)
        if moved == 0:
            raise OSError(f"the chunk was cut short copying it into the spool at {done}")
        done += moved


class FinishedSpool:
    """A finished upload's spool, as the report intake reads an uploaded part: name, size,
    first bytes and SHA-256 (recorded when the last byte arrived), and what
    BlobStore.commit_spool needs to link it into place."""

    def __init__(self, path: Path, size: int, sha256: str):
        self.name, self.size, self.sha256 = str(path), size, sha256
        self._file = open(path, "rb")
        self.head = self._file.read(HEAD_BYTES)
        if os.fstat(self._file.fileno()).st_size != size:
            self._file.close()
            raise ValueError("the spool does not hold the upload's length")

    def flush(self) -> None:
        pass  # written and fsynced chunk by chunk; nothing is buffered here

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()

"""What a backup holds, and how it is checked: free of Flask and the database.

A backup is one directory that stands on its own:

    database.dump        pg_dump's custom format: one consistent snapshot of every table
    blobs/ab/cd/<sha256> every original and stored file, named by its SHA-256 as in the store
    keys/                the server's signing key (a secret: the directory is 0700)
    backup.json          when, from which chain head, how many files
    SHA256SUMS           every file above, as `sha256sum -c SHA256SUMS` reads it

The database is dumped before the files are copied: a stored file is in place before the row
that names it is committed, and files are never removed, so every file the dump names is
there when the copy runs (a few newer ones may come along; they are harmless).

Stored files never change once written, so a backup may share the unchanged ones with an
earlier backup by hard link, as `rsync --link-dest` does: each backup is still whole on its
own, and the next costs only what is new.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fieldapp.storage import chunks
from fieldapp.storage.blobs import sha256_of

DUMP = "database.dump"
BLOBS = "blobs"
KEYS = "keys"
INFO = "backup.json"
SUMS = "SHA256SUMS"
FORMAT = "fieldapp-backup/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# pg_restore's list entries a restore leaves out: the extensions themselves and the rows of
# PostGIS's own table, which the target database has from its template (restoring them
# needs a superuser; the roles that run fieldapp are not).
_PROVIDED_BY_TEMPLATE = re.compile(
    r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION|TABLE DATA public spatial_ref_sys) ")


@dataclass(frozen=True)
class StoredFile:
    """A file of the blob store: its path below blobs/ and the SHA-256 its name claims."""

    relative: str
    sha256: str


def stored_files(blob_dir: Path) -> Iterator[StoredFile]:
    """The files of a blob store (``ab/cd/<sha256>``), in a stable order."""
    if not blob_dir.is_dir():
        return
    for path in sorted(blob_dir.rglob("*")):
        if path.is_file():
            yield StoredFile(path.relative_to(blob_dir).as_posix(), path.name)


def copy_hashed(source: Path, target: Path) -> str:
    """Copy a file, fsynced, and return the SHA-256 of the bytes copied (read once)."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as reader, open(target, "xb") as writer:
        for block in chunks.from_fd(reader.fileno()):
            digest.update(block)
            writer.write(block)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, target)
    return digest.hexdigest()


def share_or_copy(source: Path, earlier: Path | None, target: Path) -> str | None:
    """Put a stored file into a backup: a hard link to the earlier backup's copy when it has
    one (same name, so same bytes), else a copy of the store's. Returns the SHA-256 read
    while copying, or None for a link (its bytes were checked when first copied, and
    `fieldapp backup verify` re-reads every file)."""
    if earlier is not None and earlier.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(earlier, target)
            return None
        except OSError:
            pass  # another file system, or links refused: copy instead
    return copy_hashed(source, target)


def write_sums(root: Path, sums: dict[str, str]) -> None:
    lines = "".join(f"{sha256}  {name}\n" for name, sha256 in sorted(sums.items()))
    _write_durably(root / SUMS, lines.encode())


def write_info(root: Path, info: dict) -> None:
    _write_durably(root / INFO, (json.dumps({"format": FORMAT, **info}, indent=2,
                                            sort_keys=True) + "\n").encode())


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_sums(root: Path) -> dict[str, str]:
    """SHA256SUMS as {relative path: sha256}; ValueError on a line it cannot read."""
    sums = {}
    for number, line in enumerate((root / SUMS).read_text().splitlines(), 1):
        sha256, sep, name = line.partition("  ")
        if not sep or not _SHA256.match(sha256) or not name or _escapes(name):
            raise ValueError(f"{SUMS} line {number} is not '<sha256>  <path>'")
        sums[name] = sha256
    return sums


def _escapes(name: str) -> bool:
    return name.startswith("/") or ".." in Path(name).parts


def check(root: Path) -> list[str]:
    """Every problem with a backup directory (an empty list when it is whole): each listed
    file re-read and hashed, each stored file's name equal to its hash, nothing unlisted,
    the dump and backup.json present."""
    root = Path(root)
    try:
        sums = read_sums(root)
    except (OSError, ValueError) as exc:
        return [f"not a readable backup: {exc}"]
    problems = _info_problems(root) if (root / INFO).is_file() else []
    for required in (DUMP, INFO):
        if required not in sums:
            problems.append(f"{required} is not listed in {SUMS}")
    for name, expected in sums.items():
        problems += _file_problems(root, name, expected)
    present = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    problems += [f"{name}: present but not listed in {SUMS}"
                 for name in sorted(present - set(sums) - {SUMS})]
    return problems


def _info_problems(root: Path) -> list[str]:
    try:
        found = json.loads((root / INFO).read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return [f"{INFO}: not a JSON object"]
    return [] if found == FORMAT else [f"{INFO}: format {found!r}, expected {FORMAT!r}"]


def _file_problems(root: Path, name: str, expected: str) -> list[str]:
    path = root / name
    if not path.is_file():
        return [f"{name}: listed in {SUMS} but missing"]
    found = sha256_of(path)
    problems = [] if found == expected else [
        f"{name}: SHA-256 {found}, {SUMS} says {expected}"]
    if name.startswith(BLOBS + "/") and path.name != found:
        problems.append(f"{name}: a stored file whose bytes hash to {found}, not to its name")
    return problems


def restore_list(table_of_contents: str) -> str:
    """`pg_restore -l`'s table of contents without what the target database already has
    from its PostGIS template (see _PROVIDED_BY_TEMPLATE), for `pg_restore -L`."""
    return "".join(line + "\n" for line in table_of_contents.splitlines()
                   if not _PROVIDED_BY_TEMPLATE.match(line))

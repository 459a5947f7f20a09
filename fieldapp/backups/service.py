"""Making a backup and restoring one (the layout and its checks: backups.contents).

The database is read and written by PostgreSQL's own pg_dump and pg_restore, connected as
the schema owner (FIELDAPP_OWNER_DATABASE_URL), the one role that can read every table and
recreate them with their grants; the password goes through the environment, never the
command line, where every user of the machine could read it.

Making a backup reads every original, so it is a custody event (`backed_up`: the dump's
SHA-256, the chain's head, how many files); the event comes after the dump, so the backup
does not hold it. Restoring writes only into an empty database and an empty data dir, and
ends with the audit (`fieldapp custody verify`) of what it restored.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import make_url

from fieldapp import __version__
from fieldapp.backups import contents
from fieldapp.custody import service as custody
from fieldapp.dossiers import keys
from fieldapp.extensions import db
from fieldapp.storage.blobs import sha256_of

# The subject of every backup's custody event: backups, like audits, concern the whole chain.
BACKUP_SUBJECT = uuid.UUID("6b61636b-7570-4000-8000-000000000001")


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why."""


@dataclass
class Made:
    root: Path
    files: int = 0
    shared: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


def _owner_env() -> dict[str, str]:
    """libpq's variables for the schema owner's connection (the password among them)."""
    url = make_url(current_app.config["FIELDAPP_OWNER_DATABASE_URI"])
    env = dict(os.environ)
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port),
                            ("PGUSER", url.username), ("PGPASSWORD", url.password),
                            ("PGDATABASE", url.database)):
        if value is not None:
            env[variable] = str(value)
    return env


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(command, env=_owner_env(), capture_output=True, text=True,
                              **kwargs)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} not found: install postgresql-client-15") from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-1000:]}")
    return done


def make(dest: Path, earlier: Path | None = None) -> Made:
    """A new backup in `dest` (which must not exist), sharing unchanged files with the
    backup `earlier` by hard link when given."""
    dest = Path(dest)
    if earlier is not None and not (Path(earlier) / contents.SUMS).is_file():
        raise BackupError(f"{earlier} is not a backup (it has no {contents.SUMS})")
    try:
        dest.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        raise BackupError(f"{dest} exists: a backup goes into a new directory") from None
    except FileNotFoundError:
        raise BackupError(f"{dest.parent} does not exist") from None
    made = Made(dest)
    head = custody.head()
    db.session.rollback()
    _run(["pg_dump", "--format=custom", "--file", str(dest / contents.DUMP)])
    sums = {contents.DUMP: sha256_of(dest / contents.DUMP)}
    sums.update(_copy_store(made, earlier))
    sums.update(_copy_keys(dest))
    info = {"made_at": datetime.now(UTC).isoformat(), "fieldapp": __version__,
            "chain_head_before_dump": {"seq": head.seq, "hash": head.hash} if head else None,
            "stored_files": made.files, "bytes": made.bytes,
            "shared_with": str(earlier) if earlier else None, "problems": made.problems}
    contents.write_info(dest, info)
    sums[contents.INFO] = sha256_of(dest / contents.INFO)
    contents.write_sums(dest, sums)
    _record(made, sums[contents.DUMP], head)
    return made


def _copy_store(made: Made, earlier: Path | None) -> dict[str, str]:
    blob_dir = current_app.extensions["blob_store"].blob_dir
    sums = {}
    for stored in contents.stored_files(blob_dir):
        name = f"{contents.BLOBS}/{stored.relative}"
        previous = Path(earlier) / name if earlier else None
        read = contents.share_or_copy(blob_dir / stored.relative, previous, made.root / name)
        if read is None:
            made.shared += 1
        elif read != stored.sha256:
            # The store's copy has changed since it was written: keep the evidence of that,
            # not a backup that would pass it on as good.
            (made.root / name).unlink()
            made.problems.append(f"{name}: the store's bytes hash to {read}; left out "
                                 "(run `fieldapp custody verify`)")
            continue
        made.files += 1
        made.bytes += (made.root / name).stat().st_size
        sums[name] = stored.sha256
    return sums


def _copy_keys(dest: Path) -> dict[str, str]:
    source = keys.key_path(current_app.config["FIELDAPP_DATA_DIR"]).parent
    sums = {}
    if not source.is_dir():
        return sums
    (dest / contents.KEYS).mkdir(mode=0o700)
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            name = f"{contents.KEYS}/{path.name}"
            sums[name] = contents.copy_hashed(path, dest / name)
    return sums


def _record(made: Made, dump_sha256: str, head) -> None:
    custody.append("backed_up", "chain", BACKUP_SUBJECT, details={
        "dump_sha256": dump_sha256, "stored_files": made.files, "bytes": made.bytes,
        "chain_head_before_dump": head.seq if head else 0, "problems": len(made.problems)})
    db.session.commit()


# --- restore -------------------------------------------------------------------------------


def restore(backup: Path) -> list[str]:
    """Restore a checked backup into this app's (empty) database and (empty) data dir; the
    audit's problems with what was restored (an empty list: all is well)."""
    backup = Path(backup)
    problems = contents.check(backup)
    if problems:
        raise BackupError("the backup is not whole:\n  " + "\n  ".join(problems[:20]))
    _require_empty_database()
    data_dir = Path(current_app.config["FIELDAPP_DATA_DIR"])
    store = current_app.extensions["blob_store"]
    if any(contents.stored_files(store.blob_dir)):
        raise BackupError(f"{store.blob_dir} already holds files: restore into an empty "
                          "data dir")
    _restore_database(backup / contents.DUMP)
    _restore_files(backup / contents.BLOBS, store.blob_dir)
    _restore_files(backup / contents.KEYS, keys.key_path(data_dir).parent, mode=0o700)
    os.sync()  # the restored files on disk before the audit vouches for them
    return custody.audit(store)


def _require_empty_database() -> None:
    tables = db.session.scalar(text(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'spatial_ref_sys'"))
    missing = {"postgis"} - set(db.session.scalars(text("SELECT extname FROM pg_extension")))
    db.session.rollback()
    if tables:
        raise BackupError(f"the database already has {tables} table(s): restore into a new, "
                          "empty one (scripts/postgis.sh makes one with PostGIS)")
    if missing:
        raise BackupError("the database lacks PostGIS: make it from fieldapp_template, or "
                          "run scripts/postgis.sh")


def _restore_database(dump: Path) -> None:
    listing = _run(["pg_restore", "--list", str(dump)]).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".list") as wanted:
        wanted.write(contents.restore_list(listing))
        wanted.flush()
        database = make_url(current_app.config["FIELDAPP_OWNER_DATABASE_URI"]).database
        _run(["pg_restore", "--exit-on-error", "--single-transaction", "--use-list",
              wanted.name, "--dbname", database, str(dump)])
    db.engine.dispose()  # connections opened before the restore knew none of its tables


def _restore_files(source: Path, target: Path, mode: int = 0o755) -> None:
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True, mode=mode)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def summary(made: Made) -> str:
    return json.dumps({"backup": str(made.root), "stored_files": made.files,
                       "shared_with_earlier": made.shared, "bytes": made.bytes,
                       "problems": made.problems})

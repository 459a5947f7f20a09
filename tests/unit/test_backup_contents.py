"""The backup's own checks, on plain files: what a changed, renamed, missing or unlisted
file looks like, and which dump entries a restore leaves to the PostGIS template."""
from __future__ import annotations

import hashlib
import json

import pytest

from fieldapp.backups import contents
from fieldapp.storage.blobs import sha256_of


def _backup(root, blobs: dict[str, bytes]):
    """A minimal backup directory holding these stored files (by their names)."""
    root.mkdir()
    (root / contents.DUMP).write_bytes(b"PGDMP fake dump")
    sums = {contents.DUMP: hashlib.sha256(b"PGDMP fake dump").hexdigest()}
    for name, data in blobs.items():
        path = root / "blobs" / name[:2] / name[2:4] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sums[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    contents.write_info(root, {"stored_files": len(blobs)})
    sums[contents.INFO] = sha256_of(root / contents.INFO)
    contents.write_sums(root, sums)
    return sums


def test_a_whole_backup_has_no_problem(tmp_path):
    data = b"an original"
    _backup(tmp_path / "b", {hashlib.sha256(data).hexdigest(): data})
    assert contents.check(tmp_path / "b") == []


def test_a_stored_file_must_hash_to_its_name_even_when_the_sums_were_rewritten(tmp_path):
    # Someone replaced an original and rewrote SHA256SUMS to match: the name still tells.
    claimed = hashlib.sha256(b"the original").hexdigest()
    sums = _backup(tmp_path / "b", {claimed: b"a forgery"})
    name = next(n for n in sums if n.startswith("blobs/"))
    problems = contents.check(tmp_path / "b")
    assert problems == [f"{name}: a stored file whose bytes hash to "
                        f"{hashlib.sha256(b'a forgery').hexdigest()}, not to its name"]


def test_sums_naming_a_path_outside_the_backup_are_refused(tmp_path):
    _backup(tmp_path / "b", {})
    with open(tmp_path / "b" / contents.SUMS, "a") as sums:
        sums.write(f"{'0' * 64}  ../../etc/passwd\n")
    assert contents.check(tmp_path / "b") == [
        f"not a readable backup: {contents.SUMS} line 3 is not '<sha256>  <path>'"]


def test_another_format_is_named(tmp_path):
    _backup(tmp_path / "b", {})
    info = tmp_path / "b" / contents.INFO
    info.write_text(json.dumps({"format": "something-else/9"}))
    problems = contents.check(tmp_path / "b")
    assert f"{contents.INFO}: format 'something-else/9', expected '{contents.FORMAT}'" \
        in problems
    assert any(p.startswith(f"{contents.INFO}: SHA-256") for p in problems)


@pytest.mark.parametrize("line, kept", [
    ("2; 3079 17431 EXTENSION - postgis ", False),
    ("4866; 0 0 COMMENT - EXTENSION postgis ", False),
    ("4308; 0 17744 TABLE DATA public spatial_ref_sys postgres", False),
    ("4804; 0 607182 TABLE DATA public alembic_version fieldapp", True),
    ("243; 1259 607506 TABLE public procrastinate_jobs fieldapp", True),
    ("4917; 0 0 ACL public COLUMN complaints.extension_days fieldapp", True),
])
def test_a_restore_leaves_the_extension_to_the_template_and_keeps_the_rest(line, kept):
    assert (contents.restore_list(line) == line + "\n") is kept

"""The stand-alone dossier verifier, on dossiers built here and then tampered with."""
from __future__ import annotations

import ast
import hashlib
import io
import json
import shutil
import stat
import struct
import subprocess
import sys
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from fieldapp.custody import chain
from fieldapp.dossiers.verify import FORMAT, verify_dossier

VERIFY_PY = Path(__file__).resolve().parents[2] / "fieldapp" / "dossiers" / "verify.py"
LABEL = "D-2026-0003"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
USER = uuid.UUID(int=7)
REPORTS = {"A": uuid.UUID(int=100), "B": uuid.UUID(int=200), "other": uuid.UUID(int=300)}
PHOTOS = {1: uuid.UUID(int=101), 2: uuid.UUID(int=102), 3: uuid.UUID(int=201),
          "other": uuid.UUID(int=301)}
PHOTO_REPORT = {1: "A", 2: "A", 3: "B"}
# The server's chain: (action, subject type, subject key); "other" subjects are not in the dossier.
SERVER_EVENTS = (
    ("received", "report", "A"), ("received", "photo", 1), ("verified", "photo", 1),
    ("received", "photo", 2), ("verified", "photo", 2),
    ("received", "report", "other"), ("received", "photo", "other"),
    ("verified", "photo", "other"),
    ("received", "report", "B"), ("received", "photo", 3), ("verified", "photo", 3),
    ("reviewed", "photo", 1), ("audited", "chain", None),
)
IN_DOSSIER = {1, 2, 3, "A", "B"}


# --- building a dossier ----------------------------------------------------------------------

def jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40 * seed, 90, 200 - 30 * seed)).save(out, "JPEG", quality=90)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + sha256(der)


def server_chain(originals: dict[int, bytes]) -> list[dict]:
    """Every event of a small server chain, linked by the server's own rule."""
    events, prev_hash = [], chain.GENESIS_HASH
    for seq, (action, subject_type, key) in enumerate(SERVER_EVENTS, start=1):
        subject = (PHOTOS if subject_type == "photo" else REPORTS).get(key, uuid.UUID(int=0))
        details = {}
        if subject_type == "photo" and key in originals:
            details = {"sha256": sha256(originals[key]), "size": len(originals[key])}
        if action == "reviewed":
            details = {"decision": "accepted", "note": "排污口 outfall, confirmed on site"}
        event = {
            "seq": seq, "id": str(uuid.UUID(int=1000 + seq)),
            "occurred_at": chain.format_time(START + timedelta(minutes=seq)),
            "actor_id": str(USER), "action": action, "subject_type": subject_type,
            "subject_id": str(subject), "details": details, "prev_hash": prev_hash,
        }
        event["hash"] = prev_hash = chain.link_hash(prev_hash, event)
        events.append(event)
    return events


def dossier_events(events: list[dict]) -> list[dict]:
    wanted = {str(PHOTOS[k]) for k in (1, 2, 3)} | {str(REPORTS[k]) for k in ("A", "B")}
    return [event for event in events if event["subject_id"] in wanted]


def jsonl(events: list[dict]) -> bytes:
    return "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in events).encode()


def item_entry(number: int, data: bytes, preview: str | None, receipt: dict) -> dict:
    """An item as the server writes it; receipt is its photo's "received" event."""
    digest = sha256(data)
    return {
        "number": number, "title": f"Outfall photo {number}", "purpose": "discharge colour",
        "photo_id": str(PHOTOS[number]), "report_id": str(REPORTS[PHOTO_REPORT[number]]),
        "source": {"reporter_role": "volunteer"},
        "capture_time": "2026-03-01T08:55:00+08:00",
        "place": {"lon": 120.3, "lat": 31.5, "crs": "wgs84"},
        "received_at": receipt["occurred_at"], "receipt_seq": receipt["seq"],
        "receipt_hash": receipt["hash"], "sha256": digest, "size": len(data),
        "sm3": hashlib.new("sm3", data).hexdigest(),
        "media_type": "image/jpeg", "original": f"originals/{number:03d}-{digest[:8]}.jpg",
        "preview": preview, "exif": {"make": "Xiaomi"}, "checks": [], "verdict": "pass",
        "reviews": [], "included_despite_rejection": False,
    }


@dataclass
class Dossier:
    files: dict[str, bytes]   # path under the top folder -> bytes, in ZIP order
    key: Ed25519PrivateKey

    def sign(self, manifest: dict, key: Ed25519PrivateKey | None = None) -> None:
        """Write manifest.json, its signature, the key and SHA256SUMS for these contents."""
        key = key or self.key
        self.files["manifest.json"] = json.dumps(manifest, ensure_ascii=False,
                                                 indent=1).encode()
        self.files["manifest.sig"] = key.sign(self.files["manifest.json"])
        self.files["public_key.pem"] = public_pem(key)
        self.refresh_sums()

    def refresh_sums(self) -> None:
        self.files.pop("SHA256SUMS", None)
        self.files["SHA256SUMS"] = "".join(
            f"{sha256(data)}  {path}\n" for path, data in sorted(self.files.items())).encode()

    def manifest(self) -> dict:
        return json.loads(self.files["manifest.json"])


def build(*, with_previews=(1, 2, 3), edit_manifest=None, edit_events=None) -> Dossier:
    """A valid dossier of three photos; the edit hooks change it before it is signed."""
    originals = {number: jpeg(number) for number in (1, 2, 3)}
    all_events = server_chain(originals)
    events = dossier_events(all_events)
    if edit_events:
        events = edit_events(events)
    files, items = {}, []
    for number, data in originals.items():
        preview = f"previews/{number:03d}.jpg" if number in with_previews else None
        receipt = next(event for event in all_events if event["action"] == "received"
                       and event["subject_id"] == str(PHOTOS[number]))
        item = item_entry(number, data, preview, receipt)
        items.append(item)
        files[item["original"]] = data
        if preview:
            files[preview] = jpeg(number + 10)
    files["catalog.pdf"] = b"%PDF-1.4\n% evidence catalog\n%%EOF\n"
    files["custody.jsonl"] = jsonl(events)
    head = all_events[-1]
    manifest = {
        "format": FORMAT,
        "dossier": {"id": str(uuid.UUID(int=9)), "number": 3, "label": LABEL,
                    "created_at": "2026-03-02T10:00:00+00:00", "created_by_role": "lawyer"},
        "case": {"title": "Taihu outfall"}, "site": {"name": "Outfall 7"},
        "items": items,
        "custody": {"head_seq": head["seq"], "head_hash": head["hash"], "events": len(events),
                    "file": "custody.jsonl"},
        "system": {"software": "fieldapp 0.1.0", "description": "test dossier"},
        "files": {path: sha256(data) for path, data in files.items()
                  if not path.startswith("originals/")},
    }
    if edit_manifest:
        edit_manifest(manifest)
    dossier = Dossier(files, Ed25519PrivateKey.generate())
    dossier.sign(manifest)
    return dossier


def write_zip(dossier: Dossier, path: Path, *, label=LABEL, extra=()) -> Path:
    """The dossier as a ZIP; extra holds (raw entry name, bytes) for hostile entries."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in dossier.files.items():
            method = zipfile.ZIP_STORED if name.startswith("originals/") else zipfile.ZIP_DEFLATED
            zf.writestr(f"{label}/{name}", data, compress_type=method)
        for name, data in extra:
            zf.writestr(name, data)
    return path


def flip_byte(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


def custody_lines(dossier: Dossier) -> list[bytes]:
    return dossier.files["custody.jsonl"].splitlines(keepends=True)


@pytest.fixture()
def dossier() -> Dossier:
    return build()


@pytest.fixture()
def check(tmp_path):
    """Write a dossier to a ZIP and verify it."""
    def run(dossier: Dossier, **zip_options):
        return verify_dossier(write_zip(dossier, tmp_path / "dossier.zip", **zip_options))
    return run


def having(problems: list[str], *fragments: str) -> list[str]:
    return [p for p in problems if all(fragment in p for fragment in fragments)]


def run_script(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


# --- the valid dossier -----------------------------------------------------------------------

def test_valid_dossier_passes_every_check(dossier, check):
    result = check(dossier)
    assert result.problems == []
    assert result.ok
    assert result.summary == (f"{LABEL}: 3 items, 3 originals, 9 custody events, 0 time-stamps, "
                              f"signature by key {fingerprint(dossier.key)} (not compared with "
                              "the NGO's published key: use --key)")


def test_item_without_preview_passes(check):
    dossier = build(with_previews=(1, 2))
    assert "previews/003.jpg" not in dossier.files
    assert check(dossier).problems == []


def test_pinned_key_that_matches_passes(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    result = verify_dossier(path, expected_key_pem=public_pem(dossier.key))
    assert result.ok
    assert result.summary.endswith(f"signature by the expected key {fingerprint(dossier.key)}")


# --- tampering with the contents -------------------------------------------------------------

def test_changed_byte_of_an_original_names_the_item(dossier, check):
    original = dossier.manifest()["items"][1]["original"]
    dossier.files[original] = flip_byte(dossier.files[original], 200)
    result = check(dossier)
    assert not result.ok
    assert having(result.problems, original, "item 2", "SHA-256")
    assert having(result.problems, "SHA256SUMS line", original)
    assert "2 originals" in result.summary


def test_wrong_sm3_of_an_original_is_named(check):
    """The SM3 is what a Chinese deposit platform compares: the manifest must state it right."""
    def wrong_sm3(manifest):
        manifest["items"][1]["sm3"] = "0" * 64
        manifest["items"][2]["sm3"] = "not hex"

    originals = [item["original"] for item in build().manifest()["items"]]
    assert check(build(edit_manifest=wrong_sm3)).problems == [
        "manifest.json item #3: 'sm3' is malformed",
        f"{originals[1]} (item 2): SM3 is {hashlib.new('sm3', jpeg(2)).hexdigest()}, "
        f"the manifest says {'0' * 64}",
        f"unexpected file {originals[2]} (not covered by the signed manifest)"]


def test_without_sm3_in_openssl_the_summary_says_it_was_not_checked(dossier, check,
                                                                    monkeypatch):
    from fieldapp.dossiers import verify

    monkeypatch.setattr(verify, "_new_sm3", lambda: None)
    result = check(dossier)
    assert result.ok
    assert "3 originals (SM3 not checked: this OpenSSL has no SM3)" in result.summary


def test_changed_byte_of_manifest_breaks_the_signature(dossier, check):
    manifest = dossier.files["manifest.json"]
    dossier.files["manifest.json"] = manifest.replace(b"Outfall photo 2", b"Outfall photo 3")
    result = check(dossier)
    assert having(result.problems, "manifest.sig", "does not verify")
    assert having(result.problems, "SHA256SUMS line", "manifest.json")
    assert "signature INVALID" in result.summary


def test_changed_custody_detail_names_that_line(dossier, check):
    lines = custody_lines(dossier)
    assert b'"decision": "accepted"' in lines[8]
    lines[8] = lines[8].replace(b'"accepted"', b'"acceptee"')
    dossier.files["custody.jsonl"] = b"".join(lines)
    result = check(dossier)
    assert having(result.problems, "custody.jsonl line 9 (event #12)", "event altered")
    assert having(result.problems, "custody.jsonl: SHA-256", "manifest.json says")
    assert not having(result.problems, "line 8")


def test_changed_received_hash_leaves_the_item_without_receipt(dossier, check):
    lines = custody_lines(dossier)
    digest = dossier.manifest()["items"][0]["sha256"]
    lines[1] = lines[1].replace(digest.encode(), ("0" + digest[1:]).encode())
    dossier.files["custody.jsonl"] = b"".join(lines)
    problems = check(dossier).problems
    assert having(problems, "custody.jsonl line 2 (event #2)", "event altered")
    assert having(problems, "item 1", "no intact 'received' event", digest)


def test_removed_custody_line_is_caught(dossier, check):
    lines = custody_lines(dossier)
    del lines[4]  # event #5, "verified" for photo 2
    dossier.files["custody.jsonl"] = b"".join(lines)
    problems = check(dossier).problems
    assert having(problems, "custody.jsonl has 8 events, manifest.json says 9")


def test_removed_received_event_is_caught(dossier, check):
    lines = custody_lines(dossier)
    del lines[1]  # event #2, photo 1 received
    dossier.files["custody.jsonl"] = b"".join(lines)
    problems = check(dossier).problems
    assert having(problems, "custody.jsonl has 8 events")
    assert having(problems, "item 1", "no intact 'received' event")


def test_forged_event_with_recomputed_hash_breaks_the_next_link(check):
    def forge(events):
        forged = dict(events[2], details={"sha256": "f" * 64})
        forged["hash"] = chain.link_hash(forged["prev_hash"], forged)
        return [*events[:2], forged, *events[3:]]

    problems = check(build(edit_events=forge)).problems
    assert problems == ["custody.jsonl line 4 (event #4): prev_hash is not the hash of "
                        "event #3 on the previous line (chain broken)"]


def test_reordered_custody_lines_are_caught(check):
    problems = check(build(edit_events=lambda events: [events[1], events[0], *events[2:]]))
    assert having(problems.problems, "custody.jsonl line 2 (event #1)", "seq does not increase")


def test_custody_line_that_is_not_json_is_named(dossier, check):
    lines = custody_lines(dossier)
    lines[3] = b"{not json\n"
    dossier.files["custody.jsonl"] = b"".join(lines)
    assert having(check(dossier).problems, "custody.jsonl line 4",
                  "not valid JSON (Expecting property name enclosed in double quotes at "
                  "character 2)")


def test_custody_beyond_the_recorded_head_is_caught(check):
    def lower_head(manifest):
        manifest["custody"]["head_seq"] = 10

    problems = check(build(edit_manifest=lower_head)).problems
    assert problems == ["custody.jsonl: last event #12 is beyond the chain head #10 "
                        "recorded in manifest.json"]


def test_head_event_must_carry_the_recorded_head_hash(check):
    def end_at_twelve(manifest):
        manifest["custody"].update(head_seq=12, head_hash="a" * 64)

    problems = check(build(edit_manifest=end_at_twelve)).problems
    assert problems == ["custody.jsonl: the hash of head event #12 is not the head_hash "
                        "recorded in manifest.json"]


def test_item_whose_photo_was_never_received_is_caught(check):
    def other_photo(manifest):
        manifest["items"][2]["photo_id"] = str(PHOTOS["other"])

    problems = check(build(edit_manifest=other_photo)).problems
    assert problems == [f"item 3: custody.jsonl has no intact 'received' event for photo "
                        f"{PHOTOS['other']} with SHA-256 {sha256(jpeg(3))}"]


def test_second_received_event_for_a_photo_is_named(check):
    """Forged in a gap of the extract (#7 belongs to a photo outside the dossier), with its
    own hash right, it breaks no link; but a photo is received once."""
    def receive_again(events):
        forged = dict(events[1], seq=7, id=str(uuid.UUID(int=1007)),
                      details={"sha256": sha256(b"another photo"), "size": 13})
        forged["hash"] = chain.link_hash(forged["prev_hash"], forged)
        return [*events[:5], forged, *events[5:]]

    assert check(build(edit_events=receive_again)).problems == [
        f"item 1: custody.jsonl has 2 'received' events for photo {PHOTOS[1]} (#2, #7); "
        "a photo is received once"]


def test_receipt_stated_in_the_manifest_must_be_the_received_event(check):
    def misstate(manifest):
        manifest["items"][0].update(received_at="2026-03-01T08:00:00+00:00", receipt_seq=3,
                                    receipt_hash="b" * 64)
        # The same instant in another offset is the same time.
        manifest["items"][1]["received_at"] = "2026-03-01T17:04:00+08:00"

    assert check(build(edit_manifest=misstate)).problems == [
        "item 1: receipt_seq 3 is not its 'received' event #2",
        "item 1: receipt_hash is not the hash of its 'received' event #2",
        "item 1: received_at '2026-03-01T08:00:00+00:00' is not the time of its 'received' "
        "event #2 (2026-03-01T09:02:00.000000+00:00)"]


def test_altered_sha256sums_line_is_named(dossier, check):
    lines = dossier.files["SHA256SUMS"].decode().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, start=1) if line.endswith("catalog.pdf\n"))
    lines[number - 1] = ("0" if lines[number - 1][0] != "0" else "1") + lines[number - 1][1:]
    dossier.files["SHA256SUMS"] = "".join(lines).encode()
    assert check(dossier).problems == [
        f"SHA256SUMS line {number}: catalog.pdf has SHA-256 {sha256(dossier.files['catalog.pdf'])}"
        f", SHA256SUMS says {lines[number - 1][:64]}"]


def test_file_left_out_of_sha256sums_is_caught(dossier, check):
    sums = dossier.files["SHA256SUMS"].decode().splitlines(keepends=True)
    dossier.files["SHA256SUMS"] = "".join(
        line for line in sums if not line.endswith("catalog.pdf\n")).encode()
    assert check(dossier).problems == ["catalog.pdf is not listed in SHA256SUMS"]


def test_malformed_sha256sums_lines_are_named(dossier, check):
    count = dossier.files["SHA256SUMS"].count(b"\n")
    dossier.files["SHA256SUMS"] += b"garbage\n\n"
    assert check(dossier).problems == [
        f"SHA256SUMS line {count + 1}: not in sha256sum format ('<hex>  <path>')",
        f"SHA256SUMS line {count + 2}: not in sha256sum format ('<hex>  <path>')"]


def test_missing_files_are_named(dossier, check):
    original = dossier.manifest()["items"][0]["original"]
    for path in ("catalog.pdf", original, "previews/003.jpg"):
        del dossier.files[path]
    problems = check(dossier).problems
    assert having(problems, "required file catalog.pdf is missing")
    assert having(problems, "catalog.pdf is listed in manifest.json but missing")
    assert having(problems, f"item 1: original {original} is missing")
    assert having(problems, "item 3: preview previews/003.jpg is missing")
    assert having(problems, "SHA256SUMS line", "previews/003.jpg is missing")


def test_missing_signature_is_named(dossier, check):
    del dossier.files["manifest.sig"]
    problems = check(dossier).problems
    assert "required file manifest.sig is missing" in problems
    assert having(problems, "SHA256SUMS line", "manifest.sig is missing")


def test_extra_file_is_reported_even_when_sha256sums_lists_it(dossier, check):
    dossier.files["notes.txt"] = b"added after export"
    dossier.refresh_sums()
    assert check(dossier).problems == [
        "unexpected file notes.txt (not covered by the signed manifest)"]


def test_corrupt_zip_entry_is_reported_not_raised(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    original = dossier.manifest()["items"][0]["original"]
    raw = path.read_bytes()
    at = raw.index(dossier.files[original]) + 100  # stored, so its bytes sit in the ZIP as is
    path.write_bytes(flip_byte(raw, at))
    problems = verify_dossier(path).problems
    assert having(problems, original, "cannot be read from the ZIP", "CRC")


def test_original_not_named_by_its_number_and_hash_is_reported(dossier, check):
    manifest = dossier.manifest()
    item = manifest["items"][0]
    misnamed = "originals/001-deadbeef.jpg"
    dossier.files[misnamed] = dossier.files.pop(item["original"])
    item["original"] = misnamed
    dossier.sign(manifest)
    assert check(dossier).problems == [
        f"item 1: original {misnamed} is not named originals/001-{item['sha256'][:8]}<ext>"]


def test_files_outside_the_manifest_files_are_not_covered(check):
    def unlist(manifest):
        del manifest["files"]["catalog.pdf"], manifest["files"]["previews/002.jpg"]

    assert check(build(edit_manifest=unlist)).problems == [
        "item 2: preview previews/002.jpg is not listed in the manifest's files",
        "catalog.pdf is not listed in the manifest's files (not covered by the signature)",
        "unexpected file catalog.pdf (not covered by the signed manifest)",
        "unexpected file previews/002.jpg (not covered by the signed manifest)",
    ]


def test_malformed_manifest_item_is_named(check):
    def break_item(manifest):
        manifest["items"][1]["size"] = "big"

    problems = check(build(edit_manifest=break_item)).problems
    assert "manifest.json item #2: 'size' is missing or malformed" in problems


def test_files_are_hashed_in_chunks(dossier, check, monkeypatch):
    from fieldapp.dossiers import verify

    monkeypatch.setattr(verify, "CHUNK", 7)
    assert check(dossier).problems == []


def test_damaged_zip_bytes_never_crash_the_verifier(dossier, tmp_path):
    raw = write_zip(dossier, tmp_path / "dossier.zip").read_bytes()
    damaged = tmp_path / "damaged.zip"
    for position in range(0, len(raw), max(1, len(raw) // 300)):
        damaged.write_bytes(flip_byte(raw, position))
        result = verify_dossier(damaged)
        if result.ok:  # only bytes outside the contents (times, attributes) may change
            with zipfile.ZipFile(damaged) as zf:
                assert {info.filename: zf.read(info) for info in zf.infolist()} == {
                    f"{LABEL}/{path}": data for path, data in dossier.files.items()}


# --- signatures and keys ---------------------------------------------------------------------

def test_signature_by_another_key_fails(dossier, check):
    dossier.files["manifest.sig"] = Ed25519PrivateKey.generate().sign(
        dossier.files["manifest.json"])
    dossier.refresh_sums()
    assert check(dossier).problems == [
        "manifest.sig: the signature over manifest.json does not verify with public_key.pem "
        "(manifest.json was changed, or signed with another key)"]


def test_resigned_dossier_fails_against_the_pinned_key(dossier, tmp_path):
    published = public_pem(dossier.key)
    impostor = Ed25519PrivateKey.generate()
    dossier.sign(dossier.manifest(), key=impostor)
    path = write_zip(dossier, tmp_path / "dossier.zip")
    unpinned = verify_dossier(path)
    assert unpinned.ok  # self-consistent: only the pinned key can tell, and the OK line says so
    assert unpinned.summary.endswith(f"signature by key {fingerprint(impostor)} (not compared "
                                     "with the NGO's published key: use --key)")
    problems = verify_dossier(path, expected_key_pem=published).problems
    assert problems == [f"public_key.pem ({fingerprint(impostor)}) is not the expected key "
                        f"({fingerprint(dossier.key)})"]


def test_truncated_signature_is_named(dossier, check):
    dossier.files["manifest.sig"] = dossier.files["manifest.sig"][:63]
    dossier.refresh_sums()
    assert check(dossier).problems == [
        "manifest.sig is 63 bytes; an Ed25519 signature is 64"]


def test_manifest_of_another_format_is_refused(check):
    def other_format(manifest):
        manifest["format"] = "fieldapp-dossier/2"

    problems = check(build(edit_manifest=other_format)).problems
    assert having(problems, "manifest.json: format is 'fieldapp-dossier/2'")


def test_manifest_with_duplicate_keys_is_refused(dossier, check):
    manifest = dossier.files["manifest.json"]
    dossier.files["manifest.json"] = manifest.replace(b"{", b'{"format": "x",', 1)
    dossier.files["manifest.sig"] = dossier.key.sign(dossier.files["manifest.json"])
    dossier.refresh_sums()
    assert having(check(dossier).problems, "manifest.json is not valid UTF-8 JSON",
                  "duplicate key 'format'")


# --- hostile manifests and custody files: a verdict, never a traceback ----------------------

def with_stamp(seq: int, items=(0,)):
    """A manifest edit naming a time-stamp of custody event #seq (a junk token) for items."""
    def edit(manifest):
        manifest["timestamps"] = [{"file": "timestamps/x.tsr", "custody_seq": seq,
                                   "custody_hash": "a" * 64, "tsa": "https://tsa.example",
                                   "gen_time": "2026-03-01T10:00:00+00:00"}]
        manifest["files"]["timestamps/x.tsr"] = sha256(b"junk")
        for index in items:
            manifest["items"][index]["timestamps"] = ["timestamps/x.tsr"]
    return edit


def build_stamped(edit_after=None) -> Dossier:
    def edit(manifest):
        with_stamp(12)(manifest)
        if edit_after:
            edit_after(manifest)
    dossier = build(edit_manifest=edit)
    dossier.files["timestamps/x.tsr"] = b"junk"
    dossier.refresh_sums()
    return dossier


@pytest.mark.parametrize("entry", [[], {}, ["timestamps/x.tsr"], 7, None])
def test_item_time_stamp_of_the_wrong_type_is_named_not_raised(check, entry):
    def odd_entry(manifest):
        manifest["items"][1]["timestamps"] = [entry]

    problems = check(build_stamped(odd_entry)).problems
    assert f"item 2: time-stamp {entry!r} is not in the manifest's timestamps" in problems


def test_a_token_file_named_by_two_time_stamp_entries_is_named(check):
    """Only one entry can be checked against the token; the other's claims (another event,
    another time, which the catalog would show) would go unchecked."""
    def twice(manifest):
        manifest["timestamps"].insert(0, dict(manifest["timestamps"][0], custody_seq=5,
                                              gen_time="2026-03-01T09:06:00+00:00"))

    problems = check(build_stamped(twice)).problems
    assert "manifest.json timestamps #2: timestamps/x.tsr is named by an earlier entry too" \
        in problems


def test_deeply_nested_manifest_is_named_not_raised(dossier, check):
    dossier.files["manifest.json"] = b"[" * 100_000 + b"]" * 100_000
    dossier.refresh_sums()
    assert having(check(dossier).problems, "manifest.json is not valid UTF-8 JSON",
                  "nested too deeply")


def test_deeply_nested_custody_line_is_named_and_the_next_lines_are_read(dossier, check):
    lines = custody_lines(dossier)
    lines[3] = b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n"
    dossier.files["custody.jsonl"] = b"".join(lines)
    problems = check(dossier).problems
    assert having(problems, "custody.jsonl line 4", "nested too deeply")
    assert not having(problems, "cannot be read from the ZIP")
    # Every line was still read: none is counted as removed.
    assert not having(problems, "events removed or added")


def test_time_stamp_far_beyond_the_custody_file_is_named_at_once(check):
    def far(manifest):
        manifest["timestamps"][0]["custody_seq"] = 10 ** 15

    started = time.monotonic()
    problems = check(build_stamped(far)).problems
    assert time.monotonic() - started < 10
    assert having(problems, "item 1: the custody file lacks intact event #6, between its "
                  f"receipt (#2) and the time-stamped event #{10 ** 15}")


# --- the ZIP's layout ------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    (f"{LABEL}/../../evil.txt", "path goes up with '..'"),
    ("/etc/cron.d/evil", "absolute path"),
    (f"{LABEL}\\..\\evil.txt", "backslash in path"),
])
def test_path_traversal_entry_is_refused(dossier, check, name, reason):
    problems = check(dossier, extra=[(name, b"payload")]).problems
    assert problems == [f"ZIP entry {name!r} refused: {reason}"]


def test_symbolic_link_entry_is_refused(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    link = zipfile.ZipInfo(f"{LABEL}/previews/link.jpg")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    assert verify_dossier(path).problems == [
        f"ZIP entry '{LABEL}/previews/link.jpg' refused: symbolic link"]


def test_second_top_folder_is_reported(dossier, check):
    problems = check(dossier, extra=[("other/readme.txt", b"x")]).problems
    assert problems == [f"ZIP must hold exactly one top folder; found: {LABEL}/, other/"]


def test_folder_not_named_after_the_label_is_reported(dossier, check):
    problems = check(dossier, label="renamed").problems
    assert problems == [f"top folder renamed/ is not the manifest's dossier label '{LABEL}'"]


def test_duplicate_entry_is_reported(dossier, check):
    with pytest.warns(UserWarning, match="Duplicate name"):
        problems = check(dossier, extra=[(f"{LABEL}/catalog.pdf", b"%PDF- other")]).problems
    assert having(problems, f"'{LABEL}/catalog.pdf' occurs more than once")


def test_names_cannot_write_lines_of_their_own_into_the_verdict(dossier, tmp_path):
    """An entry named with a newline, a terminal escape or a right-to-left override would
    print an "OK:" line of its own (or erase lines on a terminal) among the problems."""
    fake = f"x\nOK: {LABEL}: 3 items, signature by key SHA256:abc\x1b[1A\x1b[2K\u202egpj.exe"
    path = write_zip(dossier, tmp_path / "dossier.zip", extra=[(f"{LABEL}/{fake}", b"x")])
    done = run_script(VERIFY_PY, path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["PROBLEM", "PROBLEM", "FAILED"]
    assert all(line.isprintable() for line in lines)
    assert "unexpected file x\\nOK: " in done.stdout and "\\x1b[1A\\x1b[2K\\u202egpj.exe" in \
        done.stdout


def local_entry(name: str, data: bytes) -> bytes:
    """A ZIP entry's local header and data, as a streaming reader finds them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(name, data)
        zf.comment = b""
    raw = out.getvalue()
    return raw[:raw.index(b"PK\x01\x02")]


def directory_offset(raw: bytes) -> int:
    return struct.unpack_from("<L", raw, len(raw) - 22 + 16)[0]


def with_hidden_entry(raw: bytes, hidden: bytes, at: str) -> bytes:
    """raw with hidden bytes before its first entry (zipfile reads past a prefix) or before
    its central directory (the end record's directory offset moved to match)."""
    if at == "start":
        return hidden + raw
    offset = directory_offset(raw)
    changed = raw[:offset] + hidden + raw[offset:]
    end = len(changed) - 22
    return changed[:end + 16] + struct.pack("<L", offset + len(hidden)) + changed[end + 20:]


@pytest.mark.parametrize("at", ["start", "before the directory"])
def test_an_entry_hidden_outside_the_central_directory_is_named(dossier, tmp_path, at):
    """A reader that unpacks a ZIP as a stream (local headers in order) would unpack the
    hidden photo, over the original that was checked; zipfile never sees it."""
    original = dossier.manifest()["items"][0]["original"]
    hidden = local_entry(f"{LABEL}/{original}", jpeg(9))
    raw = write_zip(dossier, tmp_path / "dossier.zip").read_bytes()
    path = tmp_path / "hidden.zip"
    path.write_bytes(with_hidden_entry(raw, hidden, at))
    with zipfile.ZipFile(path) as zf:
        assert zf.read(f"{LABEL}/{original}") == dossier.files[original]
    start = 0 if at == "start" else directory_offset(raw)
    assert verify_dossier(path).problems == [
        f"ZIP bytes {start} to {start + len(hidden)} belong to no entry of the central "
        "directory (a reader that unpacks the ZIP as a stream would find what is hidden "
        "there)"]


def test_bytes_after_the_end_of_the_zip_are_named(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    comment = b"PK\x03\x04 a ZIP comment can hold anything"
    with zipfile.ZipFile(path, "a") as zf:
        zf.comment = comment
    problems = verify_dossier(path).problems
    assert problems == ["the ZIP has a comment or bytes after its end record "
                        f"({len(comment)} bytes that belong to no entry)"]


def unicode_path(entry_name: str, path: str) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075): unzip names the entry by it."""
    field = struct.pack("<BL", 1, zlib.crc32(entry_name.encode())) + path.encode()
    return struct.pack("<HH", 0x7075, len(field)) + field


def test_a_folder_entry_renamed_for_unzip_is_refused(dossier, tmp_path):
    """zipfile, and so the verifier, takes an entry named "x/" for a folder and never reads
    it; unzip takes the Unicode Path field's name, and unpacks the bytes over the original."""
    original = dossier.manifest()["items"][0]["original"]
    path = write_zip(dossier, tmp_path / "dossier.zip")
    folder = zipfile.ZipInfo(f"{LABEL}/x/")
    folder.extra = unicode_path(folder.filename, f"{LABEL}/{original}")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(folder, b"forged photo")
    subprocess.run(["unzip", "-o", "-q", str(path)], cwd=tmp_path, check=True)
    assert (tmp_path / LABEL / original).read_bytes() == b"forged photo"
    assert verify_dossier(path).problems == [
        f"ZIP entry '{LABEL}/x/' refused: its Unicode Path field names it "
        f"'{LABEL}/{original}'"]


def test_a_folder_entry_whose_local_header_names_a_file_is_named(dossier, tmp_path):
    """A reader that unpacks as a stream takes the local header's name; zipfile compares it
    with the directory's only when it opens an entry, and never opens a folder."""
    original = dossier.manifest()["items"][0]["original"]
    folder = f"{LABEL}/{'x' * (len(original) - 1)}/"
    path = write_zip(dossier, tmp_path / "dossier.zip")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(folder, b"")
    with zipfile.ZipFile(path) as zf:
        at = zf.getinfo(folder).header_offset + 30  # the local header's name
    raw = path.read_bytes()
    assert raw[at:at + len(folder)] == folder.encode()
    path = tmp_path / "renamed.zip"
    path.write_bytes(raw[:at] + f"{LABEL}/{original}".encode() + raw[at + len(folder):])
    assert verify_dossier(path).problems == [
        f"ZIP entry '{folder}': its local header names it '{LABEL}/{original}'",
        f"unexpected folder entry {folder} (no file of the dossier lies in it)"]


def test_folder_entries_are_named_unless_they_hold_files(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(f"{LABEL}/originals/", b"")  # as zip -r writes: fine
        zf.writestr(f"{LABEL}/empty/", b"")
        zf.writestr(f"{LABEL}/manifest.json/", b"")  # unpacked, it collides with the file
        zf.writestr(f"{LABEL}/previews/", b"data")
    assert verify_dossier(path).problems == [
        f"unexpected folder entry {LABEL}/empty/ (no file of the dossier lies in it)",
        f"unexpected folder entry {LABEL}/manifest.json/ (no file of the dossier lies in it)",
        f"folder entry {LABEL}/previews/ holds 4 bytes"]


def test_file_that_is_not_a_zip_is_unreadable(tmp_path):
    path = tmp_path / "dossier.zip"
    path.write_bytes(b"this is not a zip file")
    result = verify_dossier(path)
    assert not result.readable and not result.ok
    assert having(result.problems, "cannot be read as a ZIP file")


# --- the command line ------------------------------------------------------------------------

def test_script_alone_prints_ok_and_exits_0(dossier, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(VERIFY_PY, alone / "verify.py")
    path = write_zip(dossier, tmp_path / "dossier.zip")
    done = run_script("-I", alone / "verify.py", path, cwd=alone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK: {LABEL}: 3 items")


def test_script_prints_each_problem_and_exits_1(dossier, tmp_path):
    del dossier.files["catalog.pdf"]
    path = write_zip(dossier, tmp_path / "dossier.zip")
    done = run_script(VERIFY_PY, path)
    assert done.returncode == 1
    problems = [line for line in done.stdout.splitlines() if line.startswith("PROBLEM: ")]
    assert "PROBLEM: required file catalog.pdf is missing" in problems
    assert len(problems) == len(verify_dossier(path).problems)


def test_script_with_wrong_pinned_key_exits_1(dossier, tmp_path):
    path = write_zip(dossier, tmp_path / "dossier.zip")
    key_file = tmp_path / "published.pem"
    key_file.write_bytes(public_pem(Ed25519PrivateKey.generate()))
    done = run_script(VERIFY_PY, path, "--key", key_file)
    assert done.returncode == 1
    assert "is not the expected key" in done.stdout


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_script_exits_2_on_unreadable_file(tmp_path, content):
    path = tmp_path / "dossier.zip"
    if content is not None:
        path.write_bytes(content)
    done = run_script(VERIFY_PY, path)
    assert done.returncode == 2
    assert done.stderr.startswith("ERROR: ")


def test_script_exits_2_on_usage_error(dossier, tmp_path):
    assert run_script(VERIFY_PY).returncode == 2
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("not a key")
    done = run_script(VERIFY_PY, write_zip(dossier, tmp_path / "dossier.zip"), "--key", not_a_key)
    assert done.returncode == 2
    assert done.stderr.startswith("ERROR: --key")


# --- ordinary tools agree --------------------------------------------------------------------

def unpacked(dossier: Dossier, tmp_path: Path) -> Path:
    with zipfile.ZipFile(write_zip(dossier, tmp_path / "dossier.zip")) as zf:
        zf.extractall(tmp_path / "out")
    return tmp_path / "out" / LABEL


def test_sha256sum_accepts_the_unpacked_dossier(dossier, tmp_path):
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked(dossier, tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_openssl_verifies_the_signature(dossier, tmp_path):
    folder = unpacked(dossier, tmp_path)
    done = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.sig"],
        cwd=folder, capture_output=True, text=True, timeout=60)
    assert "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


def test_verify_py_imports_only_stdlib_and_cryptography():
    tree = ast.parse(VERIFY_PY.read_text())
    # Imports guarded by `except ImportError` are optional: the file runs without them.
    optional_nodes = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Try)
                      and any(isinstance(handler.type, ast.Name)
                              and handler.type.id == "ImportError" for handler in node.handlers)
                      for statement in node.body for inner in ast.walk(statement)}
    roots, optional = set(), set()
    for node in ast.walk(tree):
        names = set()
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            names = {node.module.split(".")[0]}
        (optional if id(node) in optional_nodes else roots).update(names)
    allowed = set(sys.stdlib_module_names) | {"__future__", "cryptography"}
    assert roots <= allowed, roots - allowed
    assert "cryptography" in roots
    assert optional == {"rfc3161_client"}

"""Dossiers carry RFC 3161 time-stamps over their custody chain, SM3 digests and an honest
statement of the system; a real local TSA signs (openssl ts -reply), openssl checks."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldapp.custody import chain
from fieldapp.dossiers import manifest as mf
from tests.helpers import auth, post_report, report_json, role_tokens
from tests.imagegen import jpeg_bytes
from tests.tsa import closed_port_url, configured

VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "fieldapp" / "dossiers" / "verify.py"


def _case_with_items(client, tokens, seeds) -> str:
    site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "某印染厂", "geometry": {"type": "Point", "coordinates": [113.39, 23.18]}})
    assert site.status_code == 201, site.get_json()
    case = client.post("/api/v1/cases", headers=auth(tokens["lawyer"]), json={
        "site_id": site.get_json()["id"], "title": "印染厂排污"}).get_json()
    for seed in seeds:
        photo = jpeg_bytes(seed=seed, lat=23.18, lon=113.39)
        report = post_report(client, tokens["volunteer"], report_json(), [(photo, "p.jpg")])
        assert report.status_code == 201
        item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(tokens["lawyer"]),
                           json={"photo_id": report.get_json()["photos"][0]["id"],
                                 "title": f"照片 {seed}", "purpose": "证明排污"})
        assert item.status_code == 201
    return case["id"]


def _freeze(client, case_id, lawyer) -> dict:
    """Ask for a dossier and return its record once the freeze has run (201 at once, or 202
    and the freeze job run here as the job worker would)."""
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(lawyer))
    if asked.status_code != 202:
        return {"status_code": asked.status_code, **asked.get_json()}
    from tests.helpers import run_jobs

    run_jobs(client.application)
    shown = client.get(asked.get_json()["links"]["self"], headers=auth(lawyer))
    return {"status_code": shown.status_code, **shown.get_json()}


def _freeze_and_download(client, case_id, lawyer) -> tuple[dict, bytes]:
    frozen = _freeze(client, case_id, lawyer)
    assert frozen["status_code"] in (200, 201) and frozen.get("status", "frozen") == "frozen", \
        frozen
    download = client.get(f"/api/v1/dossiers/{frozen['id']}/download", headers=auth(lawyer))
    assert download.status_code == 200
    return frozen, download.data


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def _rezip(entries: dict[str, bytes], top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(f"{top}/{name}", data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stamped(app, tsa, tmp_path_factory):
    """A two-item dossier frozen with the local TSA configured; the second photo arrives
    after the last anchor, so the freeze must ask the TSA itself."""
    client = app.test_client()
    tokens = role_tokens(app, "stamps", ("volunteer", "coordinator", "lawyer"))
    with configured(app, [tsa.url], tsa.ca_file):
        case_id = _case_with_items(client, tokens, [3101])
        assert app.test_cli_runner().invoke(args=["custody", "anchor"]).exit_code == 0
        photo = jpeg_bytes(seed=3102, lat=23.18, lon=113.39)
        late = post_report(client, tokens["volunteer"], report_json(), [(photo, "q.jpg")])
        client.post(f"/api/v1/cases/{case_id}/items", headers=auth(tokens["lawyer"]), json={
            "photo_id": late.get_json()["photos"][0]["id"], "title": "照片 late",
            "purpose": "证明排污时间"})
        asked = tsa.requests
        dossier, data = _freeze_and_download(client, case_id, tokens["lawyer"])
        asked_by_freeze = tsa.requests - asked
    path = tmp_path_factory.mktemp("stamped") / "dossier.zip"
    path.write_bytes(data)
    entries = _entries(data)
    return {"zip": data, "path": path, "entries": entries, "dossier": dossier,
            "manifest": json.loads(entries["manifest.json"]), "asked": asked_by_freeze,
            "top": dossier["label"]}


def test_every_receipt_is_covered_and_the_freeze_asked_for_the_missing_anchor(stamped):
    manifest = stamped["manifest"]
    assert stamped["asked"] == 1
    stamps = {entry["file"]: entry for entry in manifest["timestamps"]}
    assert stamps and all(name.startswith("timestamps/") for name in stamps)
    events = [json.loads(line) for line in
              stamped["entries"]["custody.jsonl"].decode().splitlines()]
    by_seq = {event["seq"]: event for event in events}
    for item in manifest["items"]:
        assert item["timestamps"], item["number"]
        received = by_seq[item["receipt_seq"]]
        assert (received["action"], received["subject_id"]) == ("received", item["photo_id"])
        for name in item["timestamps"]:
            entry = stamps[name]
            assert entry["custody_seq"] >= item["receipt_seq"]
            # The whole walk from the photo to the neutral time is in the extract.
            assert all(seq in by_seq
                       for seq in range(item["receipt_seq"], entry["custody_seq"] + 1))
            assert by_seq[entry["custody_seq"]]["hash"] == entry["custody_hash"]
            assert stamped["entries"][name] and manifest["files"][name] == hashlib.sha256(
                stamped["entries"][name]).hexdigest()


def test_each_token_passes_openssl_ts_verify(stamped, tsa, tmp_path):
    for entry in stamped["manifest"]["timestamps"]:
        token = tmp_path / Path(entry["file"]).name
        token.write_bytes(stamped["entries"][entry["file"]])
        result = subprocess.run(["openssl", "ts", "-verify", "-digest", entry["custody_hash"],
                                 "-in", str(token), "-CAfile", str(tsa.ca_file)],
                                capture_output=True, text=True)
        assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
        assert entry["tsa"] == tsa.url
        # The wrong digest is refused by the same command: the check is not vacuous.
        wrong = subprocess.run(["openssl", "ts", "-verify", "-digest", "00" * 32,
                                "-in", str(token), "-CAfile", str(tsa.ca_file)],
                               capture_output=True, text=True)
        assert wrong.returncode != 0


def test_the_dossier_verifies_with_its_tsa_root(app, stamped, tsa):
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(stamped["path"]),
                                                "--tsa-ca", str(tsa.ca_file)])
    assert result.exit_code == 0, result.output
    count = len(stamped["manifest"]["timestamps"])
    assert f"{count} time-stamps ({count} verified against --tsa-ca)" in result.output
    alone = subprocess.run([sys.executable, str(VERIFY_SCRIPT), str(stamped["path"]),
                            "--tsa-ca", str(tsa.ca_file)], capture_output=True, text=True)
    assert alone.returncode == 0, alone.stdout + alone.stderr


WITHOUT_RFC3161_CLIENT = ("import runpy, sys; sys.modules['rfc3161_client'] = None; "
                          "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], "
                          "run_name='__main__')")


def test_the_standalone_verifier_falls_back_to_openssl(stamped, tsa, tmp_path):
    """A reader without rfc3161-client still checks the tokens, with openssl ts -verify."""
    alone = subprocess.run([sys.executable, "-c", WITHOUT_RFC3161_CLIENT, str(VERIFY_SCRIPT),
                            str(stamped["path"]), "--tsa-ca", str(tsa.ca_file)],
                           capture_output=True, text=True)
    count = len(stamped["manifest"]["timestamps"])
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert f"({count} verified against --tsa-ca)" in alone.stdout
    entries = dict(stamped["entries"])
    name = stamped["manifest"]["timestamps"][0]["file"]
    entries[name] = entries[name][:-1] + bytes([entries[name][-1] ^ 1])
    changed = tmp_path / "changed.zip"
    changed.write_bytes(_rezip(entries, stamped["top"]))
    refused = subprocess.run([sys.executable, "-c", WITHOUT_RFC3161_CLIENT, str(VERIFY_SCRIPT),
                              str(changed), "--tsa-ca", str(tsa.ca_file)],
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert f"PROBLEM: {name}: openssl ts -verify fails" in refused.stdout


@pytest.mark.parametrize("reader", ["rfc3161-client", "openssl"])
def test_tokens_swapped_between_entries_are_caught(app, stamped, tsa, tmp_path, reader):
    """Each token is a genuine one of this dossier, re-signed under the other's entry: each
    time-stamps another custody hash than its entry says, without a root too."""
    entries, manifest = dict(stamped["entries"]), json.loads(stamped["entries"]["manifest.json"])
    first, second = (entry["file"] for entry in manifest["timestamps"][:2])
    entries[first], entries[second] = entries[second], entries[first]
    manifest["files"][first], manifest["files"][second] = (manifest["files"][second],
                                                           manifest["files"][first])
    path = _resigned(app, entries, manifest, stamped["top"], tmp_path / "swapped.zip")
    prefix = [sys.executable] + (["-c", WITHOUT_RFC3161_CLIENT] if reader == "openssl" else [])
    done = subprocess.run([*prefix, str(VERIFY_SCRIPT), str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    for entry in manifest["timestamps"][:2]:
        assert (f"PROBLEM: {entry['file']}: it does not time-stamp custody hash "
                f"{entry['custody_hash']}") in done.stdout


@pytest.mark.parametrize("reader", ["rfc3161-client", "openssl"])
@pytest.mark.parametrize("with_root", [True, False])
def test_a_time_stamp_time_moved_in_the_manifest_is_caught(app, stamped, tsa, tmp_path, reader,
                                                         with_root):
    """The catalog shows the manifest's gen_time: re-signed an hour earlier, it must not pass,
    whichever reader the verifier finds on the expert's machine, and with or without a root."""
    entries, manifest = dict(stamped["entries"]), json.loads(stamped["entries"]["manifest.json"])
    entry = manifest["timestamps"][0]
    moved = datetime.fromisoformat(entry["gen_time"]) - timedelta(hours=1)
    entry["gen_time"] = moved.isoformat()
    path = _resigned(app, entries, manifest, stamped["top"], tmp_path / "moved.zip")
    prefix = [sys.executable] + (["-c", WITHOUT_RFC3161_CLIENT] if reader == "openssl" else [])
    root = ["--tsa-ca", str(tsa.ca_file)] if with_root else []
    done = subprocess.run([*prefix, str(VERIFY_SCRIPT), str(path), *root], capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"PROBLEM: {entry['file']}: its time " in done.stdout
    assert f"is not the manifest's {entry['gen_time']}" in done.stdout


README = Path(__file__).resolve().parents[2] / "README.md"


def _manual_checks() -> str:
    """The README's commands for checking a dossier by hand, as written (the unzip line and
    the blocks running verify.py left out: the folder is unpacked here, and verify.py is
    tested on its own)."""
    section = README.read_text().split("## Dossiers, and how to verify one", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in section.split("```sh\n")[1:]]
    lines = [line for block in blocks if "verify.py" not in block
             for line in block.splitlines() if not line.startswith("unzip ")]
    return "\n".join(lines) + "\n"


def _run_manual_checks(folder: Path, ca_file: Path) -> subprocess.CompletedProcess:
    (folder.parent / "tsa-root.pem").write_bytes(ca_file.read_bytes())
    script = _manual_checks().replace("-CAfile tsa-root.pem", "-CAfile ../tsa-root.pem")
    return subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True)


def test_the_readmes_checks_by_hand_work_as_written(stamped, tsa, tmp_path):
    folder = tmp_path / stamped["top"]
    with zipfile.ZipFile(stamped["path"]) as archive:
        archive.extractall(tmp_path)
    done = _run_manual_checks(folder, tsa.ca_file)
    assert "FAILED" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
    assert done.stdout.count("Verification: OK") == len(stamped["manifest"]["timestamps"])
    assert done.stdout.count("Time stamp: ") == len(stamped["manifest"]["timestamps"])
    for item in stamped["manifest"]["items"]:
        assert f"{item['original']}: OK" in done.stdout
    # The key's fingerprint, to compare with the one the NGO publishes (GET /api/v1/keys).
    key = (folder / "public_key.pem").read_bytes()
    from fieldapp.dossiers.verify import _key_fingerprint, load_public_key

    assert _key_fingerprint(load_public_key(key)).split(":")[1] in done.stdout


def test_the_readmes_checks_by_hand_catch_a_swapped_photo(stamped, tsa, tmp_path):
    """SHA256SUMS is not signed: a swapped original with SHA256SUMS written afresh passes
    sha256sum -c SHA256SUMS, and the signature still holds. The checks by hand must hold
    each file to the signed manifest."""
    folder = tmp_path / stamped["top"]
    with zipfile.ZipFile(stamped["path"]) as archive:
        archive.extractall(tmp_path)
    original = folder / stamped["manifest"]["items"][0]["original"]
    original.write_bytes(jpeg_bytes(seed=3998, lat=23.18, lon=113.39))
    sums = (folder / "SHA256SUMS").read_text().splitlines()
    name = original.relative_to(folder).as_posix()
    (folder / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256(original.read_bytes()).hexdigest()}  {name}\n"
        if line.endswith(f"  {name}") else line + "\n" for line in sums))
    done = _run_manual_checks(folder, tsa.ca_file)
    assert f"{name}: FAILED" in done.stdout, done.stdout + done.stderr


def test_a_token_changed_by_one_byte_fails_verification(app, stamped, tsa, tmp_path):
    entries = dict(stamped["entries"])
    name = stamped["manifest"]["timestamps"][0]["file"]
    token = bytearray(entries[name])
    token[-1] ^= 0x01  # inside the TSA's signature
    entries[name] = bytes(token)
    path = tmp_path / "changed.zip"
    path.write_bytes(_rezip(entries, stamped["top"]))
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(path),
                                                "--tsa-ca", str(tsa.ca_file)])
    assert result.exit_code == 1
    assert f"PROBLEM: {name}: does not verify against --tsa-ca" in result.output


def _resigned(app, entries: dict[str, bytes], manifest: dict, top: str, path: Path) -> Path:
    """The entries with this manifest, signed with the server's own key and summed afresh:
    what someone holding that key could ship."""
    from fieldapp.dossiers import keys

    entries["manifest.json"] = mf.manifest_bytes(manifest)
    with app.app_context():
        entries["manifest.sig"] = keys.signing_key(app.config["FIELDAPP_DATA_DIR"]).sign(
            entries["manifest.json"])
    entries["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(entries.items()) if name != "SHA256SUMS").encode()
    path.write_bytes(_rezip(entries, top))
    return path


def test_a_photo_swapped_after_its_time_stamp_fails_even_under_the_servers_key(
        app, stamped, tsa, tmp_path):
    """Someone holding the server's key swaps an original after its receipt was time-stamped
    and appends a second "received" event for it, with the new hash, after the anchor: every
    hash, link and signature agrees, and the time-stamp still covers only the first."""
    entries, manifest = dict(stamped["entries"]), json.loads(stamped["entries"]["manifest.json"])
    item = manifest["items"][0]
    events = [json.loads(line) for line in entries["custody.jsonl"].decode().splitlines()]
    doctored = jpeg_bytes(seed=3999, lat=23.18, lon=113.39)
    sha256 = hashlib.sha256(doctored).hexdigest()
    del entries[item["original"]]
    item["original"] = f"originals/001-{sha256[:8]}.jpg"
    entries[item["original"]] = doctored
    item.update(sha256=sha256, size=len(doctored), sm3=hashlib.new("sm3", doctored).hexdigest())
    head = manifest["custody"]
    received = next(e for e in events if e["seq"] == item["receipt_seq"])
    forged = dict(received, seq=head["head_seq"] + 1, prev_hash=head["head_hash"],
                  details=dict(received["details"], sha256=sha256, size=len(doctored)))
    forged["hash"] = chain.link_hash(forged["prev_hash"], forged)
    entries["custody.jsonl"] += json.dumps(forged, ensure_ascii=False, sort_keys=True).encode() \
        + b"\n"
    head.update(head_seq=forged["seq"], head_hash=forged["hash"], events=len(events) + 1)
    manifest["files"]["custody.jsonl"] = hashlib.sha256(entries["custody.jsonl"]).hexdigest()
    path = _resigned(app, entries, manifest, stamped["top"], tmp_path / "swapped.zip")
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(path),
                                                "--tsa-ca", str(tsa.ca_file)])
    assert result.exit_code == 1, result.output
    assert (f"PROBLEM: item 1: custody.jsonl has 2 'received' events for photo "
            f"{item['photo_id']} (#{item['receipt_seq']}, #{forged['seq']})") in result.output


def test_a_forged_token_fails_even_under_a_valid_manifest_signature(app, stamped, tsa,
                                                                     tmp_path):
    """Someone holding the server's signing key re-signs a manifest over a changed token:
    the hashes and the signature all agree, and the token still gives it away."""
    entries = dict(stamped["entries"])
    manifest = json.loads(entries["manifest.json"])
    name = manifest["timestamps"][0]["file"]
    token = bytearray(entries[name])
    token[-1] ^= 0x01
    entries[name] = bytes(token)
    manifest["files"][name] = hashlib.sha256(entries[name]).hexdigest()
    path = _resigned(app, entries, manifest, stamped["top"], tmp_path / "forged.zip")
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(path),
                                                "--tsa-ca", str(tsa.ca_file)])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    assert problems == [f"PROBLEM: {name}: does not verify against --tsa-ca "
                        + problems[0].split("--tsa-ca ", 1)[1]]


def test_a_token_from_another_root_fails(app, stamped, tmp_path):
    from tests.tsa import make_authority

    make_authority(tmp_path / "other", "other")
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(stamped["path"]),
                                                "--tsa-ca", str(tmp_path / "other" / "ca.pem")])
    assert result.exit_code == 1
    assert "does not verify against --tsa-ca" in result.output


def test_sm3_of_each_original_is_openssls(stamped, tmp_path):
    for item in stamped["manifest"]["items"]:
        original = tmp_path / Path(item["original"]).name
        original.write_bytes(stamped["entries"][item["original"]])
        result = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(original)],
                                capture_output=True, text=True, check=True)
        assert item["sm3"] == result.stdout.split()[0]
        assert len(item["sm3"]) == 64 and item["sm3"] != item["sha256"]


def test_the_system_statement_is_honest_and_names_no_one(stamped):
    manifest = stamped["manifest"]
    system = manifest["system"]
    assert "triggers refuse any change" not in system["description"]
    assert "owner or a superuser could" in system["description"]
    assert system["environment"]["postgresql"] and system["environment"]["postgis"]
    assert system["environment"]["fieldapp"] and system["environment"]["os"]
    assert system["timestamping"].startswith("Every item's receipt is covered")
    assert "does not show" in system["limits"]
    for item in manifest["items"]:
        roles = {handler["role"] for handler in item["handlers"]}
        assert "volunteer" in roles and "lawyer" in roles
        assert all("@" not in json.dumps(handler) for handler in item["handlers"])
    assert b"@example.org" not in stamped["zip"]


def test_without_a_tsa_the_dossier_says_it_has_no_timestamps(app, tsa, tmp_path):
    client = app.test_client()
    tokens = role_tokens(app, "nostamps", ("volunteer", "coordinator", "lawyer"))
    with configured(app, [], None):
        case_id = _case_with_items(client, tokens, [3201])
        _, data = _freeze_and_download(client, case_id, tokens["lawyer"])
    manifest = json.loads(_entries(data)["manifest.json"])
    path = tmp_path / "plain.zip"
    path.write_bytes(data)
    uncovered = [item for item in manifest["items"] if not item["timestamps"]]
    if manifest["timestamps"]:
        # Anchors made earlier in this run may cover the receipt; then none is left out.
        assert manifest["system"]["timestamping"].startswith("Every item's receipt")
    else:
        assert manifest["system"]["timestamping"] == mf.NO_TIMESTAMPS
        assert len(uncovered) == len(manifest["items"])
        plain = app.test_cli_runner().invoke(args=["dossier", "verify", str(path)])
        assert plain.exit_code == 0 and "0 time-stamps" in plain.output
        with_root = app.test_cli_runner().invoke(args=["dossier", "verify", str(path),
                                                       "--tsa-ca", str(tsa.ca_file)])
        assert with_root.exit_code == 1 and "carries no time-stamps" in with_root.output


def test_a_tsa_that_is_down_fails_the_freeze_cleanly(app, tsa):
    client = app.test_client()
    tokens = role_tokens(app, "downstamps", ("volunteer", "coordinator", "lawyer"))
    with configured(app, [closed_port_url()], tsa.ca_file):
        case_id = _case_with_items(client, tokens, [3301])
        # A receipt no anchor covers yet: the freeze has to ask, and cannot.
        frozen = _freeze(client, case_id, tokens["lawyer"])
    if frozen["status_code"] == 503:  # frozen in the request
        assert frozen["sub_code"] == "TSA_UNAVAILABLE"
        assert "Connection refused" in frozen["message"]
        listed = client.get(f"/api/v1/cases/{case_id}/dossiers",
                            headers=auth(tokens["lawyer"]))
        assert listed.get_json() == []
    else:  # frozen by a job: the dossier says why it failed, and is not frozen
        assert frozen["status"] == "failed"
        assert "Connection refused" in json.dumps(frozen["error"])
        download = client.get(f"/api/v1/dossiers/{frozen['id']}/download",
                              headers=auth(tokens["lawyer"]))
        assert download.status_code in (404, 409)


def test_the_catalog_states_each_anchor_and_answers_article_93(stamped, tsa, tmp_path):
    pdf = tmp_path / "catalog.pdf"
    pdf.write_bytes(stamped["entries"]["catalog.pdf"])
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    manifest = stamped["manifest"]
    environment = manifest["system"]["environment"]
    for fact in ("About the system", "Art. 93", "Software and versions",
                 f"PostgreSQL: {environment['postgresql']}",
                 f"PostGIS: {environment['postgis']}", "Monitoring", "Limits",
                 "Who handled each item", "owner or a superuser could"):
        assert fact in text, fact
    for item in manifest["items"]:
        assert item["sm3"] in text
        for handler in item["handlers"]:
            if handler["pseudonym"]:
                assert handler["pseudonym"] in text
    # Per item: the authority's time, the authority and the gap after receipt.
    assert text.count("after receipt") == sum(len(i["timestamps"]) for i in manifest["items"])
    assert tsa.url in text
    assert "database triggers refuse any change" not in text

"""Temp spools left by a killed process are swept; those still being written are not."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from fieldapp.storage.blobs import BlobStore, sweep_stale_spools

# A process that spools part of an upload, says where, and waits to be killed mid-upload.
_UPLOADER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from fieldapp.storage.blobs import BlobStore
    spool = BlobStore(Path(sys.argv[1])).spool(max_bytes=10**6)
    spool.write(b"half a photo" * 1000)
    spool.flush()
    print(spool.name, flush=True)
    time.sleep(600)
""")


def _uploader(data_dir):
    child = subprocess.Popen([sys.executable, "-c", _UPLOADER, str(data_dir)],
                             stdout=subprocess.PIPE, text=True)
    return child, child.stdout.readline().strip()


def test_a_spool_of_a_killed_process_is_swept_and_live_ones_are_kept(tmp_path):
    store = BlobStore(tmp_path)
    killed, left_behind = _uploader(tmp_path)
    alive, still_writing = _uploader(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        assert os.path.exists(left_behind), "a killed process cannot clean up after itself"
        mine = store.spool(max_bytes=100)  # this process's own spool, in use
        old = store.tmp_dir / "catalog-abcd1234"  # no owner in its name: judged by age
        old.mkdir()
        (old / "manifest.json").write_text("{}")
        two_days_ago = time.time() - 2 * 86400
        os.utime(old, (two_days_ago, two_days_ago))
        fresh = store.tmp_dir / "catalog-efgh5678"
        fresh.mkdir()

        removed = sweep_stale_spools(tmp_path)

        assert sorted(map(str, removed)) == sorted([left_behind, str(old)])
        assert not os.path.exists(left_behind) and not old.exists()
        assert os.path.exists(still_writing) and os.path.exists(mine.name) and fresh.exists()
        # Anything older than the threshold goes, whoever wrote it.
        assert set(map(str, sweep_stale_spools(tmp_path, max_age_s=-1))) == {
            still_writing, mine.name, str(fresh)}
        mine.close()
    finally:
        alive.kill()
        alive.wait(30)


def test_the_sweep_command(tmp_path):
    killed, left_behind = _uploader(tmp_path)
    killed.kill()
    killed.wait(30)
    env = {**os.environ, "FIELDAPP_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "fieldapp.cli", "evidence", "sweep-spools"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "removed 1 stale temp file(s)"
    assert not os.path.exists(left_behind)


def test_nothing_to_sweep_without_a_data_dir(tmp_path):
    assert sweep_stale_spools(tmp_path / "nowhere") == []

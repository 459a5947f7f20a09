"""The complaint packet from plain values: what the letter says, in Beijing time."""
from __future__ import annotations

import subprocess

from fieldapp.complaints import packet

HASH_A, HASH_B = "ab" * 32, "0c" * 32


def values(**overrides) -> dict:
    base = {
        "complaint": {"id": "c", "channel": "national_platform", "number": "HB-2026-0001",
                      "authority": "广州市生态环境局", "summary": "夜间排放 <深色> 废水 & 泡沫",
                      "filed_at": "2026-05-04T10:00:00+08:00", "status": "filed"},
        "site": {"name": "某某印染厂", "operator": "某某印染有限公司", "uscc": None,
                 "address": "白云区", "region": "广州",
                 "geometry": {"type": "Point", "coordinates": [113.391, 23.181]}},
        "photos": [
            {"number": 1, "report_id": "r1", "sha256": HASH_A,
             "capture_time": "2026-05-03T21:00:00+08:00",
             "received_at": "2026-05-03T13:05:00+00:00",
             "observed_at": "2026-05-03T21:00:00+08:00", "category": "water",
             "description": "排污口", "place": {"exif": {"lon": 113.39, "lat": 23.18}}},
            {"number": 2, "report_id": "r2", "sha256": HASH_B, "capture_time": None,
             "received_at": "2026-05-03T13:10:00+00:00",
             "observed_at": "2026-05-03T21:00:00+08:00", "category": "air",
             "description": None,
             "place": {"exif": None, "claim": {"wgs84": {"lon": 113.392, "lat": 23.182}}}},
        ],
        "generated_at": "2026-05-05T02:00:00+00:00",
    }
    base.update(overrides)
    return base


def text_of(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def test_the_letter_cites_each_photo_by_hash_and_times_in_beijing():
    letter = text_of(packet.render(values()))
    assert "HB-2026-0001" in letter and "全国生态环境信访投诉举报管理平台" in letter
    assert HASH_A in letter and HASH_B in letter
    assert "2026-05-03 21:05:00" in letter  # received 13:05 UTC
    assert "无 EXIF 拍摄时间" in letter  # the second photo has no capture time
    assert "志愿者声称位置" in letter and "照片 EXIF GPS" in letter
    assert "夜间排放 <深色> 废水 & 泡沫" in letter  # the client's text, escaped, not markup
    assert "2026-05-05 10:00:00" in letter  # generated at, Beijing time
    assert "现场位置图" in letter


def test_the_same_values_give_the_same_bytes():
    assert packet.render(values()) == packet.render(values())
    assert packet.render(values()) != packet.render(values(generated_at="2026-05-06T00:00:00Z"))


def test_a_complaint_citing_no_report_still_makes_a_letter():
    letter = text_of(packet.render(values(photos=[])))
    assert "本投诉未引用照片" in letter and "共 0 张" in letter

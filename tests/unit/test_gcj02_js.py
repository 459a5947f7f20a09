"""The browser's GCJ-02 (fieldapp/mapview/static/gcj02.js) against the server's
(fieldapp/geo/coordinates.py): the same points in, the same points out.

The map shifts every overlay into GCJ-02 on an AMap-kind base with the JavaScript; reports are
converted to WGS-84 on the server with the Python. If the two drifted apart, a photo's point
would land beside the building the server says it is on. Node runs the very file the pages load.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from fieldapp.geo.coordinates import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02

SCRIPT = Path(__file__).resolve().parents[2] / "fieldapp" / "mapview" / "static" / "gcj02.js"
# Both run the same double-precision formula: anything beyond rounding noise is a real drift.
# The brief's bar is 1e-6 degrees (about 0.1 m); the forward direction is held far tighter.
FORWARD = 1e-9
INVERSE = 1e-8


def _points() -> list[tuple[float, float]]:
    rng = random.Random(1949)
    points = [(lon, lat) for lon in range(73, 136, 3) for lat in range(18, 54, 3)]
    points += [(rng.uniform(72.0, 138.0), rng.uniform(0.5, 56.0)) for _ in range(400)]
    # Known places, the box's edges (just in and just out), and far away.
    points += [(116.404, 39.915), (121.4737, 31.2304), (113.39, 23.18), (91.1322, 29.6604),
               (72.004, 30.0), (72.0039, 30.0), (137.8347, 40.0), (137.8348, 40.0),
               (100.0, 0.8293), (100.0, 0.8292), (100.0, 55.8271), (100.0, 55.8272),
               (-0.1276, 51.5072), (151.2093, -33.8688), (0.0, 0.0)]
    return points


def _node(points: list[tuple[float, float]]) -> dict:
    node = shutil.which("node")
    assert node, "node is not installed: scripts/build-map.sh installs it (make install)"
    program = (
        "const g = require(process.argv[1]);"
        "const points = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify({"
        " forward: points.map(([x, y]) => g.wgs84ToGcj02(x, y)),"
        " inverse: points.map(([x, y]) => g.gcj02ToWgs84(x, y)),"
        " outside: points.map(([x, y]) => g.outOfChina(x, y)) }));"
    )
    run = subprocess.run([node, "-e", program, str(SCRIPT)], input=json.dumps(points),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)


def test_javascript_and_python_agree_on_every_point():
    points = _points()
    got = _node(points)
    for (lon, lat), js_forward, js_inverse, js_outside in zip(
            points, got["forward"], got["inverse"], got["outside"], strict=True):
        assert js_outside == out_of_china(lon, lat), (lon, lat)
        py_forward = wgs84_to_gcj02(lon, lat)
        py_inverse = gcj02_to_wgs84(lon, lat)
        assert js_forward == pytest.approx(py_forward, abs=FORWARD), (lon, lat)
        assert js_inverse == pytest.approx(py_inverse, abs=INVERSE), (lon, lat)


def test_the_shift_is_real_inside_china_and_none_outside():
    got = _node([(116.404, 39.915), (-0.1276, 51.5072)])
    (beijing_lon, beijing_lat), london = got["forward"]
    # Tiananmen moves by some hundreds of metres (about 0.006° east, 0.0014° north).
    assert 0.004 < beijing_lon - 116.404 < 0.008 and 0.0005 < beijing_lat - 39.915 < 0.003
    assert london == [-0.1276, 51.5072]

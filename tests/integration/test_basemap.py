"""The base maps of /map and /console (mapview.basemaps, static/basemap.js), drawn by headless
Chromium: the offline base with no provider, the GCJ-02 shift on an AMap-kind base (tiles
from a tile server of the test's own, on the loopback address), and Tianditu's tile requests
(blocked in the browser: nothing leaves this machine)."""
from __future__ import annotations

import io
import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fieldapp.geo.coordinates import wgs84_to_gcj02
from fieldapp.mapview.basemaps import BaseMapError, from_environ
from tests.browser import chromium
from tests.helpers import auth, role_tokens, serving, submit_at

CST = timezone(timedelta(hours=8))
# Nanchang: no other test puts sites or reports here. The site's point, and a report 200 m off.
SITE = (115.89, 28.68)
REPORT = (115.892, 28.681)
TIANDITU_KEY = "0123456789abcdef0123456789abcdef"
STATIC = Path(__file__).resolve().parents[2] / "fieldapp" / "mapview" / "static"
LAND, SEA, OUTLINE = (243, 240, 232), (216, 230, 240), (95, 111, 128)
MAGENTA = (255, 0, 255)
WAIT_S = 60


@pytest.fixture(scope="module")
def field(app):
    """A coordinator, a site at SITE and a report at REPORT."""
    client, tokens = app.test_client(), role_tokens(app, "basemap")
    site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "南昌测试造纸厂", "geometry": {"type": "Point", "coordinates": list(SITE)}})
    assert site.status_code == 201, site.get_json()
    observed = datetime.now(CST).replace(microsecond=0) - timedelta(hours=2)
    submit_at(client, tokens["volunteer"], *REPORT, 4100, observed, category="water")
    return tokens


@pytest.fixture()
def base(app, monkeypatch):
    """Set the base maps as the environment would (for this test only)."""
    def configure(environ: dict) -> None:
        monkeypatch.setitem(app.config, "FIELDAPP_BASEMAPS", from_environ(environ))
    return configure


def _world_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of (lon, lat) on the whole world's 256-pixel tile grid at zoom."""
    size = 256 * 2 ** zoom
    rad = math.radians(lat)
    return ((lon + 180) / 360 * size,
            (1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * size)


def _gcj_tiles(environ, start_response):
    """Magenta tiles with a black cross where SITE is in GCJ-02: what AMap-kind tiles show,
    the building at its GCJ-02 place (a WSGI app, served like the app itself)."""
    found = re.fullmatch(r"/(\d+)/(\d+)/(\d+)\.png", environ["PATH_INFO"])
    if not found:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such tile"]
    z, x, y = map(int, found.groups())
    cx, cy = _world_pixel(*wgs84_to_gcj02(*SITE), z)
    cx, cy = round(cx - 256 * x), round(cy - 256 * y)
    tile = Image.new("RGB", (256, 256), MAGENTA)
    draw = ImageDraw.Draw(tile)
    draw.rectangle((cx - 30, cy - 1, cx + 30, cy + 1), fill=(0, 0, 0))
    draw.rectangle((cx - 1, cy - 30, cx + 1, cy + 30), fill=(0, 0, 0))
    body = io.BytesIO()
    tile.save(body, "PNG")
    start_response("200 OK", [("Content-Type", "image/png")])
    return [body.getvalue()]


@pytest.fixture()
def gcj_tiles():
    with serving(_gcj_tiles) as url:
        yield url + "/{z}/{x}/{y}.png"


def _open_map(driver, server, token, lon, lat, zoom, counts=()):
    """/map at (lon, lat, zoom), signed in; waits until the offline base and the layers named
    in counts have loaded and a frame has been drawn."""
    driver.get(f"{server}/map#token={token}&lon={lon}&lat={lat}&zoom={zoom}")

    def ready(d):
        return d.execute_script(
            "const map = window.fieldappBasemap && fieldappBasemap.maps[0];"
            "if (!map || document.body.dataset.state !== 'ready') return false;"
            "if (map.getLayers().item(0).get('loaded') !== true) return false;"
            "const counts = JSON.parse(document.body.dataset.features || '{}');"
            "return arguments[0].every((name) => counts[name] > 0);", list(counts))
    WebDriverWait(driver, WAIT_S).until(ready, "the map and its layers")
    _drawn(driver)


def _drawn(driver) -> None:
    """Wait for OpenLayers to finish drawing everything it has (tiles included)."""
    driver.execute_script(
        "window.__drawn = false; const map = fieldappBasemap.maps[0];"
        "map.once('rendercomplete', () => { window.__drawn = true; }); map.render();")
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return window.__drawn"),
                                        "a complete frame")


def _screen_pixel(driver, lon, lat) -> tuple[float, float]:
    """Where the map draws a WGS-84 point, in the screenshot's pixels."""
    return tuple(driver.execute_script(
        "const map = fieldappBasemap.maps[0];"
        "const [x, y] = map.getPixelFromCoordinate(fieldappBasemap.fromLonLat(arguments[0]));"
        "const box = map.getTargetElement().getBoundingClientRect();"
        "return [(box.left + x) * devicePixelRatio, (box.top + y) * devicePixelRatio];",
        [lon, lat]))


def _screenshot(driver, path: Path) -> Image.Image:
    driver.save_screenshot(str(path))
    return Image.open(path).convert("RGB")


def _near(colour, expected, tolerance=18) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def _pixels(image, centre, radius, test) -> list[tuple[int, int]]:
    cx, cy = round(centre[0]), round(centre[1])
    return [(x, y) for x in range(cx - radius, cx + radius + 1)
            for y in range(cy - radius, cy + radius + 1) if test(image.getpixel((x, y)))]


def _centroid(points) -> tuple[float, float]:
    assert points, "nothing found"
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def test_pages_never_project_overlays_themselves():
    """Every overlay goes through the shared component, which knows the base's frame."""
    for page in (STATIC / "map.js", STATIC.parents[1] / "console" / "static" / "console.js"):
        text = page.read_text()
        assert "ol.proj." not in text and "EPSG:" not in text, page
        assert "fieldappBasemap.createMap(" in text, page


def test_img_src_names_the_tile_hosts_never_a_whole_scheme(client, base):
    """A range in a later label of the host (tile.{a-c}...) is each host OpenLayers asks;
    a host templated otherwise is refused at start, not allowed as every https host."""
    base({"FIELDAPP_MAP_TILE_URL": "https://tile.{a-c}.example.org/{z}/{x}/{y}.png"})
    for page in ("/map", "/console"):
        policy = dict(part.strip().split(" ", 1) for part in
                      client.get(page).headers["Content-Security-Policy"].split(";"))
        assert policy["img-src"] == ("'self' data: blob: https://tile.a.example.org "
                                     "https://tile.b.example.org https://tile.c.example.org")
    with pytest.raises(BaseMapError, match="FIELDAPP_MAP_TILE_URL.*first label"):
        from_environ({"FIELDAPP_MAP_TILE_URL": "https://a.{z}.example.org/{z}/{x}/{y}.png"})


def test_offline_base_draws_china_with_no_provider(server, field, base, tmp_path):
    base({})
    with chromium(tmp_path, size="1280,800") as driver:
        _open_map(driver, server, field["coordinator"], 118.0, 30.5, 6)
        element = driver.find_element(By.ID, "map")
        assert element.get_attribute("data-base") == "offline"
        assert element.get_attribute("data-frame") == "wgs84"
        # No provider: no switch, and the offline data's sources are credited.
        assert not driver.find_elements(By.CSS_SELECTOR, ".basemap-switch")
        credits = driver.find_element(By.CSS_SELECTOR, ".ol-attribution").get_attribute(
            "textContent")
        assert "DCW-GMT" in credits and "Natural Earth" in credits
        image = _screenshot(driver, tmp_path / "map-offline.png")

        inland = _screen_pixel(driver, 112.37, 33.41)      # Henan
        sea = _screen_pixel(driver, 124.63, 28.27)         # the East China Sea
        assert _near(image.getpixel(tuple(map(round, inland))), LAND)
        assert _near(image.getpixel(tuple(map(round, sea))), SEA)
        # Along 29.55° N from Zhejiang's hills out to sea: land, the coast's line, then sea.
        (x0, y), (x1, _) = _screen_pixel(driver, 119.5, 29.55), _screen_pixel(driver, 123.5, 29.55)
        row = [image.getpixel((x, round(y))) for x in range(round(x0), round(x1))]
        assert _near(row[0], LAND) and _near(row[-1], SEA)
        assert any(_near(colour, OUTLINE, 40) for colour in row), "no coastline drawn"
        # Province boundaries and rivers: more than land and sea colours in the view.
        assert len(image.getcolors(maxcolors=1 << 20)) > 200


def test_overlays_are_shifted_onto_a_gcj02_base(server, field, base, gcj_tiles, tmp_path):
    base({"FIELDAPP_MAP_TILE_URL": gcj_tiles, "FIELDAPP_MAP_TILE_CRS": "gcj02",
          "FIELDAPP_MAP_TILE_ATTRIBUTION": "test tiles"})
    zoom = 16
    with chromium(tmp_path, size="1280,800") as driver:
        _open_map(driver, server, field["coordinator"], *SITE, zoom, counts=("sites", "reports"))
        assert driver.execute_script("return fieldappBasemap.projection.getCode()") == \
            "GCJ-02:3857"
        # Hexagons and candidates off: the site's marker on the tiles is what is looked at.
        for layer in ("hexbins", "candidates"):
            driver.find_element(By.CSS_SELECTOR, f'input[data-layer="{layer}"]').click()
        _drawn(driver)

        # Where the overlay is drawn, and where it would be unshifted: the difference is the
        # GCJ-02 offset as the server's Python computes it, in pixels at this zoom.
        shifted = _screen_pixel(driver, *SITE)
        unshifted = driver.execute_script(
            "const map = fieldappBasemap.maps[0];"
            "const [x, y] = map.getPixelFromCoordinate(ol.proj.fromLonLat(arguments[0]));"
            "const box = map.getTargetElement().getBoundingClientRect();"
            "return [(box.left + x) * devicePixelRatio, (box.top + y) * devicePixelRatio];",
            list(SITE))
        (gx, gy), (wx, wy) = _world_pixel(*wgs84_to_gcj02(*SITE), zoom), _world_pixel(*SITE, zoom)
        assert shifted[0] - unshifted[0] == pytest.approx(gx - wx, abs=0.5)
        assert shifted[1] - unshifted[1] == pytest.approx(gy - wy, abs=0.5)
        assert math.dist(shifted, unshifted) > 100  # hundreds of metres: far from the building

        image = _screenshot(driver, tmp_path / "map-gcj02.png")
        # The tile's cross (the building on the GCJ-02 base) is where the overlay is drawn...
        black = _pixels(image, shifted, 40, lambda c: sum(c) < 60)
        rows = [y for _, y in black]
        cols = [x for x, _ in black]
        cross = (max(set(cols), key=cols.count), max(set(rows), key=rows.count))
        assert math.dist(cross, shifted) <= 2, (cross, shifted)
        # ...and so is the site's marker, in its risk colour over the magenta tiles.
        colour = driver.execute_script(
            "const map = fieldappBasemap.maps[0];"
            "const layer = map.getLayers().getArray().at(-1);"
            "const feature = layer.getSource().getFeatures()[0];"
            "const style = layer.getStyleFunction()(feature, map.getView().getResolution());"
            "return ol.color.asArray((Array.isArray(style) ? style.at(-1) : style)"
            ".getImage().getFill().getColor());")
        alpha = colour[3]
        fill = tuple(round(alpha * c + (1 - alpha) * m) for c, m in zip(colour[:3], MAGENTA,
                                                                         strict=True))
        marker = _centroid(_pixels(image, shifted, 20, lambda c: _near(c, fill, 12)))
        assert math.dist(marker, shifted) <= 2, (marker, shifted)
        assert not _pixels(image, unshifted, 8, lambda c: _near(c, fill, 12))

        # The report, from the server's WGS-84 vector tiles, is drawn shifted the same way: its
        # dot (white, ringed in a water report's blue) where it belongs, none where it would be
        # unshifted.
        report = _screen_pixel(driver, *REPORT)
        expected = _world_pixel(*wgs84_to_gcj02(*REPORT), zoom)
        assert report[0] - shifted[0] == pytest.approx(expected[0] - gx, abs=0.5)
        assert report[1] - shifted[1] == pytest.approx(expected[1] - gy, abs=0.5)
        def dot(c):
            return min(c) > 220 or (c[0] < 120 and c[2] > 150)
        drawn = _pixels(image, report, 7, dot)
        assert len(drawn) >= 20 and math.dist(_centroid(drawn), report) <= 2, drawn
        unshifted_report = (report[0] - (gx - wx), report[1] - (gy - wy))
        assert not _pixels(image, unshifted_report, 7, dot)
        credits = driver.find_element(By.CSS_SELECTOR, ".ol-attribution").get_attribute(
            "textContent")
        assert "test tiles" in credits


def test_tianditu_tiles_carry_the_key_and_the_offline_base_covers_for_them(
        client, server, field, base, tmp_path):
    base({"FIELDAPP_TIANDITU_KEY": TIANDITU_KEY})
    page = client.get("/map")
    assert "img-src 'self' data: blob: https://*.tianditu.gov.cn;" in \
        page.headers["Content-Security-Policy"]
    with chromium(tmp_path, size="1280,800", network_log=True) as driver:
        # Nothing may leave this machine: the browser blocks Tianditu before any lookup.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*tianditu.gov.cn*"]})
        _open_map(driver, server, field["coordinator"], 112.37, 33.41, 6)
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(By.ID, "map").get_attribute("data-base-failed"),
            "the unreachable provider to be noticed")
        element = driver.find_element(By.ID, "map")
        assert element.get_attribute("data-base") == "tianditu-vec"
        assert element.get_attribute("data-base-failed") == "tianditu-vec"
        assert driver.find_element(By.CSS_SELECTOR, ".basemap-switch .note").is_displayed()
        _drawn(driver)
        image = _screenshot(driver, tmp_path / "map-tianditu-offline.png")
        centre = _screen_pixel(driver, 112.37, 33.41)
        assert _near(image.getpixel(tuple(map(round, centre))), LAND)

        switch = driver.find_element(By.CSS_SELECTOR, ".basemap-switch select")
        options = [o.get_attribute("value") for o in switch.find_elements(By.TAG_NAME, "option")]
        assert options == ["tianditu-vec", "tianditu-img", "offline"]
        switch.find_element(By.CSS_SELECTOR, 'option[value="tianditu-img"]').click()
        _drawn(driver)
        requests = [json.loads(entry["message"])["message"] for entry in
                    driver.get_log("performance")]
        tiles = [r["params"]["request"] for r in requests
                 if r["method"] == "Network.requestWillBeSent"
                 and "tianditu" in r["params"]["request"]["url"]]
    urls = [t["url"] for t in tiles]
    layer_of = {re.search(r"[?&]T=(\w+)", url).group(1) for url in urls}
    assert layer_of == {"vec_w", "cva_w", "img_w", "cia_w"}, layer_of
    for tile in tiles:
        assert re.match(r"https://t[0-7]\.tianditu\.gov\.cn/DataServer\?T=\w+_w&x=\d+&y=\d+&l=6"
                        rf"&tk={TIANDITU_KEY}$", tile["url"]), tile["url"]
        # The origin only, for the key's whitelist: never the page's path or its token.
        assert tile["headers"].get("Referer") == server + "/"

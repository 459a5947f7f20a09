"""The coordinators' map page, served by a real HTTP server and drawn by headless Chromium."""
from __future__ import annotations

import contextlib
import html
import io
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fieldapp.mapview.basemaps import from_environ
from tests.browser import chromium
from tests.helpers import auth, role_tokens, serving, submit_at

CST = timezone(timedelta(hours=8))
# Xi'an: no other test puts sites or reports here.
LON, LAT = 108.95, 34.27
CHROMIUM = "/usr/bin/chromium"
EXTERNAL_URL = re.compile(r"https?://", re.IGNORECASE)


def _submit(client, token, lon, lat, seed, days_ago, category="air"):
    observed = datetime.now(CST).replace(microsecond=0) - timedelta(days=days_ago, hours=1)
    return submit_at(client, token, lon, lat, seed, observed, category)


@pytest.fixture(scope="module")
def field(app):
    """A coordinator, two sites (one with verified reports), and a cluster at no site."""
    client, tokens = app.test_client(), role_tokens(app, "map")
    site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "西安测试化工厂", "name_en": "Xi'an Test Chemical Works",
        "operator": "西安测试化工有限公司",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]}})
    assert site.status_code == 201, site.get_json()
    west = LON - 0.03
    quiet = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "西郊印染厂", "geometry": {"type": "Polygon", "coordinates": [[
            [west, LAT], [west + 0.006, LAT], [west + 0.006, LAT + 0.004], [west, LAT + 0.004],
            [west, LAT]]]}})
    assert quiet.status_code == 201, quiet.get_json()
    # Around the site within its link radius, so they are linked to it and count for its risk.
    for i, (dx, dy) in enumerate([(3, 1), (-2, 2), (1, -3), (-3, -1), (2, 3)]):
        _submit(client, tokens["volunteer"], LON + 0.0011 * dx, LAT + 0.0009 * dy, 2100 + i,
                days_ago=i, category=("air", "water")[i % 2])
    # 3 km east: no site within the link radius, so these become a candidate.
    for i in range(3):
        _submit(client, tokens["volunteer"], LON + 0.035 + 0.0002 * i, LAT - 0.01, 2110 + i,
                days_ago=2 + i, category="water")
    return {"client": client, "tokens": tokens, "site": site.get_json()}


def _chromium(url: str, tmp_path, *mode: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,800",
         "--hide-scrollbars", "--virtual-time-budget=15000",
         # The page's console on stderr: an exception in a style function blanks a layer.
         "--enable-logging=stderr", "--v=0", *mode, url],
        capture_output=True, text=True, timeout=180, check=True,
    )


def _dom(url: str, tmp_path) -> str:
    run = _chromium(url, tmp_path, "--dump-dom")
    assert "Uncaught" not in run.stderr, run.stderr
    return run.stdout


def _features(dom: str) -> dict:
    found = re.search(r'<body[^>]*\sdata-features="([^"]*)"', dom)
    assert found, dom[:2000]
    return json.loads(html.unescape(found.group(1)))


def test_page_is_public_and_self_contained(client, app, monkeypatch):
    response = client.get("/map")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "风险 Risk" in page and 'id="signin"' in page
    assert not EXTERNAL_URL.search(page)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/map/static/") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        if not asset.endswith("ol.js"):  # the library names its optional sources' defaults
            assert not EXTERNAL_URL.search(served.get_data(as_text=True)), asset
        served.close()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]

    # The base maps reach the page in its body's data-basemap, the offline base always.
    basemap = re.search(r"data-basemap='([^']*)'", page).group(1)
    offline = json.loads(html.unescape(basemap))["offline"]
    assert offline == "/map/static/vendor/offline-base.json"
    assert json.loads(client.get(offline).get_data())["type"] == "Topology"

    monkeypatch.setitem(app.config, "FIELDAPP_BASEMAPS", from_environ(
        {"FIELDAPP_MAP_TILE_URL": "https://tile.example/{z}/{x}/{y}.png"}))
    with_base = client.get("/map")
    basemap = re.search(r"data-basemap='([^']*)'", with_base.get_data(as_text=True)).group(1)
    assert json.loads(html.unescape(basemap))["bases"][0]["layers"] == [
        "https://tile.example/{z}/{x}/{y}.png"]
    assert "img-src 'self' data: blob: https://tile.example;" in \
        with_base.headers["Content-Security-Policy"]


def _is_score(line: str) -> bool:
    try:
        float(line)
    except ValueError:
        return False
    return True


def test_map_draws_every_layer_in_headless_chromium(server, client, field, tmp_path):
    token, site = field["tokens"]["coordinator"], field["site"]
    url = f"{server}/map#token={token}&lon={LON + 0.01}&lat={LAT}&zoom=13&site={site['id']}"

    dom = _dom(url, tmp_path)
    assert 'data-state="ready"' in dom
    counts = _features(dom)
    assert counts["hexbins"] > 0 and counts["sites"] >= 2, counts
    assert counts["candidates"] > 0 and counts["reports"] > 0, counts
    assert 'id="status"' in dom and f'data-layer="hexbins" data-count="{counts["hexbins"]}"' in dom
    # The site's panel: its name, risk components, and thumbnails fetched with the token.
    panel = re.search(r'<section id="panel".*?</section>', dom, re.S).group(0)
    assert "西安测试化工厂" in panel and "西安测试化工有限公司" in panel
    assert "Verified photos" in panel and "Volunteer factor" in panel
    assert len(re.findall(r'<img [^>]*src="blob:', panel)) >= 3, panel
    # The ranking is the API's ten riskiest sites (other tests' sites among them; risk
    # decays with time, so sites of near-equal risk may trade places between two reads).
    top = client.get("/api/v1/sites?order=risk&page_size=20", headers=auth(token)).get_json()
    ranking = html.unescape(re.sub(r"<[^>]+>", "\n", re.search(
        r'<ol id="ranking".*?</ol>', dom, re.S).group(0)))
    shown = [line for line in ranking.splitlines() if line.strip() and not _is_score(line)]
    assert len(shown) == min(10, top["total"]) > 0
    assert set(shown) <= {site["name"] for site in top["items"]}, (shown, top["items"])

    shot = tmp_path / "map.png"
    run = _chromium(url, tmp_path, f"--screenshot={shot}")
    assert "Uncaught" not in run.stderr, run.stderr
    assert shot.stat().st_size > 20_000
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.size == (1280, 800)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # not a blank or single-colour page


def test_map_without_a_valid_token_asks_to_sign_in(server, tmp_path):
    dom = _dom(f"{server}/map", tmp_path)
    assert 'data-state="signin"' in dom and re.search(r'<div id="signin" class="overlay">', dom)

    dom = _dom(f"{server}/map#token=not-a-token&zoom=5", tmp_path)
    assert 'data-state="signin"' in dom
    assert "please sign in again" in dom


def _blank_tiles(environ, start_response):
    """Plain grey tiles: a base map of the test's own on the loopback address."""
    body = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 200, 200)).save(body, "PNG")
    start_response("200 OK", [("Content-Type", "image/png")])
    return [body.getvalue()]


@pytest.mark.parametrize("frame", ["wgs84", "gcj02"])
def test_clicking_a_report_dot_opens_its_panel(app, server, field, frame, monkeypatch,
                                               tmp_path):
    """A report dot from the vector tiles, clicked where it is drawn, opens the report's
    panel: on the offline base alone, and on a GCJ-02 base, where the map's frame is shifted."""
    client, token, site = field["client"], field["tokens"]["coordinator"], field["site"]
    reports = client.get(f"/api/v1/sites/{site['id']}/reports?page_size=50",
                         headers=auth(token)).get_json()["items"]
    # The one furthest from the site's marker, which would take the click before a report.
    report = max(reports, key=lambda r: abs(r["location"]["wgs84"]["lat"] - LAT))
    lon, lat = report["location"]["wgs84"]["lon"], report["location"]["wgs84"]["lat"]
    with contextlib.ExitStack() as stack:
        if frame == "gcj02":
            tiles = stack.enter_context(serving(_blank_tiles))
            monkeypatch.setitem(app.config, "FIELDAPP_BASEMAPS", from_environ({
                "FIELDAPP_MAP_TILE_URL": tiles + "/{z}/{x}/{y}.png",
                "FIELDAPP_MAP_TILE_CRS": "gcj02"}))
        driver = stack.enter_context(chromium(tmp_path, size="1280,800"))
        driver.get(f"{server}/map#token={token}&lon={lon}&lat={lat}&zoom=16")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.execute_script(
            "return document.body.dataset.state === 'ready' && "
            "JSON.parse(document.body.dataset.features || '{}').reports > 0"), "report dots")
        assert driver.find_element(By.ID, "map").get_attribute("data-frame") == frame
        # Where the map draws the report, relative to the map's centre (Selenium's origin).
        dx, dy = driver.execute_script(
            "const map = fieldappBasemap.maps[0];"
            "const [x, y] = map.getPixelFromCoordinate(fieldappBasemap.fromLonLat(arguments[0]));"
            "const [w, h] = map.getSize();"
            "return [x - w / 2, y - h / 2];", [lon, lat])
        ActionChains(driver).move_to_element_with_offset(
            driver.find_element(By.ID, "map"), round(dx), round(dy)).perform()
        # Over the dot, the pointing hand says it can be clicked.
        wait.until(lambda d: d.find_element(By.ID, "map").value_of_css_property("cursor")
                   == "pointer", "a pointing hand")
        ActionChains(driver).click().perform()
        panel = wait.until(lambda d: d.find_element(By.ID, "panel").is_displayed()
                           and d.find_element(By.ID, "panel"), "the report's panel")
        # The report's details as its tile carries them: id, category, day (UTC), verdict.
        terms = [e.text for e in panel.find_elements(By.CSS_SELECTOR, "dt, dd")]
        shown = dict(zip(terms[::2], terms[1::2], strict=True))
        assert panel.find_element(By.TAG_NAME, "h2").text == "举报 Report"
        assert panel.find_element(By.CSS_SELECTOR, ".sub").text == report["id"]
        observed = datetime.fromisoformat(report["observed_at"]).astimezone(UTC)
        category = {"air": "大气 Air", "water": "水 Water"}[report["category"]]
        assert shown == {"类别 Category": category,
                         "观察日期 Observed (UTC day)": observed.date().isoformat(),
                         "核查 Verdict": report["verdict"]}, shown


def test_site_names_from_a_list_show_literally_and_never_run(app, server, field, tmp_path):
    """A site's name and operator (typed by staff or imported from someone's list) with
    markup in them: the site's panel shows the text, and nothing in it runs."""
    hostile = ('<img src=x data-pwned onerror=__pwned=1><script>__pwned=2</script>'
               '<b style=color:red data-pwned>!</b>')
    client, token = field["client"], field["tokens"]["coordinator"]
    # Sanya: no other test puts sites here.
    site = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "NAME" + hostile, "name_en": "NAME_EN" + hostile, "operator": "OPERATOR" + hostile,
        "geometry": {"type": "Point", "coordinates": [109.51, 18.25]}})
    assert site.status_code == 201, site.get_json()
    with chromium(tmp_path, size="1280,800") as driver:
        driver.get(f"{server}/map#token={token}&lon=109.51&lat=18.25&zoom=14"
                   f"&site={site.get_json()['id']}")
        wait = WebDriverWait(driver, 60)
        panel = wait.until(lambda d: d.find_element(By.ID, "panel").is_displayed()
                           and d.find_element(By.ID, "panel"), "the site's panel")
        text = panel.text
        for label in ("NAME", "NAME_EN", "OPERATOR"):
            assert label + hostile in text, (label, text)
        assert driver.execute_script("return window.__pwned") is None
        assert driver.find_elements(By.CSS_SELECTOR, "[data-pwned], script:not([src])") == []


def test_signing_out_revokes_the_token_and_leaves_nothing_behind(app, server, field, tmp_path):
    token = role_tokens(app, "map-signout", roles=("coordinator",))["coordinator"]
    with chromium(tmp_path, size="1280,800") as driver:
        driver.get(f"{server}/map#token={token}&lon={LON}&lat={LAT}&zoom=12")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ranking li button"),
                   "the ranking")
        driver.find_element(By.ID, "signout").click()
        wait.until(lambda d: d.find_element(By.ID, "signin").is_displayed(), "signed out")
        assert field["client"].get("/api/v1/auth/me", headers=auth(token)).status_code == 401
        assert driver.execute_script("return sessionStorage.getItem('fieldapp.token')") is None
        assert "西安测试化工厂" not in driver.execute_script("return document.body.textContent")

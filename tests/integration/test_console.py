"""The staff console, driven in headless Chromium (Debian's chromium and chromium-driver)
through Selenium, against the app behind a real socket; every change is checked through the
API afterwards."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, time, timedelta, timezone

import pytest
from PIL import Image
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import chromium
from tests.helpers import (
    analyse_waiting,
    auth,
    post_report,
    report_json,
    run_jobs,
    submit_at,
)
from tests.imagegen import jpeg_bytes

CST = timezone(timedelta(hours=8))
# Changchun and Xining: no other test puts sites or reports here.
QUEUE_SITE = (125.32, 43.82)
CASE_SITE = (101.78, 36.62)
# Yinchuan: a site with more reports than a picker's page (100) shows at once.
CROWDED_SITE = (106.23, 38.49)
WAIT_S = 30


@pytest.fixture(scope="module")
def people(app):
    """A coordinator, a lawyer and an admin: email, password and token of each."""
    from fieldapp.accounts import service

    found = {}
    with app.app_context():
        for role in ("coordinator", "lawyer", "admin"):
            email, password = f"console-{role}@example.org", service.generate_password()
            user = service.create_user(email, password, role, display_name=f"Console {role}")
            found[role] = {"email": email, "password": password,
                           "token": service.issue_token(user)}
    return found


def _site(client, token, name, lon, lat) -> dict:
    made = client.post("/api/v1/sites", headers=auth(token), json={
        "name": name, "operator": f"{name}有限公司",
        "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


@pytest.fixture(scope="module")
def field(app, people):
    """Two sites: one with four photos waiting in the queue (one whose GPS is 300 m from the
    claim), one with two verified photos for a case."""
    from fieldapp.accounts import service

    client = app.test_client()
    with app.app_context():
        volunteer = service.issue_token(service.create_user(
            "console-volunteer@example.org", service.generate_password(), "volunteer"))
    coordinator = people["coordinator"]["token"]
    queue_site = _site(client, coordinator, "长春测试水泥厂", *QUEUE_SITE)
    case_site = _site(client, coordinator, "西宁测试电镀厂", *CASE_SITE)
    now = datetime.now(CST).replace(microsecond=0)
    lon, lat = QUEUE_SITE
    for i in range(3):
        submit_at(client, volunteer, lon + 0.0005 * i, lat, 3100 + i, now - timedelta(hours=i + 1))
    # The photo's GPS 0.0036° east of the claimed point: about 290 m at this latitude.
    claim = report_json(category="water", observed_at=(now - timedelta(hours=5)).isoformat(),
                        location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10})
    taken = now - timedelta(hours=5)
    off = post_report(client, volunteer, claim, [(jpeg_bytes(
        seed=3110, lat=lat, lon=lon + 0.0036, taken=taken, gps_time=taken), "off.jpg")])
    assert off.status_code == 201, off.get_json()
    lon, lat = CASE_SITE
    for i in range(2):
        submit_at(client, volunteer, lon + 0.0004 * i, lat, 3120 + i, now - timedelta(days=i + 1),
                  category="water")
    return {"client": client, "queue_site": queue_site, "case_site": case_site}


@pytest.fixture(scope="module")
def crowded(app, people):
    """A site with 102 reports of one verified photo each: 100 of the last two days, a
    picker's first page, and two observed a month earlier, on one day, beyond it."""
    from fieldapp.accounts import service

    client = app.test_client()
    with app.app_context():
        volunteer = service.issue_token(service.create_user(
            "console-crowded@example.org", service.generate_password(), "volunteer"))
    site = _site(client, people["coordinator"]["token"], "银川测试焦化厂", *CROWDED_SITE)
    now = datetime.now(CST).replace(microsecond=0)
    old_day = (now - timedelta(days=30)).date()
    times = [now - timedelta(minutes=25 * (i + 1)) for i in range(100)]
    times += [datetime.combine(old_day, time(hour), tzinfo=CST) for hour in (11, 10)]
    lon, lat = CROWDED_SITE
    # Sent in the order observed, so that the oldest are last both by observation (reports)
    # and by receipt (photos); small photos, all analysed at once at the end.
    for i, observed in enumerate(reversed(times)):
        spot = (lon + 0.00002 * (i % 10), lat + 0.00002 * (i // 10))
        claim = report_json(category="air", observed_at=observed.isoformat(), location={
            "lon": spot[0], "lat": spot[1], "crs": "wgs84", "accuracy_m": 10})
        photo = jpeg_bytes(seed=8300 + i, size=(160, 120), lat=spot[1], lon=spot[0],
                           taken=observed, gps_time=observed)
        posted = post_report(client, volunteer, claim, [(photo, "a.jpg")])
        assert posted.status_code == 201, posted.get_json()
    analyse_waiting(app)
    token = people["coordinator"]["token"]
    reports = client.get(f"/api/v1/sites/{site['id']}/reports?page_size=500",
                         headers=auth(token)).get_json()["items"]
    verified = client.get(f"/api/v1/photos?site_id={site['id']}&verified=true&page_size=1",
                          headers=auth(token)).get_json()["total"]
    assert len(reports) == verified == 102, (len(reports), verified)
    # Newest observation first, as the pickers show them: the last two are a month old.
    return {"site": site, "reports": reports, "old_day": old_day.isoformat()}


@pytest.fixture()
def browser(tmp_path):
    with chromium(tmp_path) as driver:
        yield driver


def _wait(driver, condition, what: str):
    try:
        # The page redraws lists as they change: an element found a moment ago may be gone.
        return WebDriverWait(driver, WAIT_S, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(condition)
    except TimeoutException:
        message = driver.find_element(By.ID, "message").text
        raise AssertionError(f"timed out waiting for {what}; page says: {message!r}") from None


def _ready(driver, page: str) -> None:
    _wait(driver, lambda d: d.execute_script(
        "return document.body.dataset.page === arguments[0] && "
        "document.body.dataset.state === 'ready'", page), f"the {page} page")


def _shot(driver, tmp_path, name: str) -> Image.Image:
    """A screenshot of the page, kept under the test's tmp dir; it must show something."""
    path = tmp_path / f"console-{name}.png"
    driver.save_screenshot(str(path))
    image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100, f"{name}: a blank page"
    return image


def _open(driver, server, token: str) -> None:
    driver.get(f"{server}/console#token={token}")


def _photo_review(client, token, photo_id) -> dict | None:
    shown = client.get(f"/api/v1/photos/{photo_id}", headers=auth(token))
    assert shown.status_code == 200
    return shown.get_json()["review"]


def test_console_page_is_public_self_contained_and_strict(client):
    page = client.get("/console")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert 'id="signin"' in text and "审核队列" in text and "http://" not in text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    for asset in ("/console/static/console.js", "/console/static/console.css",
                  "/map/static/basemap.js"):
        assert client.get(asset).status_code == 200, asset


def test_pages_assets_and_api_answers_are_read_only_as_what_they_declare(client, people):
    """nosniff on every answer (a JSON answer quoting a volunteer's text, an error, a
    script), and the staff pages never framed, nor styled from inline markup."""
    token = people["coordinator"]["token"]
    answers = {path: client.get(path, headers=auth(token)) for path in (
        "/console", "/map", "/console/static/console.js", "/map/static/vendor/ol.css",
        "/map/static/vendor/offline-base.json", "/api/v1/auth/me", "/api/v1/sites",
        "/api/v1/sites?page_size=none", "/api/v1/no-such-thing", "/no-such-page")}
    for path, answer in answers.items():
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", path
        answer.close()
    for page in ("/console", "/map"):
        headers = answers[page].headers
        assert headers["X-Frame-Options"] == "DENY", page
        policy = dict(part.strip().split(" ", 1)
                      for part in headers["Content-Security-Policy"].split(";"))
        assert policy["style-src"] == "'self'", page
        assert policy["form-action"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in headers["Content-Security-Policy"], page


def test_sign_in_with_password_and_with_a_token(browser, server, people, tmp_path):
    browser.get(f"{server}/console")
    _wait(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "the sign-in form")
    _shot(browser, tmp_path, "signin")
    # Wrong password: told so, still signed out.
    browser.find_element(By.ID, "email").send_keys(people["admin"]["email"])
    browser.find_element(By.ID, "password").send_keys("not the password" + Keys.ENTER)
    _wait(browser, lambda d: d.find_element(By.ID, "signin-error").is_displayed(), "an error")
    assert "password" in browser.find_element(By.ID, "signin-error").text.lower() or \
        "密码" in browser.find_element(By.ID, "signin-error").text
    password = browser.find_element(By.ID, "password")
    password.clear()
    password.send_keys(people["admin"]["password"] + Keys.ENTER)
    # An admin lands on the users.
    _ready(browser, "users")
    assert browser.current_url.endswith("#/users")
    assert browser.find_element(By.ID, "user").text.startswith("Console admin")

    # The language switch: every label in the other language, kept across reloads.
    before = browser.find_element(By.CSS_SELECTOR, '#nav a[data-nav="users"]').text
    browser.find_element(By.ID, "lang").click()
    after = browser.find_element(By.CSS_SELECTOR, '#nav a[data-nav="users"]').text
    assert {before, after} == {"用户", "Users"}

    # A lawyer's token in the address: signed in, the token gone from the address bar, and
    # the lawyer lands on the cases; the review queue is not offered.
    browser.find_element(By.ID, "signout").click()
    _wait(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "signed out")
    _open(browser, server, people["lawyer"]["token"])
    _ready(browser, "cases")
    assert "token" not in browser.current_url
    assert not browser.find_element(By.CSS_SELECTOR, '#nav a[data-nav="queue"]').is_displayed()


def test_signing_out_revokes_the_token_and_leaves_nothing_behind(browser, server, people,
                                                                 make_user, client):
    """On a shared computer, "Sign out" leaves no key and nothing that was shown: the token
    is revoked and gone from the tab, and the pages' content with it."""
    token = make_user("admin")[2]
    _open(browser, server, token)
    _ready(browser, "users")
    shown = people["coordinator"]["email"]
    assert shown in browser.find_element(By.ID, "users-rows").text
    browser.find_element(By.ID, "signout").click()
    _wait(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "signed out")
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 401
    assert browser.execute_script("return sessionStorage.getItem('fieldapp.token')") is None
    assert shown not in browser.execute_script("return document.body.textContent")


def test_a_volunteer_is_turned_away(browser, server, make_user):
    _open(browser, server, make_user("volunteer")[2])
    _wait(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "the sign-in form")
    said = browser.find_element(By.ID, "signin-error").text
    assert "coordinators, lawyers and admins" in said or "协调员、律师和管理员" in said
    assert not browser.find_element(By.ID, "nav").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('fieldapp.token')") is None


def test_review_queue_accepts_rejects_and_asks_for_more(browser, server, people, field,
                                                        tmp_path):
    client, token = field["client"], people["coordinator"]["token"]
    _open(browser, server, token)
    _ready(browser, "queue")  # a coordinator lands on the queue
    Select(browser.find_element(By.ID, "q-site")).select_by_value(field["queue_site"]["id"])
    items = "#queue-items li"
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, items)) == 4, "four photos")
    # Worst first: the photo 290 m from its claim leads, with the distance on its map.
    first = browser.execute_script("return document.body.dataset.reviewing")
    verdicts = [li.get_attribute("data-verdict") for li in
                browser.find_elements(By.CSS_SELECTOR, items)]
    assert verdicts[0] != "consistent" and verdicts[1:] == ["consistent"] * 3, verdicts
    distance = _wait(browser, lambda d: d.find_element(By.ID, "r-distance")
                     .get_attribute("data-metres"), "the distance")
    assert 250 < int(distance) < 330, distance
    _wait(browser, lambda d: d.find_element(By.ID, "r-preview").get_attribute("data-loaded")
          == "true", "the preview")
    checks = browser.find_elements(By.CSS_SELECTOR, "#r-checks tr")
    assert len(checks) >= 5 and "gps" in " ".join(c.text for c in checks).lower()
    browser.find_element(By.ID, "r-custody-show").click()
    _wait(browser, lambda d: "received" in d.find_element(By.ID, "r-custody").text, "custody")
    browser.execute_script("window.scrollTo(0, 0)")
    _shot(browser, tmp_path, "queue")

    body = browser.find_element(By.TAG_NAME, "body")
    # r without a reason is refused in the page, and nothing is sent.
    body.send_keys("r")
    _wait(browser, lambda d: d.switch_to.active_element.get_attribute("id") == "r-reason",
          "the reason field")
    assert _photo_review(client, token, first) is None
    # A reason, then Enter: rejected; the queue moves on without a reload.
    browser.switch_to.active_element.send_keys("GPS 290 m from the claimed outfall" + Keys.ENTER)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, items)) == 3, "three left")
    second = browser.execute_script("return document.body.dataset.reviewing")
    assert second != first
    # The keyboard is out of the reason field, on the next photo: keys are shortcuts again.
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "pick"
    focused.send_keys("a")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, items)) == 2, "two left")
    # The last two, selected with x and j, asked for more at once.
    for key in ("x", "j", "x"):
        browser.switch_to.active_element.send_keys(key)
    rest = [li.get_attribute("data-photo") for li in browser.find_elements(By.CSS_SELECTOR, items)]
    browser.find_element(By.ID, "bulk-needs").click()
    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, items), "an empty queue")

    rejected = _photo_review(client, token, first)
    assert rejected["decision"] == "rejected"
    assert rejected["reason"] == "GPS 290 m from the claimed outfall"
    assert _photo_review(client, token, second)["decision"] == "accepted"
    assert [_photo_review(client, token, p)["decision"] for p in rest] == ["needs_more"] * 2
    pending = client.get(f"/api/v1/photos?review=pending&site_id={field['queue_site']['id']}",
                         headers=auth(token)).get_json()
    assert pending["total"] == 0

    # The site's page: its reports on the map, its risk, its timeline with the reviews.
    browser.get(f"{server}/console#/sites/{field['queue_site']['id']}")
    _ready(browser, "site")
    assert browser.find_element(By.ID, "site-map").get_attribute("data-reports") == "4"
    assert "长春测试水泥厂" in browser.find_element(By.ID, "site-name").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#site-timeline li")) >= 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "#site-risk dd")) == 7
    _shot(browser, tmp_path, "site")
    browser.get(f"{server}/console#/sites")
    _ready(browser, "sites")
    assert browser.find_element(By.CSS_SELECTOR,
                                f'#sites-rows tr[data-site="{field["queue_site"]["id"]}"]')
    _shot(browser, tmp_path, "sites")


def test_lawyer_builds_freezes_and_downloads_a_case(app, browser, server, people, field,
                                                    tmp_path):
    client, token = field["client"], people["lawyer"]["token"]
    site_id = field["case_site"]["id"]
    _open(browser, server, token)
    _ready(browser, "cases")
    Select(browser.find_element(By.ID, "cn-site")).select_by_value(site_id)
    browser.find_element(By.ID, "cn-title").send_keys("西宁测试电镀厂 偷排")
    browser.find_element(By.ID, "cn-authority").send_keys("西宁市中级人民法院" + Keys.ENTER)
    _ready(browser, "case")
    case_id = browser.current_url.rsplit("/", 1)[1]
    Select(browser.find_element(By.ID, "ce-status")).select_by_value("litigation_filed")
    browser.find_element(By.ID, "ce-number").send_keys("(2026)青01民初42号" + Keys.ENTER)
    _wait(browser, lambda d: "(2026)青01民初42号" in d.find_element(By.ID, "case-about").text,
          "the case number")
    shown = client.get(f"/api/v1/cases/{case_id}", headers=auth(token)).get_json()
    assert (shown["legal_status"], shown["case_number"], shown["authority"]) == (
        "litigation_filed", "(2026)青01民初42号", "西宁市中级人民法院")

    # Both verified photos of the site, picked with the keyboard from their previews.
    for n in (1, 2):
        browser.find_element(By.ID, "picker-open").click()
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#picker-photos img[src]"),
              "the picker's previews")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#picker-photos button")) == 3 - n
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        purpose = _wait(browser, lambda d: d.find_element(By.ID, "pk-purpose"), "the form")
        purpose.send_keys(f"证明排污口 {n} Shows outfall {n}")
        browser.find_element(By.CSS_SELECTOR, '#picker-form button[type="submit"]').click()
        _wait(browser, lambda d, n=n: len(d.find_elements(
            By.CSS_SELECTOR, "#case-items li[data-item]")) == n, f"item {n}")
    items = client.get(f"/api/v1/cases/{case_id}/items", headers=auth(token)).get_json()
    assert [i["purpose"] for i in items] == ["证明排污口 1 Shows outfall 1",
                                             "证明排污口 2 Shows outfall 2"]
    # Reordered: the first item moved down.
    browser.find_element(By.CSS_SELECTOR,
                         "#case-items li:first-child .controls button:nth-child(2)").click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#case-items li:first-child")
          .get_attribute("data-item") == items[1]["id"], "the new order")
    reordered = client.get(f"/api/v1/cases/{case_id}/items", headers=auth(token)).get_json()
    assert [(i["id"], i["number"]) for i in reordered] == [(items[1]["id"], 1),
                                                           (items[0]["id"], 2)]

    # Freeze: 202 and `freezing` shown; the queued job runs here, as the worker would; the
    # page follows the dossier until it is frozen, then offers the download.
    browser.find_element(By.ID, "freeze").click()
    _wait(browser, lambda d: d.find_element(By.ID, "freeze-progress")
          .get_attribute("data-status") == "freezing", "freezing")
    run_jobs(app)
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#dossiers li[data-status="frozen"] button'), "a frozen dossier")
    assert browser.find_element(By.ID, "freeze-progress").get_attribute("data-status") == "frozen"
    browser.find_element(By.CSS_SELECTOR, "#verify-help summary").click()
    assert "sha256sum -c SHA256SUMS" in browser.find_element(By.ID, "verify-help").text
    _shot(browser, tmp_path, "case")
    browser.find_element(By.CSS_SELECTOR, '#dossiers li[data-status="frozen"] button').click()
    _wait(browser, lambda d: [p for p in d.downloads.iterdir() if p.suffix == ".zip"],
          "the ZIP")
    (zipped,) = [p for p in browser.downloads.iterdir() if p.suffix == ".zip"]
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
    assert any(n.endswith("/manifest.json") for n in names)
    assert sum("/originals/" in n for n in names) == 2

    dossiers = client.get(f"/api/v1/cases/{case_id}/dossiers", headers=auth(token)).get_json()
    assert [(d["status"], d["item_count"]) for d in dossiers] == [("frozen", 2)]
    browser.get(f"{server}/console#/cases")
    _ready(browser, "cases")
    assert browser.find_element(By.CSS_SELECTOR, f'#cases-rows tr[data-case="{case_id}"]')
    _shot(browser, tmp_path, "cases")


def test_admin_creates_changes_and_disables_a_user(browser, server, people, client, tmp_path):
    token = people["admin"]["token"]
    _open(browser, server, token)
    _ready(browser, "users")
    email = "console-new-lawyer@example.org"
    browser.find_element(By.ID, "un-email").send_keys(email)
    browser.find_element(By.ID, "un-name").send_keys("新律师")
    browser.find_element(By.ID, "un-password").send_keys("a long enough password 42")
    Select(browser.find_element(By.ID, "un-role")).select_by_value("coordinator")
    browser.find_element(By.CSS_SELECTOR, '#user-new button[type="submit"]').click()
    row = f'#users-rows tr[data-email="{email}"]'
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), "the new user")
    # Its role changed to lawyer, then the account disabled.
    Select(browser.find_element(By.CSS_SELECTOR, f"{row} select")).select_by_value("lawyer")
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-role")
          == "lawyer", "the new role")
    browser.find_element(By.CSS_SELECTOR, f"{row} button.toggle").click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, row)
          .get_attribute("data-disabled") == "true", "disabled")
    _shot(browser, tmp_path, "users")

    users = client.get("/api/v1/users", headers=auth(token)).get_json()
    (made,) = [u for u in users if u["email"] == email]
    assert made["role"] == "lawyer" and made["disabled"] is True
    assert made["display_name"] == "新律师"
    refused = client.post("/api/v1/auth/token", json={
        "email": email, "password": "a long enough password 42"})
    assert refused.status_code in (401, 403)


def _complaint_page(browser, complaint_id: str) -> None:
    _wait(browser, lambda d: d.current_url.endswith(f"#/complaints/{complaint_id}") or
          d.current_url.rsplit("/", 1)[-1] == complaint_id, "the complaint's page")
    _ready(browser, "complaint")


def _status_shown(browser) -> str:
    return browser.find_element(By.ID, "cp-status").get_attribute("data-status")


def _record(browser, kind: str, **fields) -> None:
    """Fill the complaint page's update form for `kind` and submit it."""
    Select(browser.find_element(By.ID, "cu-kind")).select_by_value(kind)
    for name, value in fields.items():
        box = browser.find_element(By.ID, f"cu-{name}")
        assert box.is_displayed(), f"{name} is not offered for {kind}"
        box.clear()
        box.send_keys(str(value))
    browser.find_element(By.CSS_SELECTOR, '#cp-update button[type="submit"]').click()


def test_coordinator_files_a_complaint_that_shows_as_overdue(browser, server, people, field,
                                                             client, tmp_path):
    token, site_id = people["coordinator"]["token"], field["queue_site"]["id"]
    _open(browser, server, token)
    _ready(browser, "queue")
    browser.find_element(By.CSS_SELECTOR, '#nav a[data-nav="complaints"]').click()
    _ready(browser, "complaints")
    # Filed 20 days ago: the 15 days for a decision on acceptance have passed unanswered.
    filed = (datetime.now(CST) - timedelta(days=20)).date()
    Select(browser.find_element(By.ID, "cf-site")).select_by_value(site_id)
    Select(browser.find_element(By.ID, "cf-channel")).select_by_value("12369")
    browser.find_element(By.ID, "cf-number").send_keys("XZ-2026-0042")
    browser.execute_script("document.getElementById('cf-filed').value = arguments[0]",
                           filed.isoformat())
    browser.find_element(By.ID, "cf-authority").send_keys("长春市生态环境局")
    browser.find_element(By.CSS_SELECTOR, '#complaint-new button[type="submit"]').click()
    _wait(browser, lambda d: "#/complaints/" in d.current_url, "the complaint's page")
    complaint_id = browser.current_url.rsplit("/", 1)[1]
    _complaint_page(browser, complaint_id)
    assert "XZ-2026-0042" in browser.find_element(By.ID, "cp-title").text
    browser.find_element(By.CSS_SELECTOR, '#nav a[data-nav="complaints"]').click()
    _ready(browser, "complaints")
    row = '#complaints-rows tr[data-overdue="true"]'
    _wait(browser, lambda d: any("XZ-2026-0042" in r.text
                                 for r in d.find_elements(By.CSS_SELECTOR, row)), "overdue")
    browser.find_element(By.ID, "c-overdue").click()
    _wait(browser, lambda d: d.find_element(By.ID, "complaints-rows")
          .get_attribute("data-filter") == "overdue", "the overdue filter")
    assert all(r.get_attribute("data-overdue") == "true"
               for r in browser.find_elements(By.CSS_SELECTOR, "#complaints-rows tr"))
    _shot(browser, tmp_path, "complaints")
    overdue = client.get(f"/api/v1/complaints?overdue=true&site_id={site_id}",
                         headers=auth(token)).get_json()
    (complaint,) = [c for c in overdue["items"] if c["number"] == "XZ-2026-0042"]
    assert complaint["id"] == complaint_id
    assert complaint["channel"] == "12369" and complaint["lapsed"] == ["acceptance"]
    assert complaint["report_ids"] == []

    # The authority accepts it late: recorded on its page, checked through the API.
    browser.find_element(By.CSS_SELECTOR,
                         f'#complaints-rows tr[data-complaint="{complaint_id}"] td a'
                         f'[href="#/complaints/{complaint_id}"]').click()
    _complaint_page(browser, complaint_id)
    _record(browser, "accepted")
    _wait(browser, lambda d: _status_shown(d) == "accepted", "accepted")
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert shown["status"] == "accepted" and shown["deadlines"]["acceptance"]["late"] is True


def test_a_complaint_cites_picked_reports_and_lives_on_its_page(app, browser, server, people,
                                                                field, client, tmp_path):
    """A coordinator files a complaint citing two of the site's reports picked from their
    previews, sees them on its page, in the API and in its letter; moves its status (the
    edit the API allows), records an extension, and is told when a move is impossible;
    then sends a third report as further evidence, the two as filed unchanged."""
    from tests.integration.test_complaints import _pdf_text

    token, site_id = people["coordinator"]["token"], field["queue_site"]["id"]
    reports = client.get(f"/api/v1/sites/{site_id}/reports?page_size=50",
                         headers=auth(token)).get_json()["items"]
    assert len(reports) == 4
    _open(browser, server, token)
    _ready(browser, "queue")
    browser.get(f"{server}/console#/complaints")
    _ready(browser, "complaints")
    Select(browser.find_element(By.ID, "cf-site")).select_by_value(site_id)
    buttons = "#cf-reports button"
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, buttons)) == 4 and
          len(d.find_elements(By.CSS_SELECTOR, "#cf-reports img[data-loaded]")) == 4,
          "the site's four reports with their previews")
    # Each choice says when it was observed and its verdict.
    first = browser.find_element(By.CSS_SELECTOR, buttons)
    assert reports[0]["observed_at"] and first.find_element(By.CSS_SELECTOR, ".badge").text
    # Two picked with the keyboard (Space presses a button), one pressed twice: unpicked.
    picked = [reports[0]["id"], reports[2]["id"]]
    for report_id in (picked[0], reports[1]["id"], picked[1], reports[1]["id"]):
        button = browser.find_element(By.CSS_SELECTOR, f'{buttons}[data-choice="{report_id}"]')
        button.send_keys(Keys.SPACE)
    assert [b.get_attribute("data-choice") for b in browser.find_elements(
        By.CSS_SELECTOR, f'{buttons}[aria-pressed="true"]')] == picked
    assert browser.find_element(By.ID, "cf-chosen").text.endswith("2")
    filed_on = (datetime.now(CST) - timedelta(days=3)).date()
    browser.find_element(By.ID, "cf-number").send_keys("CC-2026-0007")
    browser.execute_script("document.getElementById('cf-filed').value = arguments[0]",
                           filed_on.isoformat())
    browser.find_element(By.ID, "cf-authority").send_keys("长春市生态环境局")
    browser.find_element(By.ID, "cf-summary").send_keys("水泥厂夜间排放粉尘")
    browser.find_element(By.CSS_SELECTOR, '#complaint-new button[type="submit"]').click()
    _wait(browser, lambda d: "#/complaints/" in d.current_url, "the complaint's page")
    complaint_id = browser.current_url.rsplit("/", 1)[1]
    _complaint_page(browser, complaint_id)

    # Cited in the order they were observed, on the page and in the API.
    by_time = [r["id"] for r in sorted((r for r in reports if r["id"] in picked),
                                       key=lambda r: r["observed_at"])]
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cp-reports img[data-loaded]"))
          == 2, "the cited reports' previews")
    assert [li.get_attribute("data-report") for li in browser.find_elements(
        By.CSS_SELECTOR, "#cp-reports li[data-report]")] == by_time
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert shown["report_ids"] == by_time and shown["status"] == "filed"
    assert shown["summary"] == "水泥厂夜间排放粉尘"
    letter = client.get(f"/api/v1/complaints/{complaint_id}/packet", headers=auth(token))
    words = _pdf_text(letter.data)
    cited_photos = [p["sha256"] for r in reports if r["id"] in picked for p in r["photos"]]
    assert len(cited_photos) == 2 and all(sha in words for sha in cited_photos)
    others = [p["sha256"] for r in reports if r["id"] not in picked for p in r["photos"]]
    assert not any(sha in words for sha in others)
    # The page's button hands over the same letter.
    browser.find_element(By.ID, "cp-packet").click()
    _wait(browser, lambda d: [p for p in d.downloads.iterdir() if p.suffix == ".pdf"],
          "the letter")
    (saved,) = [p for p in browser.downloads.iterdir() if p.suffix == ".pdf"]
    assert all(sha in _pdf_text(saved.read_bytes()) for sha in cited_photos)

    # Its one edit: the status (PATCH); then an extension beside it, then a move on.
    assert "accepted" in browser.find_element(By.ID, "cp-next").text or \
        "已受理" in browser.find_element(By.ID, "cp-next").text
    _record(browser, "accepted")
    _wait(browser, lambda d: _status_shown(d) == "accepted", "accepted")
    _record(browser, "extended", days=10, reason="需委托第三方监测")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cp-updates li[data-kind]"))
          == 2, "the extension")
    _record(browser, "investigating")
    _wait(browser, lambda d: _status_shown(d) == "investigating", "investigating")
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert [u["kind"] for u in shown["updates"]] == ["accepted", "extended", "investigating"]
    assert shown["updates"][1]["reason"] == "需委托第三方监测"
    assert shown["deadlines"]["result"]["extension_days"] == 10
    assert shown["status"] == "investigating" and shown["next_statuses"] == ["replied"]

    # An impossible move is said beside the form, and nothing is written.
    _record(browser, "closed")
    error = _wait(browser, lambda d: d.find_element(By.ID, "cu-error").is_displayed()
                  and d.find_element(By.ID, "cu-error"), "the refusal")
    assert "cannot become closed" in error.text and "replied" in error.text, error.text
    assert _status_shown(browser) == "investigating"
    after = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert after["status"] == "investigating" and len(after["updates"]) == 3
    # So is a field the kind needs and was not given.
    _record(browser, "replied")
    _wait(browser, lambda d: "reply" in d.find_element(By.ID, "cu-error").text.lower() or
          "答复" in d.find_element(By.ID, "cu-error").text, "the missing reply")

    # Further evidence: the two reports not cited yet are offered; one is sent.
    browser.find_element(By.ID, "cp-supplement-open").click()
    offered = "#cp-picker button"
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, offered)) == 2,
          "the reports not cited yet")
    assert {b.get_attribute("data-choice") for b in browser.find_elements(
        By.CSS_SELECTOR, offered)} == {r["id"] for r in reports} - set(picked)
    further = reports[1]["id"]
    browser.find_element(By.CSS_SELECTOR, f'{offered}[data-choice="{further}"]').send_keys(
        Keys.ENTER)
    browser.find_element(By.ID, "cs-reason").send_keys("夜间补拍")
    browser.find_element(By.CSS_SELECTOR, '#cp-supplement button[type="submit"]').click()
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f'#cp-further li[data-report="{further}"]'), "the further evidence")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cp-updates li[data-kind]"))
          == 4, "the supplement among the updates")
    browser.execute_script("window.scrollTo(0, 0)")
    _shot(browser, tmp_path, "complaint")
    final = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert final["report_ids"] == by_time  # as filed
    assert final["updates"][-1]["kind"] == "supplemented"
    assert final["updates"][-1]["report_ids"] == [further]
    assert final["updates"][-1]["reason"] == "夜间补拍"


def _choices(browser, list_id: str) -> list[str]:
    return [b.get_attribute("data-choice")
            for b in browser.find_elements(By.CSS_SELECTOR, f"#{list_id} button")]


def _pressed(browser, list_id: str) -> list[str]:
    return [b.get_attribute("data-choice") for b in browser.find_elements(
        By.CSS_SELECTOR, f'#{list_id} button[aria-pressed="true"]')]


def _more(browser, list_id: str, shown: int) -> None:
    """Press the picker's "more" and wait until it shows `shown` choices."""
    more = browser.find_element(By.ID, f"{list_id}-more")
    assert more.is_displayed()
    more.send_keys(Keys.ENTER)
    _wait(browser, lambda d: len(_choices(d, list_id)) == shown, f"{shown} choices")


def _observed_days(browser, list_id: str, first: str, last: str) -> None:
    """Set the picker's from and to days as a user's date picker would."""
    browser.execute_script("""
        for (const [key, day] of [['from', arguments[1]], ['to', arguments[2]]]) {
          const box = document.getElementById(arguments[0] + '-' + key);
          box.value = day;
          box.dispatchEvent(new Event('change'));
        }""", list_id, first, last)


def test_complaint_pickers_reach_every_report_of_a_crowded_site(browser, server, people,
                                                                 crowded, client, tmp_path):
    """A site with more reports than a page: the filing form's picker shows the newest 100,
    "more" brings the rest with the choices kept, and the observed days narrow it; the
    complaint cites a report from beyond the first page, and further evidence reaches the
    other one, the cited ones never offered again."""
    token, site_id = people["coordinator"]["token"], crowded["site"]["id"]
    reports = crowded["reports"]
    recent, (old_late, old_early) = reports[0]["id"], [r["id"] for r in reports[-2:]]
    _open(browser, server, token)
    _ready(browser, "queue")
    browser.get(f"{server}/console#/complaints")
    _ready(browser, "complaints")
    Select(browser.find_element(By.ID, "cf-site")).select_by_value(site_id)
    _wait(browser, lambda d: len(_choices(d, "cf-reports")) == 100 and
          _choices(d, "cf-reports")[0] == recent, "the first page of the site's reports")
    assert old_late not in _choices(browser, "cf-reports")
    assert browser.find_element(By.CSS_SELECTOR, "#cf-reports-more + [role=status]").text \
        .endswith("100 / 102")
    browser.find_element(By.CSS_SELECTOR, f'#cf-reports button[data-choice="{recent}"]').click()
    _more(browser, "cf-reports", 102)
    # The keyboard goes on from the first report the page brought, and "more" is done.
    assert browser.switch_to.active_element.get_attribute("data-choice") == old_late
    assert not browser.find_element(By.ID, "cf-reports-more").is_displayed()
    browser.switch_to.active_element.send_keys(Keys.SPACE)
    assert _pressed(browser, "cf-reports") == [recent, old_late]
    # That month-old day alone: its two reports, the one chosen still chosen, and the
    # report chosen on another day still counted.
    _observed_days(browser, "cf-reports", crowded["old_day"], crowded["old_day"])
    _wait(browser, lambda d: _choices(d, "cf-reports") == [old_late, old_early], "one day")
    assert _pressed(browser, "cf-reports") == [old_late]
    assert browser.find_element(By.ID, "cf-chosen").text.endswith("2")
    _shot(browser, tmp_path, "picker-days")
    # A day with nothing observed says so.
    _observed_days(browser, "cf-reports", "2020-01-01", "2020-01-02")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#cf-reports li.empty"),
          "no reports on those days")
    browser.find_element(By.ID, "cf-number").send_keys("YC-2026-0101")
    browser.execute_script("document.getElementById('cf-filed').value = arguments[0]",
                           datetime.now(CST).date().isoformat())
    browser.find_element(By.ID, "cf-authority").send_keys("银川市生态环境局")
    browser.find_element(By.CSS_SELECTOR, '#complaint-new button[type="submit"]').click()
    _wait(browser, lambda d: "#/complaints/" in d.current_url, "the complaint's page")
    complaint_id = browser.current_url.rsplit("/", 1)[1]
    _complaint_page(browser, complaint_id)
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert shown["report_ids"] == [old_late, recent]  # in the order observed

    # Further evidence: the 100 reports not cited, over two pages; the other old one sent.
    browser.find_element(By.ID, "cp-supplement-open").click()
    _wait(browser, lambda d: len(_choices(d, "cp-picker")) == 99, "the first page less one")
    _more(browser, "cp-picker", 100)
    _shot(browser, tmp_path, "picker-more")
    offered = _choices(browser, "cp-picker")
    assert set(offered) == {r["id"] for r in reports} - {recent, old_late}
    assert len(set(offered)) == 100
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert _pressed(browser, "cp-picker") == [old_early]
    browser.find_element(By.CSS_SELECTOR, '#cp-supplement button[type="submit"]').click()
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f'#cp-further li[data-report="{old_early}"]'), "the further evidence")
    final = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth(token)).get_json()
    assert final["updates"][-1]["kind"] == "supplemented"
    assert final["updates"][-1]["report_ids"] == [old_early]


def test_case_picker_reaches_every_verified_photo_of_a_crowded_site(browser, server, people,
                                                                    crowded, client):
    """The case's picker of verified photos pages the same way, from the keyboard; a photo
    beyond the first page becomes an item, and is then no longer offered."""
    token, site_id = people["lawyer"]["token"], crowded["site"]["id"]
    made = client.post("/api/v1/cases", headers=auth(token), json={
        "site_id": site_id, "title": "银川测试焦化厂 无组织排放"})
    assert made.status_code == 201, made.get_json()
    case_id = made.get_json()["id"]
    oldest = crowded["reports"][-1]["photos"][0]["id"]
    _open(browser, server, token)
    _ready(browser, "cases")
    browser.get(f"{server}/console#/cases/{case_id}")
    _ready(browser, "case")
    browser.find_element(By.ID, "picker-open").click()
    _wait(browser, lambda d: len(_choices(d, "picker-photos")) == 100, "the first page")
    assert oldest not in _choices(browser, "picker-photos")
    _more(browser, "picker-photos", 102)
    # Narrowed to the oldest photos' day, then that photo picked with the keyboard.
    _observed_days(browser, "picker-photos", crowded["old_day"], crowded["old_day"])
    _wait(browser, lambda d: len(_choices(d, "picker-photos")) == 2, "one day's photos")
    assert not browser.find_element(By.ID, "picker-photos-more").is_displayed()
    browser.find_element(By.CSS_SELECTOR,
                         f'#picker-photos button[data-choice="{oldest}"]').send_keys(Keys.ENTER)
    purpose = _wait(browser, lambda d: d.find_element(By.ID, "pk-purpose"), "the form")
    purpose.send_keys("证明一个月前已有无组织排放")
    browser.find_element(By.CSS_SELECTOR, '#picker-form button[type="submit"]').click()
    _wait(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f'#case-items li[data-photo="{oldest}"]'), "the item")
    items = client.get(f"/api/v1/cases/{case_id}/items", headers=auth(token)).get_json()
    assert [i["photo_id"] for i in items] == [oldest]
    # Opened again, with every day: the item's photo is left out on every page.
    _observed_days(browser, "picker-photos", "", "")
    browser.find_element(By.ID, "picker-open").click()
    _wait(browser, lambda d: len(_choices(d, "picker-photos")) == 100, "the first page")
    _more(browser, "picker-photos", 101)
    assert oldest not in _choices(browser, "picker-photos")


# Haikou: no other test puts sites or reports here.
HOSTILE_SITE = (110.33, 20.03)


def _hostile(label: str) -> str:
    """Text that would run, restyle or add an element if it ever reached the markup."""
    return (f"{label}<img src=x data-pwned onerror=__pwned=1><script>__pwned=2</script>"
            "<b style=color:red data-pwned>!</b>")


def test_text_from_volunteers_and_outsiders_shows_literally_and_never_runs(
        app, browser, server, people, client):
    """Every field a volunteer, a site list or an authority's reply fills, planted through the
    API with markup in it: each page shows it as text, and nothing in it runs or is made."""
    from fieldapp.accounts import service

    lon, lat = HOSTILE_SITE
    coordinator, lawyer = people["coordinator"]["token"], people["lawyer"]["token"]
    with app.app_context():
        volunteer = service.issue_token(service.create_user(
            "console-hostile@example.org", service.generate_password(), "volunteer",
            display_name=_hostile("NAME")))
    site = client.post("/api/v1/sites", headers=auth(coordinator), json={
        "name": _hostile("SITE"), "name_en": _hostile("SITE_EN"), "operator": _hostile("OPERATOR"),
        "geometry": {"type": "Point", "coordinates": [lon, lat]}}).get_json()
    now = datetime.now(CST).replace(microsecond=0)
    claim = report_json(category="water", description=_hostile("DESCRIPTION"),
                        observed_at=(now - timedelta(hours=1)).isoformat(),
                        location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10})
    photo = jpeg_bytes(seed=3300, lat=lat, lon=lon, taken=now - timedelta(hours=1),
                       make=_hostile("MAKE"), model=_hostile("MODEL"),
                       software=_hostile("SOFTWARE"))
    posted = post_report(client, volunteer, claim, [(photo, _hostile("FILE") + ".jpg")])
    assert posted.status_code == 201, posted.get_json()
    report = posted.get_json()
    verified = submit_at(client, volunteer, lon + 0.0003, lat, 3301, now - timedelta(hours=2))
    analyse_waiting(app)

    case = client.post("/api/v1/cases", headers=auth(lawyer), json={
        "site_id": site["id"], "title": _hostile("CASE"), "authority": _hostile("COURT"),
        "case_number": _hostile("DOCKET"),
        "timeline": [{"date": now.date().isoformat(), "text": _hostile("ENTRY")}]})
    assert case.status_code == 201, case.get_json()
    case = case.get_json()
    item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(lawyer), json={
        "photo_id": verified["photos"][0]["id"], "title": _hostile("ITEM"),
        "purpose": _hostile("PURPOSE")})
    assert item.status_code == 201, item.get_json()
    complaint = client.post("/api/v1/complaints", headers=auth(coordinator), json={
        "site_id": site["id"], "channel": "12369", "number": _hostile("NUMBER"),
        "filed_at": (now - timedelta(days=1)).isoformat(), "authority": _hostile("BUREAU"),
        "summary": _hostile("SUMMARY"), "report_ids": [report["id"]]})
    assert complaint.status_code == 201, complaint.get_json()
    complaint = complaint.get_json()
    note = client.post(f"/api/v1/complaints/{complaint['id']}/updates", headers=auth(coordinator),
                       json={"kind": "note", "occurred_at": now.isoformat(),
                             "reason": _hostile("REPLY")})
    assert note.status_code == 201, note.get_json()

    def literal(labels):
        text = browser.execute_script("return document.body.innerText")
        for label in labels:
            assert _hostile(label) in text, (label, text[:3000])

    _open(browser, server, people["admin"]["token"])
    _ready(browser, "users")
    literal(["NAME"])
    pages = [
        ("#/sites", "sites", ["SITE", "OPERATOR"]),
        (f"#/sites/{site['id']}", "site", ["SITE", "SITE_EN", "OPERATOR", "CASE", "BUREAU"]),
        ("#/cases", "cases", ["CASE", "SITE"]),
        (f"#/cases/{case['id']}", "case", ["CASE", "SITE", "COURT", "DOCKET", "ENTRY", "ITEM",
                                           "PURPOSE"]),
        ("#/complaints", "complaints", ["SITE", "NUMBER", "BUREAU"]),
        (f"#/complaints/{complaint['id']}", "complaint", ["SITE", "NUMBER", "BUREAU", "SUMMARY",
                                                          "REPLY"]),
    ]
    for route, page, labels in pages:
        browser.get(f"{server}/console{route}")
        _ready(browser, page)
        literal(labels)
    # The review queue, the hostile photo chosen: its claim beside its EXIF reading.
    browser.get(f"{server}/console#/queue")
    _ready(browser, "queue")
    Select(browser.find_element(By.ID, "q-site")).select_by_value(site["id"])
    photo_id = report["photos"][0]["id"]
    at_site = {photo_id, verified["photos"][0]["id"]}
    _wait(browser, lambda d: {li.get_attribute("data-photo") for li in d.find_elements(
        By.CSS_SELECTOR, "#queue-items li")} == at_site, "the site's photos")
    pick = f'#queue-items li[data-photo="{photo_id}"] .pick'
    browser.find_element(By.CSS_SELECTOR, pick).click()
    _wait(browser, lambda d: d.execute_script(
        "return document.body.dataset.reviewing") == photo_id, "its review")
    literal(["DESCRIPTION", "MAKE", "MODEL", "SOFTWARE"])

    assert browser.execute_script("return window.__pwned") is None
    assert browser.find_elements(By.CSS_SELECTOR, "[data-pwned], script:not([src])") == []
    assert browser.title.endswith("· fieldapp")

"""The dashboard in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): sign in,
upload through the file input, watch rows turn Ready live, play, edit, add a track, share a private playback ID,
delete. One server and one browser for the module; screenshots go to the folder the README names."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, start_server
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS
from tests.web_helpers import PASSWORD, make_user

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("REELHOUSE_SCREENSHOTS", Path(__file__).resolve().parent.parent / "screenshots"))
pytestmark = [
    IN_ONE_PASS,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"),
    pytest.mark.timeout(300),
]
EMAIL = "browser@example.com"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """On SQLite whatever the suite's database: what is tested here is the browser's side."""
    folder = tmp_path_factory.mktemp("web")
    settings = Settings(data_dir=folder / "data", host="127.0.0.1", port=free_port(), workers=2,
                        allowed_networks=["127.0.0.1/32"], job_lease_seconds=3)
    make_user(settings, EMAIL)
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("uploads")
    return [make_clip(folder / "first clip.mp4", seconds=2), make_clip(folder / "second.mp4", seconds=2)]


def until(condition: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (StaleElementReferenceException, NoSuchElementException):  # the page reloaded under us
            value = None
        except WebDriverException as exc:  # chromium's word for a stale node, read while the page re-renders
            if "does not belong to the document" not in exc.msg:
                raise
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} never held within {timeout} s")


def shoot(driver: webdriver.Chrome, name: str) -> None:
    """Desktop and phone-width screenshots of the current page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in {"desktop": (1280, 900), "phone": (390, 844)}.items():
        driver.set_window_size(width, height)
        time.sleep(0.3)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, full), 3000))
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    driver.set_window_size(1280, 900)


def sign_in(driver: webdriver.Chrome, site: Server) -> None:
    driver.get(f"{site.url}/")
    assert "/login" in driver.current_url
    driver.find_element(By.CSS_SELECTOR, '[data-testid="login-email"]').send_keys(EMAIL)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="login-password"]').send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="login-submit"]').click()
    until(lambda: driver.current_url == f"{site.url}/", 10, "landing on the library")


def statuses(driver: webdriver.Chrome) -> dict[str, str]:
    rows = driver.find_elements(By.CSS_SELECTOR, '[data-testid="media-row"]')
    return {row.get_attribute("data-media-id"): row.get_attribute("data-status") for row in rows}


def plays(driver: webdriver.Chrome) -> None:
    """The player's time advances and hls.js reported no error."""
    driver.execute_script("const v = document.querySelector('[data-testid=player]'); v.muted = true; v.play();")
    until(lambda: driver.execute_script("return document.querySelector('[data-testid=player]').currentTime") > 0.5,
          30, "playback to advance")
    assert driver.execute_script("return window.playerErrors") == []


def test_upload_watch_edit_share_and_delete(site: Server, browser: webdriver.Chrome, media_files: list[Path],
                                           file_server: str, clips: Path) -> None:
    sign_in(browser, site)
    assert "Your library is empty" in browser.page_source

    browser.get(f"{site.url}/upload")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-input"]').send_keys(
        "\n".join(str(p) for p in media_files))
    until(lambda: len(browser.find_elements(By.CSS_SELECTOR, '[data-testid="upload-row"][data-state="done"]')) == 2,
          60, "both uploads to finish")
    assert browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-row"] progress').get_attribute("value")

    browser.get(f"{site.url}/")  # rows listed now; they turn Ready without a reload
    assert len(statuses(browser)) == 2
    until(lambda: set(statuses(browser).values()) == {"Ready"}, 90, "both rows to turn Ready live")
    until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".media-row img")) == 2, 10, "thumbnails")
    shoot(browser, "library")

    media_id = next(iter(statuses(browser)))
    browser.get(f"{site.url}/media/{media_id}")
    plays(browser)

    # Edit the title: a <script> in it renders as text.
    field = browser.find_element(By.ID, "title")
    field.clear()
    field.send_keys("<script>window.pwned=1</script> Renamed")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="save-details"]').click()
    until(lambda: "Renamed" in browser.find_element(By.ID, "media-title").text, 10, "the new title")
    assert browser.find_element(By.ID, "media-title").text.startswith("<script>")
    assert browser.execute_script("return window.pwned") is None

    # Add a subtitle track from a URL, then pick it in the player's subtitle menu.
    (clips / "captions.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello from a test\n")
    form = browser.find_element(By.CSS_SELECTOR, '[data-testid="add-track"]')
    form.find_element(By.NAME, "tracks.url").send_keys(f"{file_server}/captions.vtt")
    form.find_element(By.NAME, "tracks.languageCode").send_keys("fr")
    form.find_element(By.NAME, "tracks.languageName").send_keys("Français")
    form.find_element(By.CSS_SELECTOR, "button").click()
    until(lambda: "Français" in browser.find_element(By.CSS_SELECTOR, ".table").text, 10, "the added track")

    def subtitles_listed() -> bool:
        browser.refresh()
        time.sleep(1)
        return "Français" in browser.find_element(By.CSS_SELECTOR, '[data-menu="subtitles"]').text

    until(subtitles_listed, 60, "the subtitle track in the player")
    plays(browser)
    browser.find_element(By.CSS_SELECTOR, '[data-menu="subtitles"] option:last-child').click()
    until(lambda: browser.execute_script("return window.hls.subtitleTrack") == 0, 10, "the subtitle switch")
    audio = browser.find_elements(By.CSS_SELECTOR, '[data-menu="audio"] option')
    assert audio, "the audio menu lists the media's audio"
    shoot(browser, "media")

    # Generate subtitles: the generated track is listed, preparing.
    browser.find_element(By.CSS_SELECTOR, '[data-testid="generate-subtitles"] button').click()
    until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".table tbody tr")) >= 4, 10, "the generated track")

    # A private playback ID opens through a signed share link in a fresh browser (no session).
    form = browser.find_element(By.CSS_SELECTOR, '[data-testid="add-playback-id"]')
    form.find_element(By.CSS_SELECTOR, 'select[name="accessPolicy"] option[value="private"]').click()
    form.find_element(By.CSS_SELECTOR, "button").click()
    until(lambda: browser.find_elements(By.CSS_SELECTOR, '[data-testid="share-link"]'), 10, "the private ID")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="share-link"]').click()
    url = until(lambda: browser.find_element(By.CSS_SELECTOR, '[data-testid="share-url"]').get_attribute("value"))
    browser.delete_all_cookies()
    browser.get(str(url).split("?")[0])
    assert "private" in browser.page_source  # refused without its token
    browser.get(str(url))
    plays(browser)

    # Delete, after confirming.
    sign_in(browser, site)
    other = [i for i in statuses(browser) if i != media_id][0]
    browser.get(f"{site.url}/media/{other}")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="delete-media"]').click()
    browser.switch_to.alert.accept()
    until(lambda: browser.current_url == f"{site.url}/", 10, "the library after deleting")
    assert list(statuses(browser)) == [media_id]

    browser.find_element(By.CSS_SELECTOR, '[data-testid="logout"]').click()
    until(lambda: "/login" in browser.current_url, 10, "the sign-in page after signing out")
    browser.get(f"{site.url}/media/{media_id}")
    assert "/login" in browser.current_url


# Before each page's own scripts: upload in 32 KiB chunks, record every Content-Range sent, and let a test hold
# every chunk after `window.holdAfterChunks` of them (the request is never sent, as on a dead connection).
INTERRUPTIBLE_UPLOADS = """
window.reelhouseUploadChunkBytes = 32768;
window.sentRanges = [];
const realSetHeader = XMLHttpRequest.prototype.setRequestHeader;
XMLHttpRequest.prototype.setRequestHeader = function (name, value) {
  if (name === "Content-Range") { this.contentRange = value; window.sentRanges.push(value); }
  return realSetHeader.call(this, name, value);
};
const realSend = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  const chunks = window.sentRanges.filter((r) => !r.startsWith("bytes */")).length;
  if (window.holdAfterChunks !== undefined && this.contentRange && !this.contentRange.startsWith("bytes */")
      && chunks > window.holdAfterChunks) return;
  return realSend.call(this, body);
};
"""


def test_developers_interrupted_upload_and_media_controls(site: Server, browser: webdriver.Chrome,
                                                          tmp_path: Path, file_server: str, clips: Path) -> None:
    sign_in(browser, site)

    # An access token: its secret is shown once, then the token can be revoked.
    browser.get(f"{site.url}/developers")
    browser.find_element(By.CSS_SELECTOR, 'input[name="name"]').send_keys("ci robot")
    browser.find_element(By.XPATH, '//button[text()="Create token"]').click()
    secret = browser.find_element(By.CSS_SELECTOR, '[data-testid="new-token-secret"]').text
    token_id = browser.find_element(By.CSS_SELECTOR, '[data-testid="new-token-id"]').text
    assert secret and token_id
    browser.get(f"{site.url}/developers")
    assert secret not in browser.page_source and token_id in browser.page_source
    row = browser.find_element(By.XPATH, f'//tr[.//code[text()="{token_id}"]]')
    row.find_element(By.XPATH, './/button[text()="Revoke"]').click()
    until(lambda: token_id not in browser.page_source, 10, "the revoked token to leave the list")

    # A signing key: its private half is revealed once, and the key is listed.
    browser.find_element(By.XPATH, '//button[text()="Create signing key"]').click()
    revealed = until(lambda: browser.find_element(By.ID, "new-key").text, 10, "the new key")
    key = json.loads(str(revealed))
    assert key["privateKey"]
    browser.get(f"{site.url}/developers")
    assert browser.find_elements(By.XPATH, f'//h2[text()="Signing keys"]/..//tbody//code[text()="{key["id"]}"]')

    # A webhook endpoint for every event.
    hook_url = f"{file_server}/hook"
    browser.find_element(By.CSS_SELECTOR, 'form[data-api="POST /v1/webhooks"] input[name="url"]').send_keys(hook_url)
    browser.find_element(By.XPATH, '//button[text()="Add endpoint"]').click()
    until(lambda: browser.find_element(By.ID, "new-hook").text, 10, "the new endpoint")
    shoot(browser, "developers")

    # An upload cut off after two chunks; after a reload, picking the same file resumes at the committed offset.
    clip = make_clip(tmp_path / "resumed.mp4", seconds=2, width=320, height=240)
    assert clip.stat().st_size > 3 * 32768
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INTERRUPTIBLE_UPLOADS})
    browser.get(f"{site.url}/upload")
    browser.execute_script("window.holdAfterChunks = 2")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-input"]').send_keys(str(clip))
    until(lambda: len(browser.execute_script("return window.sentRanges")) >= 3, 20, "the third chunk to be held")
    shoot(browser, "upload")
    browser.refresh()
    browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-input"]').send_keys(str(clip))
    until(lambda: browser.find_elements(By.CSS_SELECTOR, '[data-testid="upload-row"][data-state="done"]'), 30,
          "the resumed upload to finish")
    ranges = browser.execute_script("return window.sentRanges")
    assert ranges[0] == f"bytes */{clip.stat().st_size}"  # asks the server what it committed
    assert ranges[1].startswith("bytes 65536-")  # and goes on from there, not from 0
    media_id = browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-row"] a').get_attribute("href") \
        .rsplit("/", 1)[1]
    browser.get(f"{site.url}/")
    until(lambda: statuses(browser).get(media_id) == "Ready", 90, "the resumed media to turn Ready")

    # Summary and chapters, MP4 support and source access on its media page.
    browser.get(f"{site.url}/media/{media_id}")
    browser.find_element(By.XPATH, '//button[text()="Generate summary"]').click()
    until(lambda: "Summary:" in browser.page_source or browser.find_elements(By.CSS_SELECTOR, "p.summary"),
          10, "the summary")
    browser.find_element(By.XPATH, '//button[text()="Generate chapters"]').click()
    until(lambda: "Chapters:" in browser.page_source or browser.find_elements(By.CSS_SELECTOR, ".chapter-list"),
          10, "the chapters")
    browser.find_element(By.CSS_SELECTOR, 'select[name="mp4Support"] option[value="capped_4k"]').click()
    browser.find_element(By.XPATH, '//form[contains(@data-api, "update-mp4Support")]//button').click()

    def mp4_link() -> object:
        browser.refresh()
        return browser.find_elements(By.XPATH, '//a[text()="download" and contains(@href, "capped-4k.mp4")]')

    until(mp4_link, 60, "the MP4 download link")
    browser.find_element(By.XPATH, '//button[text()="Turn on"]').click()
    until(lambda: browser.find_elements(By.XPATH, '//a[text()="Download the original"]'), 10, "source access on")
    href = browser.find_element(By.XPATH, '//a[text()="Download the original"]').get_attribute("href")
    assert browser.execute_script("return (await fetch(arguments[0])).status", href) == 200

    # Edit, then delete, a subtitle track.
    (clips / "edit.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nEdit me\n")
    form = browser.find_element(By.CSS_SELECTOR, '[data-testid="add-track"]')
    form.find_element(By.NAME, "tracks.url").send_keys(f"{file_server}/edit.vtt")
    form.find_element(By.NAME, "tracks.languageCode").send_keys("de")
    form.find_element(By.NAME, "tracks.languageName").send_keys("Deutsch")
    form.find_element(By.CSS_SELECTOR, "button").click()
    row = until(lambda: browser.find_element(By.XPATH, '//tr[td[contains(., "Deutsch")]]'), 10, "the new track")
    row.find_element(By.TAG_NAME, "summary").click()
    name = row.find_element(By.NAME, "languageName")
    name.clear()
    name.send_keys("Deutsch (bearbeitet)")
    row.find_element(By.XPATH, './/button[text()="Update"]').click()
    until(lambda: "Deutsch (bearbeitet)" in browser.find_element(By.CSS_SELECTOR, ".table").text, 10, "the edit")
    row = browser.find_element(By.XPATH, '//tr[td[contains(., "bearbeitet")]]')
    row.find_element(By.XPATH, './/button[text()="Delete"]').click()
    browser.switch_to.alert.accept()
    until(lambda: "bearbeitet" not in browser.find_element(By.CSS_SELECTOR, ".table").text, 10, "the deletion")

    # The endpoint saw this media's events: listed on the media page and in the developers' delivery log.
    browser.refresh()
    assert hook_url in browser.find_element(By.XPATH, '//h2[text()="Webhook deliveries"]/..').text
    browser.get(f"{site.url}/developers")
    browser.find_element(By.CSS_SELECTOR, "[data-deliveries]").click()
    until(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-log] details"), 10, "the delivery log")
    assert "video.media" in browser.find_element(By.CSS_SELECTOR, "[data-log]").text

    # No page scrolls sideways at phone width.
    browser.set_window_size(390, 844)
    try:
        for path in ("/", "/upload", "/developers", f"/media/{media_id}"):
            browser.get(f"{site.url}{path}")
            assert browser.execute_script(
                "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), path
    finally:
        browser.set_window_size(1280, 900)

"""The dashboard in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): sign in,
upload through the file input, watch rows turn Ready live, play, edit, add a track, share a private playback ID,
delete. One server and one browser for the module; screenshots go to the folder the README names."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, start_server
from tests.clips import make_clip
from tests.web_helpers import PASSWORD, make_user

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("REELHOUSE_SCREENSHOTS", Path(__file__).resolve().parent.parent / "screenshots"))
pytestmark = [
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

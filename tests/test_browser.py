"""The page in a real browser: Debian's headless Chromium driven by Selenium through chromedriver,
against `tunegen serve` on 127.0.0.1 with the shipped models. Skipped when either is missing
(`scripts/setup --train` installs them)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

from tunegen.runtime.serve_http import Workshop, start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
    pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup --train)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# TUNEGEN_SCREENSHOT=docs/serve.png writes the README's picture; otherwise it goes to a temporary folder
SHOT = os.environ.get("TUNEGEN_SCREENSHOT")


@pytest.fixture(scope="module")
def base():
    root = Path(tempfile.mkdtemp(prefix="tunegen-serve-test-"))
    shop = Workshop(["folk", "piano"], root, 8, 2, 4)
    server = start("127.0.0.1", 0, shop)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    shop.queue.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    import socket

    from selenium.webdriver.chrome.service import Service

    try:  # Selenium reaches chromedriver at "localhost"
        socket.gethostbyname("localhost")
    except OSError:
        pytest.skip("'localhost' does not resolve here (no /etc/hosts), so Selenium cannot reach chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=800,480",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    # the page itself 800x480, a kiosk's touchscreen (the window's size would include its frame)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 800, "height": 480, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()


def _wait(driver, test, seconds: float = 60):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: test(d))


def _ready(browser, url: str) -> None:
    browser.get(url)
    _wait(browser, lambda d: d.find_element(By.ID, "new").is_enabled())


def test_new_tune_draws_the_sheet_plays_and_downloads(browser, base, tmp_path):
    _ready(browser, base + "/")
    assert browser.find_element(By.ID, "new").text == "New tune"
    assert browser.find_element(By.ID, "opt-temperature").get_attribute("placeholder") == "0.8"
    browser.find_element(By.ID, "opt-seed").send_keys("3")
    browser.find_element(By.ID, "new").click()
    img = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sheet img"))[0]
    # the SVG arrived and was drawn: the image decoded with a real size
    _wait(browser, lambda d: d.execute_script("const i = arguments[0]; return i.complete && i.naturalWidth > 100", img))
    assert img.size["width"] > 300
    # the audio element loaded the WAV and plays (headless Chromium's audio goes nowhere)
    _wait(browser, lambda d: d.execute_script("return document.getElementById('audio').readyState >= 3"))
    assert browser.execute_script("return document.getElementById('audio').duration") > 2
    browser.execute_script("document.getElementById('audio').play()")
    _wait(browser, lambda d: d.execute_script("return document.getElementById('audio').currentTime > 0.2"), 10)
    assert "seed 3" in browser.find_element(By.ID, "description").text
    assert "seed 3" in browser.find_element(By.ID, "history").text
    links = {a.text: a for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")}
    assert set(links) == {"ABC", "MIDI", "WAV", "SVG"}
    starts = {"ABC": b"X:", "MIDI": b"MThd", "WAV": b"RIFF", "SVG": b"<"}
    for label, a in links.items():
        href, name = a.get_attribute("href"), a.get_attribute("download")
        assert href.startswith(base) and name.startswith("folk-seed3.")
        with urllib.request.urlopen(href, timeout=30) as r:
            assert r.status == 200 and r.read(64).lstrip().startswith(starts[label]), label
    browser.execute_script("document.getElementById('audio').pause(); document.activeElement.blur();"
                           "document.getElementById('settings').scrollTop = 0")
    assert browser.execute_script("return [innerWidth, innerHeight]") == [800, 480]
    shot = Path(SHOT) if SHOT else tmp_path / "serve.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[16:24] == (800).to_bytes(4, "big") + (480).to_bytes(4, "big")  # PNG size


def test_a_bad_setting_shows_the_servers_message(browser, base):
    _ready(browser, base + "/")
    temperature = browser.find_element(By.ID, "opt-temperature")
    temperature.clear()
    temperature.send_keys("-1")
    browser.find_element(By.ID, "new").click()
    error = _wait(browser, lambda d: (e := d.find_element(By.ID, "error")).is_displayed() and e)
    assert error.text == "temperature must be above 0 (got -1)"
    assert not browser.find_elements(By.CSS_SELECTOR, "#sheet img")


def test_options_follow_the_model(browser, base):
    _ready(browser, base + "/")
    assert browser.find_elements(By.ID, "opt-primer") and not browser.find_elements(By.ID, "opt-bars")
    browser.find_element(By.CSS_SELECTOR, "#model option[value=piano]").click()
    _wait(browser, lambda d: d.find_element(By.ID, "new").text == "New piece")
    assert browser.find_elements(By.ID, "opt-bars") and not browser.find_elements(By.ID, "opt-primer")
    # from the keyboard: Enter in a field asks for a piece
    bars = browser.find_element(By.ID, "opt-bars")
    browser.find_element(By.ID, "opt-seed").send_keys("2")
    bars.send_keys("4\n")
    _wait(browser, lambda d: "4 bars" in d.find_element(By.ID, "description").text)
    assert {a.text for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")} == {"MIDI", "WAV", "SVG"}


def test_kiosk_plays_one_piece_after_another(browser, base):
    browser.get(base + "/?kiosk=1&model=folk&pause=0")
    _wait(browser, lambda d: d.execute_script(
        "const a = document.getElementById('audio'); return !a.paused && a.currentTime > 0.1"))
    assert not browser.find_element(By.ID, "settings").is_displayed()
    first = browser.execute_script("return document.getElementById('audio').src")
    # skip to the end: the next piece (made while this one played) starts
    browser.execute_script("const a = document.getElementById('audio'); a.currentTime = a.duration - 0.05")
    _wait(browser, lambda d: d.execute_script("return document.getElementById('audio').src") != first, 30)
    _wait(browser, lambda d: d.execute_script("return !document.getElementById('audio').paused"), 30)

"""`patrol config map`: an offline HTML map that renders in headless Chromium, and a PNG."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

from patrol.cli import app
from tests.conftest import QUZHOU, screenshot_is_not_blank


@pytest.mark.browser
def test_html_map_renders_offline_in_chromium(tmp_path, browser):
    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["config", "map", str(QUZHOU), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(out.as_uri())
    assert page.locator("#layer1 path").count() == 3  # the three Quzhou patrol zones
    assert page.locator("#layer3 circle").count() == 23  # docks
    assert page.locator("#legend").inner_text().count("(") == 4
    shot = page.screenshot(path=str(tmp_path / "map.png"))
    assert screenshot_is_not_blank(shot)
    page.locator("#legend input[data-layer=layer1]").uncheck()
    assert not page.locator("#layer1").is_visible()
    assert all(u.startswith("file://") for u in requested), requested
    page.close()


def test_png_map(tmp_path):
    out = tmp_path / "map.png"
    result = CliRunner().invoke(app, ["config", "map", str(QUZHOU), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as img:
        assert img.size[0] > 800
    assert screenshot_is_not_blank(out.read_bytes())


def test_map_rejects_unknown_suffix(tmp_path):
    result = CliRunner().invoke(app, ["config", "map", str(QUZHOU), "-o", str(tmp_path / "map.svgz")])
    assert result.exit_code != 0 and "must end in .html or .png" in str(result.exception)

"""Shared fixtures: the repository root and the demo city."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUZHOU = ROOT / "configs" / "quzhou.yaml"


@pytest.fixture(scope="session")
def quzhou_city():
    from patrol.config import load_city

    return load_city(QUZHOU)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (no downloaded browser). Module-scoped:
    Playwright's sync API holds an event loop on the main thread while it runs, which would make
    later tests' asyncio.run() fail."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def screenshot_is_not_blank(png: bytes, min_colours: int = 8) -> bool:
    """True when a screenshot holds a real picture, not a blank or single-colour page."""
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((200, 150)))
    return len(np.unique(img.reshape(-1, 3), axis=0)) >= min_colours

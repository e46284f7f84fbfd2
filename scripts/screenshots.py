"""Take the README's console screenshots from a running demo (``siyu run --demo``) and store them small.

    python scripts/screenshots.py http://127.0.0.1:8000 DEMO_PASSWORD

Signs in as the demo HQ admin, opens the dashboard, the customer list, a customer's profile, the channel code form,
the stage board and the channel statistics of the last 90 days at 1440×900 and 390×844 in Chromium (SIYU_CHROMIUM, default /usr/bin/chromium), and writes
docs/screenshots/<page>-<size>.png as palette PNGs (Pillow), which keeps each one a few hundred KB or less.
"""

from __future__ import annotations

import io
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
USER = "demo_hq"


def pages(base: str, page) -> dict[str, str]:
    """The pages to show; the profile is the first customer of the list, the form the first channel code's."""
    page.goto(f"{base}/customers/")
    first = page.locator("[data-testid=customer-list] tbody a").first
    profile = first.get_attribute("href") if first.count() else "/customers/"
    page.goto(f"{base}/channels/")
    code = page.locator("table.data tbody a[href^='/channels/']").first
    form = f"{code.get_attribute('href')}edit/" if code.count() else "/channels/new/"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    stats = f"/analytics/channels/?start={today - timedelta(days=89)}&end={today}"
    return {"dashboard": "/", "customers": "/customers/", "profile": profile, "channel-form": form, "board": "/board/",
            "channel-stats": stats}


def save_small(png: bytes, path: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main(base: str, password: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("SIYU_CHROMIUM", "/usr/bin/chromium"),
                                             args=["--no-sandbox", "--disable-gpu"])
        for size, (width, height) in SIZES.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          timezone_id="Asia/Shanghai", device_scale_factor=1)
            page = context.new_page()
            page.goto(f"{base}/login/")
            page.get_by_label("用户名").fill(USER)
            page.get_by_label("密码").fill(password)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url(f"{base}/")
            for name, url in pages(base, page).items():
                page.goto(f"{base}{url}", wait_until="networkidle")
                page.wait_for_timeout(800)  # charts animate in
                path = OUT / f"{name}-{size}.png"
                save_small(page.screenshot(full_page=False), path)
                print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size // 1024} KB")
            context.close()
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2])

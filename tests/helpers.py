"""Helpers the tests share (importable as `helpers`; pytest puts tests/ on the path)."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_images"
SHARED_DATA = REPO.parent / "shared" / "data"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CJK = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def render_listing(lines: list[str], path: Path | None = None, size=(1024, 768), seed: int = 0,
                   logo: Image.Image | None = None) -> Image.Image:
    """A listing-like photo: a soft background, a product shape, lines of text, maybe a logo."""
    from PIL import ImageFont

    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randint(200, 240), rng.randint(200, 235), rng.randint(190, 230)))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((560, 160, 960, 640), 40, fill=(120, 70, 40))  # a bag
    y = 80
    for line in lines:
        font = ImageFont.truetype(CJK if any(ord(c) > 0x2E80 for c in line) else BOLD, 56)
        draw.text((60, y), line, fill=(20, 20, 25), font=font)
        y += 100
    if logo is not None:
        logo = logo.convert("RGBA")
        logo = logo.resize((300, max(1, round(300 * logo.height / logo.width))))
        image.paste(logo, (610, 300), logo)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    if path is not None:
        image.save(path, quality=90)
    return image


def worker_pids(scan_pid: int) -> list[int]:
    """A scan's worker processes: its children started by multiprocessing's spawn (read from
    /proc, so tests can kill or measure one)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == scan_pid and b"spawn_main" in command:
            pids.append(int(entry.name))
    return pids

"""How often the glyph check rewrites a genuine brand name on real photos (it should not).

Runs the default OCR engine on FlickrLogos-27 dev photos, keeps those where a registered name (the
20 brands of the set) is read exactly, and counts the photos where `GlyphChecker` claims a
look-alike digit. Every such claim on these genuine logos is false.

    python benchmarks/glyph_false_rewrites.py ../shared/data/flickrlogos27-dev 200
"""
import sys, time, random
from pathlib import Path
from screener.config import OcrConfig, MatchConfig
from screener.ocr.rapid import RapidOcrEngine
from screener.ocr.glyphs import GlyphChecker
from screener.textmatch import BrandNameMatcher
from screener.io import load_image
data = Path(sys.argv[1]); n = int(sys.argv[2])
# The set's own brand list (boxes.csv), with the common spellings of the two-word names.
brands = sorted({line.split(",")[1] for line in (data / "boxes.csv").read_text().splitlines()[1:]})
names = brands + ["Coca-Cola", "Red Bull", "McDonald's"]
eng = RapidOcrEngine(OcrConfig(), threads=2)
gc = GlyphChecker(names)
aliases = {"Cocacola": ["Coca-Cola"], "RedBull": ["Red Bull"], "McDonalds": ["McDonald's"]}
matcher = BrandNameMatcher([(b, aliases.get(b, [])) for b in brands], MatchConfig())
photos = sorted((data / "images").glob("*.jpg")); random.Random(0).shuffle(photos)
exact_hits = rewritten = 0; t = time.time()
for p in photos[:n]:
    img = load_image(p).pixels
    texts = eng(img)
    exact = [m for m in matcher(texts) if m.exact]
    if not exact: continue
    exact_hits += 1
    out = gc(img, texts)
    changed = [(a.text, b.text) for a, b in zip(texts, out) if a.text != b.text]
    if changed:
        rewritten += 1; print("REWRITE", p.name, changed)
print(f"photos={n} with exact brand text={exact_hits} rewritten by glyph check={rewritten} seconds={time.time()-t:.0f}")

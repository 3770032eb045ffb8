#!/usr/bin/env python
"""Speed of the synthetic generator: logos per minute and listing scenes per second, one core.

    OMP_NUM_THREADS=1 python benchmarks/synth_speed.py [--logos 600] [--scenes 20]

Logos are rendered at 128 px (random spec each time), imitations included; scenes are full
1024 x 768 listing photos with one printed logo, a tag and a caption, encoded as JPEG, and
256 x 256 scenes with one printed logo (the size a training sample needs).
"""

from __future__ import annotations

import argparse
import random
import time

from screener.train.synth.logos import imitate, random_brand_name, random_spec, render_logo
from screener.train.synth.scenes import SceneBuilder, chinese_font, text_fonts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logos", type=int, default=600)
    parser.add_argument("--scenes", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(0)
    render_logo(random_spec("Warmup", rng))  # font loading is a one-off cost

    start = time.perf_counter()
    for _ in range(args.logos):
        render_logo(random_spec(random_brand_name(rng), rng), 128)
    logo_s = (time.perf_counter() - start) / args.logos

    start = time.perf_counter()
    for _ in range(args.logos // 4):
        spec = random_spec(random_brand_name(rng), rng)
        render_logo(imitate(spec, rng), 128)
    imitation_s = (time.perf_counter() - start) / (args.logos // 4)

    font = text_fonts()[0].path
    timings = {}
    for size in ((1024, 768), (256, 256)):
        start = time.perf_counter()
        for _ in range(args.scenes):
            spec = random_spec(random_brand_name(rng), rng)
            builder = SceneBuilder(rng, size)
            builder.add_product(prints=[("logo", render_logo(spec, 96 if size[0] < 512 else 240), "x")])
            if size[0] >= 512:
                builder.add_caption(["高仿 Veltora 1:1"], chinese_font())
                builder.add_tag(["$49.99"], font)
            builder.finish()
        timings[size] = (time.perf_counter() - start) / args.scenes

    print(f"logo 128 px:        {logo_s * 1000:6.1f} ms  ({60 / logo_s:,.0f} per minute)")
    print(f"imitation 128 px:   {imitation_s * 1000:6.1f} ms  (spec + imitate + render)")
    for (w, h), seconds in timings.items():
        print(f"scene {w}x{h}:{'':<{9 - len(str(w)) - len(str(h))}}{seconds * 1000:6.1f} ms  "
              f"({1 / seconds:.1f} per second)")


if __name__ == "__main__":
    main()

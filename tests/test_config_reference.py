"""README's configuration reference lists every config key, and only keys that exist; so does
its table of the logo network's operating point."""

from __future__ import annotations

import dataclasses
import re

from helpers import REPO
from screener.config import Config
from screener.logo.operating_point import OperatingPoint


def test_readme_documents_every_config_key():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    reference = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    parts = re.split(r"\*\*`\[(\w+)\]`\*\*", reference)
    for section, body in zip(parts[1::2], parts[2::2]):
        keys_part = body.split("*Operating point.*")[0]  # the thresholds' own table follows [logo]
        documented |= {f"{section}.{key}" for key in re.findall(r"^\| `(\w+)` \|", keys_part, flags=re.M)}
    config = Config()
    keys = {f"{s.name}.{f.name}" for s in dataclasses.fields(config)
            for f in dataclasses.fields(getattr(config, s.name))}
    assert documented == keys, (sorted(keys - documented), sorted(documented - keys))
    # Issue 17: a config a user reads whole. Model thresholds are the model's, not keys.
    assert len(keys) <= 20, sorted(keys)


def test_readme_documents_every_operating_point_threshold():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("*Operating point.*", 1)[1].split("**`[", 1)[0]
    documented = set(re.findall(r"`(\w+)`", " ".join(re.findall(r"^\| ([^|]+) \|", table, flags=re.M))))
    thresholds = {f.name for f in dataclasses.fields(OperatingPoint)}
    assert thresholds <= documented, sorted(thresholds - documented)

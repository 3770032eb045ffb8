"""README's configuration reference lists every config key, and only keys that exist."""

from __future__ import annotations

import dataclasses
import re

from helpers import REPO
from screener.config import Config


def test_readme_documents_every_config_key():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    reference = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    parts = re.split(r"\*\*`\[(\w+)\]`\*\*", reference)
    for section, body in zip(parts[1::2], parts[2::2]):
        documented |= {f"{section}.{key}" for key in re.findall(r"^\| `(\w+)` \|", body, flags=re.M)}
    config = Config()
    keys = {f"{s.name}.{f.name}" for s in dataclasses.fields(config)
            for f in dataclasses.fields(getattr(config, s.name))}
    assert documented == keys, (sorted(keys - documented), sorted(documented - keys))

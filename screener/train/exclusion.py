"""The brands that are never training identities: the exclusion list, matched under any spelling.

The list is data (``excluded_brands.toml`` beside this module), not logic: each brand's names and
aliases are *folded* (accents dropped, case folded, "&" read as "and", apostrophes dropped, every
other run of punctuation or space a word break) and an identity is excluded when

- a run of consecutive words of its title, joined, is an excluded name ("Apple Music", "Coca Cola
  Zero", "McDONALD’S"), or
- its slug (one word, as simple-icons writes them: ``googlechrome``) starts with an excluded name.

The slug rule also drops a few innocent marks whose slug merely starts with a short name
("minio"); that costs a handful of training identities and never lets an evaluation brand in.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

EXCLUSION_FILE = Path(__file__).with_name("excluded_brands.toml")


def words(text: str) -> tuple[str, ...]:
    """``text`` folded into words: no accents, lower case, "&" = "and", no apostrophes."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = plain.replace("&", " and ").replace("+", " plus ")
    plain = re.sub(r"['’`´]", "", plain)
    return tuple(w for w in re.split(r"[^0-9a-z]+", plain) if w)


def fold(text: str) -> str:
    """One key per spelling: ``"Coca-Cola"``, ``"coca cola"`` and ``"COCACOLA"`` → ``"cocacola"``."""
    return "".join(words(text))


@dataclass(frozen=True)
class ExclusionList:
    """Brands (their display names) and the folded keys that exclude an identity."""

    brands: tuple[str, ...]
    keys: frozenset[str]
    source: str

    def match(self, *names: str) -> str | None:
        """The excluded key that ``names`` (titles, slugs, aliases of one identity) hit, or None."""
        for name in names:
            ws = words(name)
            for i in range(len(ws)):
                joined = ""
                for w in ws[i:]:
                    joined += w
                    if joined in self.keys:
                        return joined
            one = fold(name)
            for key in self.keys:
                if one.startswith(key):
                    return key
        return None

    def excludes(self, *names: str) -> bool:
        return self.match(*names) is not None


@functools.lru_cache(maxsize=4)
def load_exclusions(path: str | Path = EXCLUSION_FILE) -> ExclusionList:
    """The exclusion list from its TOML file (``[[brand]]`` tables of ``names`` and ``aliases``)."""
    path = Path(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    brands: list[str] = []
    keys: set[str] = set()
    for entry in data.get("brand", []):
        names = [str(n) for n in entry.get("names", [])]
        if not names:
            raise ValueError(f"{path}: a [[brand]] without names")
        brands.append(names[0])
        for name in names + [str(a) for a in entry.get("aliases", [])]:
            key = fold(name)
            if not key:
                raise ValueError(f"{path}: {name!r} folds to nothing")
            keys.add(key)
    return ExclusionList(tuple(brands), frozenset(keys), path.name)

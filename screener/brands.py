"""The brand registry: a folder with ``brands.toml`` and the brands' reference logos.

Layout::

    registry/
      brands.toml
      logos/veltora/wordmark.png
      logos/veltora/emblem.png

``brands.toml``::

    [[brand]]
    name = "Veltora"
    aliases = ["Veltora Paris"]
    logos = ["logos/veltora/wordmark.png", "logos/veltora/emblem.png"]
    owner = "Veltora SA"          # extra fields are kept as they are

Logo paths are relative to the registry folder and must stay inside it: ``../``, absolute paths
and symlinks that leave the folder are refused (a registry may come from someone else).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .errors import RegistryError

REGISTRY_FILE = "brands.toml"
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_KNOWN_KEYS = {"name", "aliases", "logos"}


@dataclass(frozen=True)
class Brand:
    """One protected brand: its name, aliases and reference logos."""

    name: str
    aliases: tuple[str, ...] = ()
    logos: tuple[str, ...] = ()  # paths relative to the registry folder
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """The name and every alias: each counts as an exact mark."""
        return (self.name, *self.aliases)


class BrandRegistry:
    """The brands a team protects, loaded from (and saved to) a registry folder."""

    def __init__(self, root: str | Path, brands: Iterable[Brand] = ()):
        self.root = Path(root)
        self._brands: dict[str, Brand] = {}
        for brand in brands:
            self._insert(brand)

    # --- loading and saving -------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | Path) -> "BrandRegistry":
        """Load and validate a registry folder; errors name the brand and the field."""
        root = Path(root)
        toml_path = root / REGISTRY_FILE
        if not root.is_dir():
            raise RegistryError(f"registry folder {root} does not exist")
        if not toml_path.is_file():
            raise RegistryError(f"{toml_path} does not exist (create one with `screener brands add`)")
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RegistryError(f"{toml_path} is not valid TOML: {_toml_where(exc, toml_path)}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"cannot read {toml_path}: {exc}") from exc
        entries = data.get("brand", [])
        if not isinstance(entries, list):
            raise RegistryError(f"{toml_path}: `brand` must be an array of tables ([[brand]])")
        registry = cls(root)
        for index, entry in enumerate(entries, start=1):
            brand = _parse_brand(entry, f"{toml_path}: brand #{index}")
            if registry.get(brand.name) is not None:
                raise RegistryError(f"{toml_path}: brand {brand.name!r} is registered twice")
            for logo in brand.logos:
                # Containment and existence, then that it is an image (a stranger's registry).
                _check_logo_readable(registry.logo_path(logo, brand=brand.name), brand.name)
            registry._insert(brand)
        return registry

    @classmethod
    def open_or_create(cls, root: str | Path) -> "BrandRegistry":
        root = Path(root)
        if (root / REGISTRY_FILE).exists():
            return cls.load(root)
        return cls(root)

    def save(self) -> None:
        """Write ``brands.toml`` atomically (a crash leaves the old file or the new one)."""
        import tomli_w

        self.root.mkdir(parents=True, exist_ok=True)
        entries = []
        for brand in self:
            entry: dict[str, Any] = {"name": brand.name}
            if brand.aliases:
                entry["aliases"] = list(brand.aliases)
            entry["logos"] = list(brand.logos)
            entry.update(brand.extra)
            entries.append(entry)
        tmp = self.root / (REGISTRY_FILE + ".tmp")
        tmp.write_text(tomli_w.dumps({"brand": entries}), encoding="utf-8")
        tmp.replace(self.root / REGISTRY_FILE)

    # --- queries ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Brand]:
        return iter(sorted(self._brands.values(), key=lambda b: b.name.lower()))

    def __len__(self) -> int:
        return len(self._brands)

    def get(self, name: str) -> Brand | None:
        return self._brands.get(name.casefold())

    def logo_path(self, relative: str, brand: str = "?") -> Path:
        """The absolute path of a reference logo, refusing anything outside the registry."""
        rel = Path(relative)
        if rel.is_absolute() or ".." in rel.parts:
            raise RegistryError(f"brand {brand!r}: logo path {relative!r} leaves the registry folder")
        root = self.root.resolve()
        full = (self.root / rel)
        try:
            resolved = full.resolve(strict=True)
        except (OSError, RuntimeError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise RegistryError(f"brand {brand!r}: logo file {relative!r} is missing or unreadable") from exc
        if not resolved.is_relative_to(root):
            raise RegistryError(f"brand {brand!r}: logo {relative!r} links outside the registry folder")
        if not resolved.is_file():
            raise RegistryError(f"brand {brand!r}: logo {relative!r} is not a file")
        return resolved

    def logo_files(self) -> list[tuple[str, str, Path]]:
        """(brand name, relative path, absolute path) of every reference logo."""
        return [(b.name, rel, self.logo_path(rel, b.name)) for b in self for rel in b.logos]

    def digest(self) -> str:
        """A hash of the names, aliases and logo bytes: changes whenever matching could change."""
        h = hashlib.sha256()
        for brand in self:
            h.update(repr((brand.name, brand.aliases, brand.logos)).encode())
            for rel in brand.logos:
                h.update(self.logo_path(rel, brand.name).read_bytes())
        return h.hexdigest()[:16]

    # --- editing ------------------------------------------------------------------------------
    def add(self, name: str, logos: Iterable[str | Path] = (), aliases: Iterable[str] = (),
            extra: Mapping[str, Any] | None = None) -> Brand:
        """Register a brand (or add logos and aliases to it), copying logo files into the folder."""
        name = _clean_name(name, "brand name")
        existing = self.get(name)
        copied: list[str] = list(existing.logos) if existing else []
        slug = slugify(name)
        for source in logos:
            source = Path(source)
            if not source.is_file():
                raise RegistryError(f"brand {name!r}: logo file {source} does not exist")
            if source.suffix.lower() not in LOGO_SUFFIXES:
                raise RegistryError(f"brand {name!r}: logo {source} is not an image file "
                                    f"({', '.join(LOGO_SUFFIXES)})")
            _check_logo_readable(source, name)
            target_dir = self.root / "logos" / slug
            target_dir.mkdir(parents=True, exist_ok=True)
            target = _free_name(target_dir, slugify(source.stem) + source.suffix.lower())
            shutil.copyfile(source, target)
            copied.append(target.relative_to(self.root).as_posix())
        all_aliases = list(existing.aliases) if existing else []
        for alias in aliases:
            alias = _clean_name(alias, "alias")
            if alias.casefold() not in {a.casefold() for a in all_aliases} and alias.casefold() != name.casefold():
                all_aliases.append(alias)
        brand = Brand(name=existing.name if existing else name, aliases=tuple(all_aliases),
                      logos=tuple(copied), extra=dict(existing.extra if existing else (extra or {})))
        self._brands[brand.name.casefold()] = brand
        return brand

    def remove(self, name: str, delete_logos: bool = True) -> Brand:
        brand = self.get(name)
        if brand is None:
            raise RegistryError(f"brand {name!r} is not registered in {self.root}")
        del self._brands[brand.name.casefold()]
        if delete_logos:
            for rel in brand.logos:
                try:
                    self.logo_path(rel, brand.name).unlink()
                except (RegistryError, OSError):
                    pass
        return brand

    def _insert(self, brand: Brand) -> None:
        self._brands[brand.name.casefold()] = brand


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return slug or hashlib.sha256(text.encode()).hexdigest()[:8]


def _free_name(folder: Path, filename: str) -> Path:
    target = folder / filename
    stem, suffix = target.stem, target.suffix
    n = 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _clean_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{what} must be a non-empty string, got {value!r}")
    return " ".join(value.split())


def _check_logo_readable(path: Path, brand: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RegistryError(f"brand {brand!r}: logo {path} is not a readable image: {exc}") from exc


def _toml_where(exc: Exception, toml_path: Path) -> str:
    """tomllib's message, with the line named even when it says "at end of document"."""
    text = str(exc)
    if "line" in text:
        return text
    try:
        lines = toml_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return text
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=1)
    return f"{text}; the file ends at line {last} (an unclosed bracket or quote above it?)"


def _parse_brand(entry: Any, where: str) -> Brand:
    if not isinstance(entry, Mapping):
        raise RegistryError(f"{where}: must be a table")
    if "name" not in entry:
        raise RegistryError(f"{where}: field `name` is missing")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise RegistryError(f"{where}: field `name` must be a non-empty string")
    where = f"{where} ({name!r})"
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise RegistryError(f"{where}: field `aliases` must be a list of non-empty strings")
    logos = entry.get("logos", [])
    if not isinstance(logos, list) or not all(isinstance(p, str) and p for p in logos):
        raise RegistryError(f"{where}: field `logos` must be a list of paths")
    extra = {k: v for k, v in entry.items() if k not in _KNOWN_KEYS}
    return Brand(name=" ".join(name.split()), aliases=tuple(" ".join(a.split()) for a in aliases),
                 logos=tuple(logos), extra=extra)

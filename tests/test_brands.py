"""The brand registry on hostile input, and `screener brands add/list/remove` via main([...]).

A registry may come from someone else: malformed TOML, missing or unreadable logos, duplicate
names and logo paths that leave the folder must be refused with a message that says where.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from screener.brands import BrandRegistry
from screener.cli import main
from screener.errors import RegistryError


def logo(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 32), colour).save(path)
    return path


def registry_with(tmp_path: Path, toml: str, logos: tuple[str, ...] = ("logos/a.png",)) -> Path:
    root = tmp_path / "reg"
    root.mkdir(exist_ok=True)
    for rel in logos:
        logo(root / rel)
    (root / "brands.toml").write_text(toml, encoding="utf-8")
    return root


GOOD = '[[brand]]\nname = "Veltora"\naliases = ["Veltora Paris"]\nlogos = ["logos/a.png"]\n'


def test_good_registry_loads(tmp_path: Path) -> None:
    registry = BrandRegistry.load(registry_with(tmp_path, GOOD))
    (brand,) = list(registry)
    assert brand.names == ("Veltora", "Veltora Paris")
    assert registry.logo_files()[0][2] == (tmp_path / "reg" / "logos" / "a.png").resolve()


MALFORMED = [
    # (brands.toml text, words the message must contain)
    ('[[brand]]\nname = "A"\nlogos = ["logos/a.png"\n', ["line 3"]),
    ('[[brand]]\nname = \nlogos = []\n', ["line 2"]),
    ('[[brand]]\nname = "A"\n\n[[brand]\nname = "B"\n', ["line 4"]),
    ('[[brand]]\nname = "A"\nname = "B"\n', ["line 3"]),
    ('brand = "Veltora"\n', ["array of tables"]),
    ('[[brand]]\naliases = ["x"]\n', ["brand #1", "`name` is missing"]),
    ('[[brand]]\nname = 42\n', ["brand #1", "`name`"]),
    ('[[brand]]\nname = "  "\n', ["brand #1", "`name`"]),
    ('[[brand]]\nname = "A"\naliases = "A2"\n', ["'A'", "`aliases`"]),
    ('[[brand]]\nname = "A"\nlogos = "logos/a.png"\n', ["'A'", "`logos`"]),
    ('[[brand]]\nname = "A"\nlogos = [3]\n', ["'A'", "`logos`"]),
    ('[[brand]]\nname = "A"\n[[brand]]\nname = "a"\n', ["'a'", "registered twice"]),
    ('[[brand]]\nname = "A"\nlogos = ["logos/missing.png"]\n', ["'A'", "missing"]),
    ('[[brand]]\nname = "A"\nlogos = ["../outside.png"]\n', ["'A'", "leaves the registry"]),
    ('[[brand]]\nname = "A"\nlogos = ["logos/../../outside.png"]\n', ["leaves the registry"]),
    ('[[brand]]\nname = "A"\nlogos = ["/etc/passwd"]\n', ["leaves the registry"]),
    ('[[brand]]\nname = "A"\nlogos = ["logos"]\n', ["not a file"]),
    ('[[brand]]\nname = "A"\nlogos = ["logos/a\\u0000.png"]\n', ["'A'"]),
]


@pytest.mark.parametrize("toml, words", MALFORMED, ids=[f"case{i}" for i in range(len(MALFORMED))])
def test_malformed_registry(tmp_path: Path, toml: str, words: list[str]) -> None:
    (tmp_path / "outside.png").write_bytes(b"")
    root = registry_with(tmp_path, toml)
    with pytest.raises(RegistryError) as info:
        BrandRegistry.load(root)
    for word in words:
        assert word in str(info.value)


def test_not_utf8_toml(tmp_path: Path) -> None:
    root = registry_with(tmp_path, "")
    (root / "brands.toml").write_bytes(b'[[brand]]\nname = "Caf\xe9"\n')
    with pytest.raises(RegistryError, match="brands.toml"):
        BrandRegistry.load(root)


def test_missing_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        BrandRegistry.load(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match="brands add"):
        BrandRegistry.load(tmp_path / "empty")


def test_symlinks_out_of_the_registry_are_refused(tmp_path: Path) -> None:
    secret = logo(tmp_path / "elsewhere" / "secret.png")
    root = registry_with(tmp_path, '[[brand]]\nname = "A"\nlogos = ["logos/link.png"]\n')
    (root / "logos" / "link.png").symlink_to(secret)
    with pytest.raises(RegistryError, match="links outside the registry"):
        BrandRegistry.load(root)
    # A linked folder leaving the registry is refused the same way.
    (root / "brands.toml").write_text('[[brand]]\nname = "A"\nlogos = ["out/secret.png"]\n')
    (root / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RegistryError, match="links outside the registry"):
        BrandRegistry.load(root)
    # A link inside the registry is fine.
    (root / "brands.toml").write_text('[[brand]]\nname = "A"\nlogos = ["logos/inner.png"]\n')
    (root / "logos" / "inner.png").symlink_to(root / "logos" / "a.png")
    assert len(BrandRegistry.load(root)) == 1


def test_unreadable_logo_is_refused(tmp_path: Path) -> None:
    root = registry_with(tmp_path, '[[brand]]\nname = "A"\nlogos = ["logos/bad.png"]\n')
    (root / "logos" / "bad.png").write_bytes(b"this is not a png")
    with pytest.raises(RegistryError, match="'A'.*logos/bad.png.*not a readable image"):
        BrandRegistry.load(root)


def test_symlink_loop_logo(tmp_path: Path) -> None:
    root = registry_with(tmp_path, '[[brand]]\nname = "A"\nlogos = ["logos/loop.png"]\n')
    (root / "logos" / "loop.png").symlink_to(root / "logos" / "loop.png")
    with pytest.raises(RegistryError, match="'A'"):
        BrandRegistry.load(root)


# --- the CLI --------------------------------------------------------------------------------------
def test_brands_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "reg"
    first, second = logo(tmp_path / "in" / "Wordmark.PNG"), logo(tmp_path / "in" / "emblem.jpg")
    assert main(["brands", "add", "Veltora", "--registry", str(reg), "--logo", str(first),
                 "--logo", str(second), "--alias", "Veltora Paris"]) == 0
    assert main(["brands", "add", "Novalux", "--registry", str(reg)]) == 0
    # Adding to an existing brand (any case) extends it instead of duplicating it.
    assert main(["brands", "add", "veltora", "--registry", str(reg), "--alias", "VLT"]) == 0
    capsys.readouterr()
    assert main(["brands", "list", "--registry", str(reg), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in listed] == ["Novalux", "Veltora"]
    veltora = listed[1]
    assert veltora["aliases"] == ["Veltora Paris", "VLT"] and len(veltora["logos"]) == 2
    for rel in veltora["logos"]:  # copied inside the registry, not referenced where they were
        assert (reg / rel).resolve().is_relative_to(reg.resolve())
    assert main(["brands", "list", "--registry", str(reg)]) == 0
    assert "2 brand(s)" in capsys.readouterr().out
    assert main(["brands", "remove", "VELTORA", "--registry", str(reg)]) == 0
    assert not any((reg / rel).exists() for rel in veltora["logos"])
    assert [b.name for b in BrandRegistry.load(reg)] == ["Novalux"]


def test_brands_add_hostile_name_stays_inside(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    source = logo(tmp_path / "in" / "..hidden.png")
    assert main(["brands", "add", "../../etc/x", "--registry", str(reg), "--logo", str(source)]) == 0
    (brand,) = list(BrandRegistry.load(reg))
    assert brand.name == "../../etc/x"
    assert (reg / brand.logos[0]).resolve().is_relative_to(reg.resolve())


@pytest.mark.parametrize("argv, message", [
    (["brands", "list", "--registry", "{tmp}/none"], "does not exist"),
    (["brands", "remove", "Ghost", "--registry", "{reg}"], "not registered"),
    (["brands", "add", "A", "--registry", "{reg}", "--logo", "{tmp}/missing.png"], "does not exist"),
    (["brands", "add", "A", "--registry", "{reg}", "--logo", "{tmp}/notes.txt"], "not an image file"),
    (["brands", "add", "A", "--registry", "{reg}", "--logo", "{tmp}/fake.png"], "not a readable image"),
    (["brands", "add", "A", "--registry", "{reg}", "--logo", "{tmp}/passwd.png"], "not a readable image"),
    (["brands", "add", "   ", "--registry", "{reg}"], "non-empty"),
    (["brands", "list", "--registry", "{bad}"], "line 2"),
])
def test_brands_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                           message: str) -> None:
    reg = tmp_path / "reg"
    assert main(["brands", "add", "Veltora", "--registry", str(reg)]) == 0
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.png").write_text("hello")
    (tmp_path / "passwd.png").symlink_to("/etc/passwd")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "brands.toml").write_text('[[brand]]\nname = "A\n')
    before = (reg / "brands.toml").read_bytes()
    capsys.readouterr()
    argv = [a.format(tmp=tmp_path, reg=reg, bad=bad) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert (reg / "brands.toml").read_bytes() == before  # a failed command changes nothing


def test_brands_list_does_not_import_heavy_backends(tmp_path: Path) -> None:
    import subprocess
    import sys

    reg = tmp_path / "reg"
    assert main(["brands", "add", "Veltora", "--registry", str(reg)]) == 0
    code = ("import sys; from screener.cli import main; main(['brands', 'list', '--registry', "
            f"{str(reg)!r}]); print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert out.stdout.strip().splitlines()[-1] == "[]"

"""Walking the paths of a scan: recursion, suffixes, order, symlink loops, hostile names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from screener.files import display_path, iter_photo_paths
from screener.io import load_image
from screener.errors import InputError


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_recursive_image_suffixes_only_in_stable_order(tmp_path):
    for name in ("b.JPG", "a.png", "notes.txt", "sub/c.webp", "sub/deeper/d.jpeg", "z.tiff",
                 ".hidden.jpg", ".cache/e.jpg", "sub/readme.md"):
        _touch(tmp_path / name)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_photo_paths([tmp_path])]
    assert found == ["a.png", "b.JPG", "z.tiff", "sub/c.webp", "sub/deeper/d.jpeg"]
    assert [p.name for p in iter_photo_paths([tmp_path])] == [p.name for p in iter_photo_paths([tmp_path])]


def test_explicit_files_are_yielded_whatever_their_suffix_and_only_once(tmp_path):
    a = _touch(tmp_path / "a.jpg")
    notes = _touch(tmp_path / "listing.dat")
    found = list(iter_photo_paths([a, notes, tmp_path, a]))
    assert found == [a, notes]  # the folder walk finds a.jpg again: one row per photo


def test_symlink_loop_does_not_walk_forever(tmp_path):
    _touch(tmp_path / "photos" / "a.jpg")
    (tmp_path / "photos" / "loop").symlink_to(tmp_path / "photos")
    (tmp_path / "photos" / "up").symlink_to(tmp_path)
    found = list(iter_photo_paths([tmp_path / "photos"]))
    assert [p.name for p in found] == ["a.jpg"]


def test_bad_entries_are_yielded_for_the_loader_to_report(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    missing = tmp_path / "never-existed.jpg"
    found = list(iter_photo_paths([tmp_path, missing]))
    assert [p.name for p in found] == ["dangling.png", "folder.jpg", "never-existed.jpg"]
    messages = []
    for path in found:
        with pytest.raises(InputError) as info:
            load_image(path)
        messages.append(str(info.value))
    assert "broken symbolic link" in messages[0]
    assert "folder" in messages[1]
    assert "does not exist" in messages[2]


@pytest.mark.skipif(os.name != "posix", reason="needs a file system that stores raw bytes")
def test_names_that_are_not_utf8_survive(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff.jpg"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    (found,) = list(iter_photo_paths([tmp_path]))
    assert os.fsencode(found) == raw
    assert found.read_bytes() == b"x"  # the path still opens
    shown = display_path(found)
    shown.encode("utf-8")  # printable in UTF-8 outputs
    assert shown.endswith("caf\\xe9-\\xff.jpg")


def test_overlapping_roots_give_each_photo_once(tmp_path):
    a = _touch(tmp_path / "a.jpg")
    b = _touch(tmp_path / "sub" / "b.jpg")
    found = list(iter_photo_paths([a, tmp_path, tmp_path / "sub", b, a]))
    assert found == [a, b]

"""How the benchmarks and the decision fit register a brand from labelled boxes
(:func:`screener.train.data.choose_references`): they must pick the same boxes to measure the
same photos, and the one-shot protocol must pick each brand's largest view."""

from __future__ import annotations

from screener.train.data import FlickrBox, choose_references


def _boxes() -> list[FlickrBox]:
    boxes = []
    for i in range(6):  # six photos of Acme, growing boxes; photo 5 holds two boxes
        side = 30 + 20 * i
        boxes.append(FlickrBox(f"acme{i}.jpg", "Acme", (0, 0, side, side)))
    boxes.append(FlickrBox("acme5.jpg", "Acme", (0, 0, 200, 200)))
    boxes.append(FlickrBox("tiny.jpg", "Acme", (0, 0, 300, 20)))  # under 24 px a side: never a reference
    boxes.append(FlickrBox("zeqa.jpg", "Zeqa", (0, 0, 50, 50)))
    return boxes


def test_references_are_seeded_one_per_photo_and_never_tiny():
    first = choose_references(_boxes(), ["Acme", "Zeqa"], 3, seed=0)
    assert first == choose_references(_boxes(), ["Acme", "Zeqa"], 3, seed=0)
    assert len(first["Acme"]) == 3 and len({b.image for b in first["Acme"]}) == 3
    assert all(b.image != "tiny.jpg" for b in first["Acme"])
    assert [b.image for b in first["Zeqa"]] == ["zeqa.jpg"]
    allowed = choose_references(_boxes(), ["Acme"], 5, seed=0, allowed_photos={"acme0.jpg", "acme1.jpg"})
    assert {b.image for b in allowed["Acme"]} == {"acme0.jpg", "acme1.jpg"}


def test_the_one_shot_protocol_takes_the_largest_view():
    [best] = choose_references(_boxes(), ["Acme"], 1, seed=3, largest=True)["Acme"]
    assert best.box == (0, 0, 200, 200)


def test_no_reference_is_chosen_when_none_is_asked_for():
    # A registry of logo files only (`logo_flickr.py --logo-files`) asks for 0 crops: every
    # photo then stays a test photo. (The loop once checked the count only after adding a box.)
    assert choose_references(_boxes(), ["Acme", "Zeqa"], 0, seed=0) == {"Acme": [], "Zeqa": []}
    assert [len(v) for v in choose_references(_boxes(), ["Acme"], 1, seed=0).values()] == [1]

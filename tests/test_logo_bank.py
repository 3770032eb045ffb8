"""Each logo network's background bank ships as its embeddings (screener.logo.bank), checked like
every model file, and is what the training command draws and embeds here."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from screener.errors import ModelError
from screener.logo.bank import BANK_COMMAND, load_bank
from screener.logo.weights import MODELS_DIR, load_embedder, manifest_entry, set_manifest_keys, update_manifest
from screener.train.bank import BANK_RECIPE, background_bank, logo_networks

NETWORKS = ["logo-embed", "logo-trunk-tuned"]


def test_every_logo_network_ships_its_bank():
    assert logo_networks() == NETWORKS
    for name in NETWORKS:
        entry = manifest_entry(name)
        assert entry["bank_file"] == f"bank-{name}.npy" and entry["bank_recipe"] == BANK_RECIPE
        embedder = load_embedder(name, threads=1)
        assert load_bank(embedder).shape == (160, embedder.spec.dim)
        assert entry["bank_model_sha256"] == embedder.sha256


@pytest.mark.parametrize("name", NETWORKS)
def test_the_shipped_bank_is_what_the_command_makes_here(name):
    """Drawn and embedded again, the bank is the shipped one: the generator, the renderer's fonts
    and the network have not drifted from it (the floors, and so the operating points measured
    with them, are those of the shipped file)."""
    embedder = load_embedder(name, threads=1)
    again = embedder.embed(background_bank(embedder.size))
    assert np.abs(again - load_bank(embedder)).max() < 1e-5, (
        f"the shipped bank of {name} is not what `{BANK_COMMAND}` makes here: the bank generator, the mark "
        "fonts or the network changed; make it again and measure the operating points")


@pytest.fixture()
def models(tmp_path):
    """A models folder holding logo-embed's files (its manifest entry as shipped)."""
    entry = manifest_entry("logo-embed")
    for key in ("onnx_file", "bank_file"):
        shutil.copy(MODELS_DIR / entry[key], tmp_path / entry[key])
    update_manifest(tmp_path / "manifest.toml", entry)
    return tmp_path


def _bank(models):
    return load_bank(load_embedder("logo-embed", models, threads=1))


def test_a_copied_bank_loads(models):
    assert np.array_equal(_bank(models), np.load(MODELS_DIR / "bank-logo-embed.npy"))


def test_a_missing_bank_names_the_command_that_makes_it(models):
    (models / "bank-logo-embed.npy").unlink()
    with pytest.raises(ModelError, match=f"is missing.*{BANK_COMMAND} --models {models} --model logo-embed"):
        _bank(models)
    entry = {k: v for k, v in manifest_entry("logo-embed", models).items() if not k.startswith("bank_")}
    update_manifest(models / "manifest.toml", entry)  # an entry written before banks shipped
    with pytest.raises(ModelError, match=f"no background bank.*{BANK_COMMAND}"):
        _bank(models)


def test_a_changed_bank_is_refused(models):
    path = models / "bank-logo-embed.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=f"does not match its manifest.*{BANK_COMMAND}"):
        _bank(models)


def test_a_bank_of_another_network_version_is_refused(models):
    set_manifest_keys(models / "manifest.toml", "logo-embed", {"bank_model_sha256": "0" * 64})
    with pytest.raises(ModelError, match=f"another version of 'logo-embed'.*{BANK_COMMAND}"):
        _bank(models)


def test_a_bank_of_the_wrong_shape_is_refused(models):
    path = models / "bank-logo-embed.npy"
    np.save(path, np.zeros((160, 7), np.float32))
    from screener.logo.weights import sha256_file

    set_manifest_keys(models / "manifest.toml", "logo-embed", {"bank_sha256": sha256_file(path)})
    with pytest.raises(ModelError, match="not N x 128 float32"):
        _bank(models)


def test_the_logo_stage_reports_a_missing_bank(models, tmp_path_factory):
    from helpers import SAMPLES
    from screener.brands import BrandRegistry
    from screener.config import Config
    from screener.logo.matcher import build_logo_stage

    (models / "bank-logo-embed.npy").unlink()
    config = Config().replace(logo__model="logo-embed", logo__cache_dir=str(tmp_path_factory.mktemp("cache")))
    with pytest.raises(ModelError, match=BANK_COMMAND):
        build_logo_stage(BrandRegistry.load(SAMPLES / "brands"), config, models_dir=models, threads=1)
    # Uncalibrated references need no bank.
    stage = build_logo_stage(BrandRegistry.load(SAMPLES / "brands"), config, models_dir=models, threads=1,
                             calibrate=False)
    assert stage.references.floors is None

"""Screening needs none of the `train` extra: the CLI screens a sample listing with torch,
torchvision and onnx made unimportable, as in a `pip install .` virtualenv without extras."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import SAMPLES

# None in sys.modules makes every `import torch` (and `import torch.nn`, ...) raise ImportError.
BLOCK = ("import sys\n"
         "for name in ('torch', 'torchvision', 'onnx'):\n"
         "    sys.modules[name] = None\n"
         "from screener.cli import main\n"
         "code = main(sys.argv[1:])\n"
         "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'onnx')\n"
         "            and sys.modules[m] is not None], 'a training package was imported'\n"
         "sys.exit(code)\n")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK, *args], capture_output=True, text=True, timeout=300)


def _screen(*args: str) -> subprocess.CompletedProcess:
    return _cli("screen", *args)


def test_a_sample_listing_screens_without_torch(samples):
    # A genuine emblem that only the logo stage finds: the ONNX network, its alignment check and
    # the policy all run, with no training package importable.
    done = _screen(str(SAMPLES / "listings" / "045-genuine-emblem.jpg"), "--registry", str(SAMPLES / "brands"),
                   "--json")
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert line["status"] == "ok" and line["verdict"] == "review"
    assert [logo["brand"] for logo in line["logos"]] == ["Pellano"]
    assert [b["brand"] for b in line["brands"]] == ["Pellano"]


def test_training_without_torch_names_the_extra_to_install(tmp_path):
    done = _cli("train-logo", "--steps", "1", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "torch, torchvision, onnx" in done.stderr and "screener[train]" in done.stderr
    assert not list(tmp_path.iterdir())

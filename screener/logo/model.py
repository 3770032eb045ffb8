"""The logo embedding network at screening time: its spec and the onnxruntime embedder.

The trunk is ``mobilenet_v3_small`` (chosen by measurement on 2 CPU cores: about 0.2 ms per
64 px crop in batches of 64 with channels_last, 2.5x cheaper than 96 px and far cheaper than
resnet18), trained from scratch by :mod:`screener.train.trainer` because no pretrained weights can
be downloaded here. The head is generalised-mean pooling, a linear projection and L2
normalisation, so cosine similarity between two crops is a plain dot product.

Training runs the network in torch (:mod:`screener.train.network`, which needs the ``train``
extra); screening runs its ONNX export in onnxruntime (:class:`OnnxEmbedder`), which is faster on
one CPU thread and spares every scan worker torch's import. Nothing here imports torch;
onnxruntime is imported inside a function so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..threads import thread_budget

ARCHES = ("mobilenet_v3_small", "mobilenet_v3_large", "resnet18")

# ImageNet statistics: the normalisation is recorded in the manifest beside the weights.
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """What is needed to rebuild a network and feed it: recorded in screener/models/manifest.toml."""

    arch: str = "mobilenet_v3_small"
    dim: int = 128
    input_size: int = 64
    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "dim": self.dim, "input_size": self.input_size,
                "mean": list(self.mean), "std": list(self.std)}


class Embedder:
    """Turns RGB uint8 crops into L2-normalised embeddings: normalisation and batching, shared by
    the runtimes (:class:`OnnxEmbedder` for screening, :class:`screener.train.network.TorchEmbedder` for training)."""

    runtime = ""

    def __init__(self, spec: ModelSpec, sha256: str = "", batch_size: int = 128) -> None:
        self.spec = spec
        self.sha256 = sha256  # of the file the runtime runs: part of every cache key
        self.batch_size = batch_size
        # (manifest entry, models folder) when loaded by screener.logo.weights.load_embedder: the
        # files made for this network beside its weights (its background bank) are found there.
        self.source: tuple[dict[str, Any], Path] | None = None
        mean = np.asarray(spec.mean, dtype=np.float32) * 255.0
        std = np.asarray(spec.std, dtype=np.float32) * 255.0
        self._scale = (1.0 / std).reshape(1, 3, 1, 1)
        self._shift = (-mean / std).reshape(1, 3, 1, 1)

    @property
    def size(self) -> int:
        return self.spec.input_size

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """``crops``: N x S x S x 3 uint8 (S = input size) → N x dim float32, unit length."""
        if len(crops) == 0:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        out = []
        for start in range(0, len(crops), self.batch_size):
            # Transposed while still uint8 (a quarter of the bytes), then normalised in place.
            chunk = np.ascontiguousarray(crops[start:start + self.batch_size].transpose(0, 3, 1, 2))
            batch = chunk.astype(np.float32)
            batch *= self._scale
            batch += self._shift
            out.append(self._forward(batch))
        return np.concatenate(out, axis=0)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """N x 3 x S x S normalised float32 → N x dim."""
        raise NotImplementedError

    def region_embedder(self, image: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
        """A way to embed many boxes of one photo without cutting each one out, or None (the
        stage then cuts crops and calls :meth:`embed`). A network run over the whole photo once
        (:class:`screener.logo.trunk.TrunkEmbedder`) returns one."""
        return None


class OnnxEmbedder(Embedder):
    """The same network exported to ONNX (:func:`screener.train.network.export_onnx`), run by onnxruntime: 1.7x faster
    than torch on one CPU thread (BENCHMARKS.md), and a scan never has to import torch."""

    runtime = "onnxruntime"

    def __init__(self, model: bytes, spec: ModelSpec, sha256: str = "", threads: int | None = None,
                 batch_size: int = 128) -> None:
        import onnxruntime as ort

        super().__init__(spec, sha256, batch_size)
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_budget(threads)  # onnxruntime ignores OMP_NUM_THREADS
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: batch})[0].astype(np.float32, copy=False)

"""The logo embedding network: a torchvision trunk plus a small head, L2-normalised output.

The trunk is ``mobilenet_v3_small`` (chosen by measurement on 2 CPU cores: about 0.2 ms per
64 px crop in batches of 64 with channels_last, 2.5x cheaper than 96 px and far cheaper than
resnet18), trained from scratch by :mod:`screener.logo.train` because no pretrained weights can
be downloaded here. The head is generalised-mean pooling, a linear projection and L2
normalisation, so cosine similarity between two crops is a plain dot product.

Training runs the network in torch; screening runs its ONNX export in onnxruntime
(:class:`OnnxEmbedder`), which is faster on one CPU thread and spares every scan worker torch's
import. torch and onnxruntime are imported inside functions so that importing this module stays
cheap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..threads import thread_budget

if TYPE_CHECKING:  # pragma: no cover
    import torch

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


def build_network(spec: ModelSpec) -> "torch.nn.Module":
    """A freshly initialised embedding network for ``spec`` (no weights are downloaded)."""
    import torch
    import torchvision

    class _GeM(torch.nn.Module):
        """Generalised-mean pooling: between average (p=1) and max pooling; p is learnt."""

        def __init__(self, p: float = 3.0) -> None:
            super().__init__()
            self.p = torch.nn.Parameter(torch.tensor(float(p)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            p = self.p.clamp(1.0, 6.0)
            return x.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)

    class _EmbeddingNet(torch.nn.Module):
        def __init__(self, trunk: torch.nn.Module, channels: int, dim: int) -> None:
            super().__init__()
            self.trunk = trunk
            self.pool = _GeM()
            # No BatchNorm in the head: with batch statistics it hides features that barely
            # vary between crops early in training, and eval mode then collapses every crop
            # onto one vector (measured: all cosine similarities 1.0 after 100 steps).
            self.head = torch.nn.Sequential(torch.nn.Linear(channels, dim * 2),
                                            torch.nn.ReLU(inplace=True),
                                            torch.nn.Linear(dim * 2, dim))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats = self.pool(self.trunk(x))
            return torch.nn.functional.normalize(self.head(feats), dim=1)

    if spec.arch == "mobilenet_v3_small":
        trunk = torchvision.models.mobilenet_v3_small(weights=None).features
        channels = 576
    elif spec.arch == "mobilenet_v3_large":
        trunk = torchvision.models.mobilenet_v3_large(weights=None).features
        channels = 960
    elif spec.arch == "resnet18":
        net = torchvision.models.resnet18(weights=None)
        trunk = torch.nn.Sequential(*list(net.children())[:-2])
        channels = 512
    else:
        from ..errors import ModelError

        raise ModelError(f"unknown logo model architecture {spec.arch!r} (known: {', '.join(ARCHES)})")
    return _EmbeddingNet(trunk, channels, spec.dim)


class Embedder:
    """Turns RGB uint8 crops into L2-normalised embeddings: normalisation and batching, shared by
    the runtimes (:class:`OnnxEmbedder` for screening, :class:`TorchEmbedder` for training)."""

    runtime = ""

    def __init__(self, spec: ModelSpec, sha256: str = "", batch_size: int = 128) -> None:
        self.spec = spec
        self.sha256 = sha256  # of the file the runtime runs: part of every cache key
        self.batch_size = batch_size
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


class TorchEmbedder(Embedder):
    """The network in torch (eval mode): what training evaluates with."""

    runtime = "torch"

    def __init__(self, network: "torch.nn.Module", spec: ModelSpec, sha256: str = "",
                 threads: int | None = None, batch_size: int = 128) -> None:
        import torch

        super().__init__(spec, sha256, batch_size)
        if threads:
            torch.set_num_threads(int(threads))
        self.network = network.eval().to(memory_format=torch.channels_last)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
            return self.network(tensor).float().numpy()


class OnnxEmbedder(Embedder):
    """The same network exported to ONNX (:func:`export_onnx`), run by onnxruntime: 1.7x faster
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


ONNX_OPSET = 17


def export_onnx(network: "torch.nn.Module", spec: ModelSpec, path: "str | Path") -> None:
    """Write ``network`` as an ONNX graph (batch dimension dynamic) for :class:`OnnxEmbedder`."""
    import torch

    network = network.eval()
    example = torch.zeros(2, 3, spec.input_size, spec.input_size)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.14 marks the TorchScript-based exporter deprecated; its replacement needs
        # onnxscript, which is not installed here. The pinned torch still exports correctly
        # (tests compare the export's embeddings with the weights').
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(network, (example,), str(path), input_names=["crops"], output_names=["embeddings"],
                          dynamic_axes={"crops": {0: "n"}, "embeddings": {0: "n"}}, opset_version=ONNX_OPSET,
                          dynamo=False)

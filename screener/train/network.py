"""The logo embedding network in torch: building it, running it, exporting it to ONNX.

Training-only (needs the ``train`` extra: torch, torchvision, onnx); screening runs the ONNX
export with :class:`screener.logo.model.OnnxEmbedder` and never imports this module. torch is
imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..logo.model import ARCHES, Embedder, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch


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


def load_torch_embedder(name: str = "logo-embed", models_dir: "str | Path | None" = None,
                        threads: int | None = None) -> TorchEmbedder:
    """A manifest model's torch weights (``file``), sha256-checked and read with
    ``weights_only=True``: what training, its ONNX export and runtime comparisons use. Screening
    runs the ONNX export (:func:`screener.logo.weights.load_embedder`) and never needs this."""
    import torch

    from ..errors import ModelError
    from ..logo.weights import MODELS_DIR, checked_path, manifest_entry, spec_of

    folder = models_dir or MODELS_DIR
    entry = manifest_entry(name, folder)
    spec = spec_of(entry)
    path, digest = checked_path(entry, "file", folder)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        network = build_network(spec)
        network.load_state_dict(state)
    except Exception as exc:  # torch raises many types for a bad file: one clear error instead
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from exc
    embedder = TorchEmbedder(network, spec, sha256=digest, threads=threads)
    embedder.source = (entry, Path(folder))
    return embedder


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

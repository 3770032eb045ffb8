"""The pretrained trunk's last blocks, trained here with the head (torch, the train extra).

A head on a frozen trunk can only re-weigh what ImageNet features already separate; on logo crops
and photos of brands no network trained on, training EfficientNet-Lite's *last* blocks too moved
them further (block 15 of Lite0: 192 -> 1152 -> 320 channels, 0.6 M weights; with block 14 beside
it, 1.1 M; BENCHMARKS.md, "The trunk's last block trained here" and "Two blocks trained"). They train
from cached features, as the head does: every training view is run once through the frozen trunk
up to the first trained block's input (the training graph of :func:`.trunk_export.export` with
``tail_input``), and what is cached per view is

    [ unit(GeM(s4)) | the first trained block's input map, flattened ]

so a step costs the blocks on 4 x 4 maps, not the whole network. The blocks' batch-normalisation
statistics stay ImageNet's (they run in eval mode; their scales and shifts train), because the
logo stage's whole-photo passes run them on maps of any size, where batch statistics of 4 x 4 crops
would not hold. The trained blocks are written into the trunk's graph
(:func:`.trunk_export.export` with ``tuned``): their tensors in the graph, every other weight still
read from the wheel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# A block's layers and the state_dict names of their tensors (EfficientNet-Lite's own).
_LAYERS = (("expand", "_expand_conv"), ("bn0", "_bn0"), ("dw", "_depthwise_conv"), ("bn1", "_bn1"),
           ("project", "_project_conv"), ("bn2", "_bn2"))


def tail_prefixes(state: dict[str, Any], blocks: int = 1) -> list[str]:
    """The state_dict prefixes of the network's last ``blocks`` MBConv blocks (``_blocks.15`` for
    Lite0's last). Every one must run at stride 1 on the stride-32 maps, so the training graph's
    output (their input) is a stride-32 map: a block that opens a stage at stride 2 is refused."""
    from .trunk_export import LITE_STRIDES, lite_stages

    stages = lite_stages(state)
    last = stages[-1][-1]
    if not 1 <= blocks <= last:
        raise ValueError(f"blocks must be 1 to {last}, not {blocks}")
    for index in range(last - blocks + 1, last + 1):
        stage = next(i for i, members in enumerate(stages) if index in members)
        if stages[stage][0] == index and LITE_STRIDES[stage] != 1:
            raise ValueError(f"_blocks.{index} opens a stage at stride {LITE_STRIDES[stage]}: "
                             f"tune at most {last - index} of the last blocks")
    return [f"_blocks.{index}" for index in range(last - blocks + 1, last + 1)]


def _folded(conv: Any, norm: Any) -> tuple[Any, Any]:
    """A bias-free conv and the eval-mode batch norm after it as one conv's weight and bias."""
    import torch

    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    return conv.weight * scale.reshape(-1, *([1] * (conv.weight.dim() - 1))), norm.bias - norm.running_mean * scale


def _block_module(state: dict[str, Any], prefix: str) -> Any:
    """One MBConv block as a torch module started at the state_dict's weights: expand 1x1 + BN +
    ReLU6, depthwise k x k (TF "same" padding at stride 1) + BN + ReLU6, project 1x1 + BN, plus
    the identity skip where its input and output widths agree (as the exported graph adds it).

    The forward pass folds each (eval-mode) batch norm into its conv, runs the 1x1 convs as matrix
    products over pixel rows and the depthwise conv on a channels-last view: the same function as
    conv + BN (to 1e-5), and half the time of a training step on these 4 x 4 maps, where torch's
    channels-first convolutions took most of it (``benchmarks/tail_step.py``; BENCHMARKS.md,
    "Rebuilding the default in half an hour")."""
    import torch
    from torch import nn
    from torch.nn.functional import conv2d, relu6

    expand = state[f"{prefix}._expand_conv.weight"]
    dw = state[f"{prefix}._depthwise_conv.weight"]
    project = state[f"{prefix}._project_conv.weight"]
    cin, mid, cout, k = int(expand.shape[1]), int(expand.shape[0]), int(project.shape[0]), int(dw.shape[-1])

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # The layers hold the parameters under the state_dict's names (tuned_tensors reads them).
            self.expand = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self.dw = nn.Conv2d(mid, mid, k, padding=k // 2, groups=mid, bias=False)
            self.bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self.project = nn.Conv2d(mid, cout, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-3)
            self.skip = cin == cout
            with torch.no_grad():
                for attr, key in _LAYERS:
                    layer = getattr(self, attr)
                    names = ("weight",) if isinstance(layer, nn.Conv2d) else ("weight", "bias", "running_mean",
                                                                              "running_var")
                    for n in names:
                        getattr(layer, n).copy_(state[f"{prefix}.{key}.{n}"])

        def forward(self, x: Any) -> Any:
            n, _, height, width = x.shape
            rows = x.permute(0, 2, 3, 1).reshape(-1, cin)  # one row a pixel
            weight, bias = _folded(self.expand, self.bn0)
            h = relu6(torch.addmm(bias, rows, weight.flatten(1).t()))
            weight, bias = _folded(self.dw, self.bn1)
            maps = h.view(n, height, width, mid).permute(0, 3, 1, 2)  # channels-last memory
            h = relu6(conv2d(maps, weight, bias, padding=k // 2, groups=mid)).permute(0, 2, 3, 1).reshape(-1, mid)
            weight, bias = _folded(self.project, self.bn2)
            h = torch.addmm(bias, h, weight.flatten(1).t())
            h = h + rows if self.skip else h
            return h.view(n, height, width, cout).permute(0, 3, 1, 2)

    return Block()


def tail_module(state: dict[str, Any], blocks: int = 1) -> Any:
    """The network's last ``blocks`` blocks (:func:`tail_prefixes`) as one torch module, started at
    the state_dict's weights; ``input_channels`` is the width of the map it reads."""
    from torch import nn

    prefixes = tail_prefixes(state, blocks)

    class Tail(nn.Sequential):
        def train(self, mode: bool = True) -> "Tail":
            return super().train(False)  # ImageNet's statistics, always (see the module docstring)

    tail = Tail(*(_block_module(state, prefix) for prefix in prefixes))
    tail.prefixes = prefixes
    tail.input_channels = int(state[f"{prefixes[0]}._expand_conv.weight"].shape[1])
    return tail.eval()


def tuned_tensors(tail: Any) -> dict[str, np.ndarray]:
    """The trained blocks' tensors under the state_dict's names (what the exported graph holds)."""
    out = {}
    for prefix, block in zip(tail.prefixes, tail):
        for attr, key in _LAYERS:
            for name, tensor in getattr(block, attr).state_dict().items():
                if name != "num_batches_tracked":
                    out[f"{prefix}.{key}.{name}"] = tensor.detach().cpu().numpy().astype(np.float32)
    return out


def pre_tail_features(trunk: Any, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """N crops → N x (C4 + C x h x w): unit(GeM(s4)) and the last block's input map, flattened,
    from the training graph (outputs ``s4`` and the tail's input)."""
    from ..logo.trunk import gem, unit

    out = []
    for start in range(0, len(crops), batch):
        s4, tail_in = trunk.maps(crops[start:start + batch])
        out.append(np.concatenate([unit(gem(s4)), tail_in.reshape(len(tail_in), -1)], axis=1).astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def tailed_descriptor(tail: Any, features: Any, map_shape: tuple[int, int, int], p: float = 3.0) -> Any:
    """Cached pre-tail features (torch, N x (C4 + C*h*w)) → the descriptor the head reads, exactly
    as the logo stage forms it from the tuned trunk: unit(GeM(s4)) beside unit(GeM(tail(map))),
    L2-normalised."""
    import torch
    from torch.nn.functional import normalize

    size = int(np.prod(map_shape))
    s4, maps = features[:, :-size], features[:, -size:].reshape(-1, *map_shape)
    s5 = torch.clamp(tail(maps), min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)
    return normalize(torch.cat([s4, normalize(s5, dim=1)], dim=1), dim=1)

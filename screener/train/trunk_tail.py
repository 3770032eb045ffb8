"""The pretrained trunk's last block, trained here with the head (torch, the train extra).

A head on a frozen trunk can only re-weigh what ImageNet features already separate; on logo crops
of brands no network trained on, training EfficientNet-Lite's *last* block too (block 15 of Lite0:
192 -> 1152 -> 320 channels, 0.6 M weights) moved them further (BENCHMARKS.md, "The trunk's last
block trained here"). It trains from cached features, as the head does: every training view is run
once through the frozen trunk up to the last block's input (the training graph of
:func:`.trunk_export.export` with ``tail_input``), and what is cached per view is

    [ unit(GeM(s4)) | the last block's input map, flattened ]

so a step costs the block on 4 x 4 maps, not the whole network. The block's batch-normalisation
statistics stay ImageNet's (the block runs in eval mode; its scales and shifts train), because the
logo stage's whole-photo passes run it on maps of any size, where batch statistics of 4 x 4 crops
would not hold. The trained block is written into the trunk's graph
(:func:`.trunk_export.export` with ``tuned``): its tensors in the graph, every other weight still
read from the wheel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The block's layers and the state_dict names of their tensors (EfficientNet-Lite's own).
_LAYERS = (("expand", "_expand_conv"), ("bn0", "_bn0"), ("dw", "_depthwise_conv"), ("bn1", "_bn1"),
           ("project", "_project_conv"), ("bn2", "_bn2"))


def last_block(state: dict[str, Any]) -> str:
    """The state_dict prefix of the network's last MBConv block (``_blocks.15`` for Lite0)."""
    return f"_blocks.{max(int(k.split('.')[1]) for k in state if k.startswith('_blocks.'))}"


def tail_module(state: dict[str, Any]) -> Any:
    """The last block as a torch module started at the state_dict's weights: expand 1x1 + BN +
    ReLU6, depthwise k x k (TF "same" padding at stride 1) + BN + ReLU6, project 1x1 + BN.
    The block's input and output widths differ, so it has no skip connection."""
    import torch
    from torch import nn

    prefix = last_block(state)
    expand = state[f"{prefix}._expand_conv.weight"]
    dw = state[f"{prefix}._depthwise_conv.weight"]
    project = state[f"{prefix}._project_conv.weight"]
    cin, mid, cout, k = int(expand.shape[1]), int(expand.shape[0]), int(project.shape[0]), int(dw.shape[-1])
    if cin == cout:
        raise ValueError(f"{prefix} has a skip connection; only a widening last block is supported")

    class Tail(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.expand = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self.dw = nn.Conv2d(mid, mid, k, padding=k // 2, groups=mid, bias=False)
            self.bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self.project = nn.Conv2d(mid, cout, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-3)
            self.input_channels = cin
            with torch.no_grad():
                for attr, key in _LAYERS:
                    layer = getattr(self, attr)
                    names = ("weight",) if isinstance(layer, nn.Conv2d) else ("weight", "bias", "running_mean",
                                                                              "running_var")
                    for n in names:
                        getattr(layer, n).copy_(state[f"{prefix}.{key}.{n}"])

        def forward(self, x: Any) -> Any:
            x = torch.clamp(self.bn0(self.expand(x)), 0, 6)
            x = torch.clamp(self.bn1(self.dw(x)), 0, 6)
            return self.bn2(self.project(x))

        def train(self, mode: bool = True) -> "Tail":
            return super().train(False)  # ImageNet's statistics, always (see the module docstring)

    return Tail().eval()


def tuned_tensors(tail: Any, state: dict[str, Any]) -> dict[str, np.ndarray]:
    """The trained block's tensors under the state_dict's names (what the exported graph holds)."""
    prefix = last_block(state)
    out = {}
    for attr, key in _LAYERS:
        for name, tensor in getattr(tail, attr).state_dict().items():
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

"""A metric-learning head on the frozen trunk's cached features (torch, the train extra).

The head maps the trunk's pooled descriptor (432-d for EfficientNet-Lite0 stages 5+7) to a unit
``dims``-d embedding: a linear map *started at the PCA whitening* (:func:`.trunk_head.fit_whitening`
on the training data's features), plus a residual 2-layer MLP started at zero, so training starts
from the fitted head and only moves where the loss says. Loss: supervised contrastive over batches
of identities x views with negatives (clutter) in every denominator; imitation twins always
share a batch, so the loss pushes a near-duplicate away from its genuine mark.

The trained head is exported as the same ONNX form as the PCA head (input ``features`` N x D,
output ``embedding`` N x dims, unit length), so :func:`screener.logo.trunk.load_trunk_embedder`
loads either unchanged.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .trunk_data import SOURCES, FeatureSet
from .trunk_head import fit_whitening


@dataclass(frozen=True)
class HeadSettings:
    dims: int = 256
    hidden: int = 512  # 0 = linear head only
    steps: int = 4000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    real_per_batch: int = 8  # FlickrLogos trained brands per batch
    icons_per_batch: int = 64
    synth_per_batch: int = 24  # (with their imitation twins)
    views: int = 4
    negatives: int = 128
    shrink: float = 0.1  # the PCA start's eigenvalue regularisation
    tail_lr: float = 0.0  # the trunk's last block's peak learning rate (0: the trunk stays frozen)
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True)
class TrainedHead:
    """The head's weights as NumPy arrays (what the ONNX graph holds)."""

    weight: np.ndarray  # D x dims
    bias: np.ndarray  # dims
    hidden_weight: np.ndarray | None  # D x H
    hidden_bias: np.ndarray | None  # H
    out_weight: np.ndarray | None  # H x dims

    def embed(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight + self.bias
        if self.hidden_weight is not None:
            z = z + np.maximum(x @ self.hidden_weight + self.hidden_bias, 0) @ self.out_weight
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _network(d: int, settings: HeadSettings, weight: np.ndarray, bias: np.ndarray) -> Any:
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(d, settings.dims)
            with torch.no_grad():
                self.linear.weight.copy_(torch.from_numpy(weight.T.copy()))
                self.linear.bias.copy_(torch.from_numpy(bias.copy()))
            self.hidden = nn.Linear(d, settings.hidden) if settings.hidden else None
            self.out = nn.Linear(settings.hidden, settings.dims, bias=False) if settings.hidden else None
            if self.out is not None:
                nn.init.zeros_(self.out.weight)  # the residual starts at nothing: the PCA head

        def forward(self, x: Any) -> Any:
            z = self.linear(x)
            if self.hidden is not None:
                z = z + self.out(torch.relu(self.hidden(x)))
            return nn.functional.normalize(z, dim=1)

    return Head()


class _Sampler:
    """Seeded batches of row indices: identities x views from each source, plus negatives."""

    def __init__(self, data: FeatureSet, settings: HeadSettings) -> None:
        self.rng = random.Random(settings.seed)
        self.s = settings
        train = ~data.validation
        self.rows: dict[int, list[int]] = {}
        for i in np.nonzero(train & (data.labels >= 0))[0]:
            self.rows.setdefault(int(data.labels[i]), []).append(int(i))
        source_of = {int(data.labels[i]): int(data.source[i]) for i in np.nonzero(data.labels >= 0)[0]}
        self.partner = {int(data.labels[i]): int(data.partner[i]) for i in np.nonzero(data.partner >= 0)[0]}
        by_source: dict[str, list[int]] = {s: [] for s in SOURCES}
        for label in sorted(self.rows):
            if len(self.rows[label]) >= 2:
                by_source[SOURCES[source_of[label]]].append(label)
        # An imitation twin enters with its genuine mark, never on its own.
        by_source["synth"] = [l for l in by_source["synth"] if self.partner.get(l, -1) < 0 or l < self.partner[l]]
        self.by_source = by_source
        self.negatives = [int(i) for i in np.nonzero(train & (data.labels < 0))[0]]

    def batch(self) -> list[int]:
        s, rng = self.s, self.rng
        labels: list[int] = []
        for source, count in (("flickr", s.real_per_batch), ("icons", s.icons_per_batch),
                              ("synth", s.synth_per_batch)):
            pool = self.by_source[source]
            for label in rng.sample(pool, min(count, len(pool))):
                labels.append(label)
                if self.partner.get(label, -1) in self.rows:
                    labels.append(self.partner[label])
        rows: list[int] = []
        for label in labels:
            pool = self.rows[label]
            rows += rng.sample(pool, s.views) if len(pool) >= s.views else [rng.choice(pool) for _ in range(s.views)]
        if self.negatives:
            rows += rng.sample(self.negatives, min(s.negatives, len(self.negatives)))
        return rows


def validation_metrics(embed_rows: Callable[[np.ndarray], np.ndarray], data: FeatureSet) -> dict[str, float]:
    """Held-back simple-icons marks (never trained on): their own-colour print as the reference,
    the other prints as queries, the other held-back marks and 1,000 negatives as impostors.
    ``embed_rows``: row indices of ``data`` → their embeddings."""
    from .trunk_eval import crop_metrics

    held = np.nonzero(data.validation & (data.labels >= 0))[0]
    if len(held) == 0:
        return {}
    labels = data.labels[held]
    first = np.r_[True, labels[1:] != labels[:-1]]  # each mark's first view is its own-colour print
    names = {l: k for k, l in enumerate(sorted(set(labels.tolist())))}
    brand = np.array([names[l] for l in labels.tolist()])
    negatives = np.nonzero(data.labels < 0)[0][::max(1, int((data.labels < 0).sum()) // 1000)]
    z = embed_rows(held)
    return crop_metrics(z[first], brand[first], z[~first], brand[~first], embed_rows(negatives))


def train_head(data: FeatureSet, settings: HeadSettings, log: Callable[[str], None] = print,
               tail: Any = None, map_shape: tuple[int, int, int] | None = None) -> tuple[TrainedHead, dict]:
    """Train the head on cached features; returns the weights and a training record.

    With ``tail`` (:func:`.trunk_tail.tail_module`, trained at ``settings.tail_lr``), the cached
    features are pre-tail features (:func:`.trunk_tail.pre_tail_features`, the map ``map_shape``)
    and the trunk's last block trains with the head; the trained block is then the ``tail``
    module itself (read it with :func:`.trunk_tail.tuned_tensors`)."""
    import torch

    from .trainer import supcon_loss
    from .trunk_tail import tailed_descriptor

    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    features = torch.from_numpy(data.features)
    if tail is not None and (map_shape is None or settings.tail_lr <= 0):
        raise ValueError("a trained tail needs its map shape and a tail_lr > 0")

    def describe(rows: Any) -> Any:
        """Cached rows → the head's input (through the tail as it is now, when it trains)."""
        return features[rows] if tail is None else tailed_descriptor(tail, features[rows], map_shape)

    def described(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([describe(torch.as_tensor(rows[i:i + 2048])).numpy()
                                   for i in range(0, len(rows), 2048)]) if len(rows) else np.zeros((0, 0), np.float32)

    train = ~data.validation
    start = described(np.arange(len(data))) if tail is not None else data.features
    mean, projection = fit_whitening(start[train], settings.dims, settings.shrink)
    # The whitening's scale is arbitrary (the output is normalised); bring its outputs to unit
    # length on average so the residual branch and the step size see a sensible scale.
    bias = -(mean @ projection)
    scale = 1.0 / float(np.mean(np.linalg.norm(start[train] @ projection + bias, axis=1)))
    del start
    network = _network(projection.shape[0], settings, projection * scale, bias * scale)
    groups = [{"params": list(network.parameters()), "lr": settings.lr}]
    if tail is not None:
        groups.append({"params": list(tail.parameters()), "lr": settings.tail_lr})
    optimiser = torch.optim.AdamW(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[g["lr"] for g in groups],
                                                   total_steps=settings.steps, pct_start=0.1)
    labels = torch.from_numpy(data.labels)
    sampler = _Sampler(data, settings)
    t0 = time.perf_counter()
    losses: list[float] = []
    record: dict[str, Any] = {"identities": {k: len(v) for k, v in sampler.by_source.items()},
                              "negatives": len(sampler.negatives)}
    what = "head" if tail is None else f"head + the trunk's last {len(tail)} block(s)"
    log(f"{what}: {record['identities']} identities, "
        f"{record['negatives']} negatives, {settings.steps} steps")

    def embed_rows(rows: np.ndarray) -> np.ndarray:
        return _weights(network).embed(described(rows))

    record["validation_start"] = validation_metrics(embed_rows, data)
    for step in range(1, settings.steps + 1):
        rows = torch.as_tensor(sampler.batch())
        loss = supcon_loss(network(describe(rows)), labels[rows], settings.temperature)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())  # the value only: float() of a tensor that needs grad warns
        if step % 500 == 0 or step == settings.steps:
            val = validation_metrics(embed_rows, data)
            log(f"step {step}: loss {np.mean(losses[-500:]):.3f}, held-back marks top-1 {val.get('top1', 0):.3f} "
                f"TAR@1e-2 {val.get('tar@0.01', 0):.3f} ({time.perf_counter() - t0:.0f} s)")
    head = _weights(network)
    record.update({"final_loss": round(float(np.mean(losses[-200:])), 4), "train_seconds": round(time.perf_counter() - t0, 1),
                   "validation": validation_metrics(embed_rows, data)})
    return head, record


def _weights(network: Any) -> TrainedHead:
    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    if network.hidden is None:
        return TrainedHead(arr(network.linear.weight).T.copy(), arr(network.linear.bias), None, None, None)
    return TrainedHead(arr(network.linear.weight).T.copy(), arr(network.linear.bias),
                       arr(network.hidden.weight).T.copy(), arr(network.hidden.bias), arr(network.out.weight).T.copy())


def trained_head_graph(head: TrainedHead) -> Any:
    """ONNX: N x D descriptor → unit-length N x dims embedding (the PCA head's input and output)."""
    import onnx
    from onnx import helper, numpy_helper

    d, k = head.weight.shape
    inits = [numpy_helper.from_array(head.weight, "weight"), numpy_helper.from_array(head.bias, "bias")]
    nodes = [helper.make_node("MatMul", ["features", "weight"], ["projected"]),
             helper.make_node("Add", ["projected", "bias"], ["linear"])]
    last = "linear"
    if head.hidden_weight is not None:
        inits += [numpy_helper.from_array(head.hidden_weight, "hidden_weight"),
                  numpy_helper.from_array(head.hidden_bias, "hidden_bias"),
                  numpy_helper.from_array(head.out_weight, "out_weight")]
        nodes += [helper.make_node("MatMul", ["features", "hidden_weight"], ["h0"]),
                  helper.make_node("Add", ["h0", "hidden_bias"], ["h1"]),
                  helper.make_node("Relu", ["h1"], ["h2"]),
                  helper.make_node("MatMul", ["h2", "out_weight"], ["residual"]),
                  helper.make_node("Add", ["linear", "residual"], ["summed"])]
        last = "summed"
    nodes.append(helper.make_node("LpNormalization", [last], ["embedding"], axis=1, p=2))
    graph = helper.make_graph(
        nodes, "logo_trunk_trained_head",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", k])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

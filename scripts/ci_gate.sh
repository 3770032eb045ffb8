#!/usr/bin/env bash
# Quality gate on the labelled sample images: scan them, then `screener eval` with thresholds set
# just under today's measured quality (2026-12-06, the default logo network
# logo-trunk-tuned, 1,500 steps, with its fitted decision: accuracy 0.902, suspect precision 1.0,
# altered 0.87/1.0, cue 1.0/1.0 (0.94 before cues tolerated a doubled character), brand mark
# 0.975/0.907, mixed marks 0.83/1.0, imitation logo 0.33/1.0; its 2,500-step predecessor had
# brand mark precision 0.929, logo-trunk-metric accuracy 0.882, logo-embed 0.892 and mixed marks
# 1.0), with room for a photo or two to flip on another
# CPU (brand mark precision: two more wrong brand marks fail it).
# A drop below any gate exits 1.
# The mixed-marks gate (five of six) fails when alignment stops finding flat emblems.
# Usage: scripts/ci_gate.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/ci}
mkdir -p "$out"
.venv/bin/screener scan sample_images/listings --registry sample_images/brands \
  --out "$out/results.jsonl" --csv "$out/results.csv" --report "$out/report.html" \
  --db "$out/store.sqlite" --quiet
.venv/bin/screener eval "$out/results.jsonl" --labels sample_images/labels.csv \
  --junit "$out/junit.xml" \
  --min-accuracy 0.86 --min-precision suspect=0.95 \
  --min-recall altered_brand_name=0.80 --min-precision altered_brand_name=0.95 \
  --min-recall counterfeit_cue=0.90 --min-precision counterfeit_cue=0.95 \
  --min-recall brand_mark=0.9 --min-precision brand_mark=0.88 \
  --min-recall mixed_marks=0.8 --min-precision mixed_marks=0.9 --min-recall imitation_logo=0.2 --min-precision imitation_logo=0.9

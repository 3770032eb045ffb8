"""Variants of the fitted logo decision, measured on gathered evidence (issue 17's probes).

Reads the evidence ``python -m screener.train.fit_decision`` gathered (``<cache>/evidence-<model>.jsonl``) and the sample listings scanned once with the fitted
decision's stage floor (``screener scan sample_images/listings --registry sample_images/brands
--set policy.logo_decision=fitted --out SAMPLES.jsonl``, or with any shipped decision: only the
logo hits and texts are used). Every variant chooses its operating point on the fitting half (out
of fold, as the command does) and prints the fitting half, the reporting half and the samples::

    python benchmarks/decision_variants.py folds [--seeds 0 1 2 3 4 5]     # operating point vs fold seed
    python benchmarks/decision_variants.py trees --samples S.jsonl          # gradient-boosted trees
    python benchmarks/decision_variants.py points --model logo-trunk-tuned --models DIR --at 0.155 0.6
    python benchmarks/decision_variants.py union --model logo-trunk-tuned --second-cache runs/dec2 --second-model logo-embed \
        --models DIR --at 0.6 0.9      # the default screener's marks united with a second network's

``points``: the shipped (or ``--models``) decision of ``--model`` at other operating points.
``union``: every photo's brand marks from ``--model`` with its shipped decision, united with those
of ``--second-model`` (its evidence gathered with ``--set logo.model=...`` into
``--second-cache``, its decision in ``--models``) at each ``--at`` point: what running both
networks would find (BENCHMARKS.md, "The trunk with a fitted decision, and as a second network").

``trees``: scikit-learn's GradientBoostingClassifier (depth 2 and 3, 100 trees) instead of the
regression. Nothing here is shipped; BENCHMARKS.md ("The fitted decision again", "Per source") has
the numbers. (The synthetic-listing variant was measured at commit b6a3fe0 and deleted with the
synthetic gathering once geometry hits were left to geometry's thresholds.)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.brands import BrandRegistry  # noqa: E402
from screener.config import Config  # noqa: E402
from screener.decision import LogoDecision  # noqa: E402
from screener.evaluate import evaluate, load_labels, load_results, match_labels  # noqa: E402
from screener.policy import Policy  # noqa: E402
from screener.train import fit_decision as fd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Boosted:
    """Gradient-boosted trees behind :class:`LogoDecision`'s call shape (probe only)."""

    model: object
    threshold: float = 0.5
    min_score: float = 0.0
    network: str = "logo-embed"
    margin_floor: float = 0.0

    def probability(self, x):  # noqa: ANN001, ANN201
        x = np.asarray(x, dtype=np.float64)
        p = self.model.predict_proba(x.reshape(-1, x.shape[-1]))[:, 1]  # type: ignore[attr-defined]
        return float(p[0]) if x.ndim == 1 else p


def logistic(x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> LogoDecision:
    """The command's own fitter (``fit_decision.fit``)."""
    return fd.fit(x, y)


def trees(depth: int):  # noqa: ANN201
    from sklearn.ensemble import GradientBoostingClassifier

    def fit(x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> Boosted:
        return Boosted(GradientBoostingClassifier(n_estimators=100, max_depth=depth, learning_rate=0.1,
                                                  subsample=0.8, random_state=0).fit(x, y))
    return fit


class Evidence:
    def __init__(self, cache: Path, model: str) -> None:
        self.lines = fd.load_evidence(cache / f"evidence-{model}.jsonl")
        self.config = Config().replace(logo__model=model)
        self.brands = sorted({b for l in self.lines for b in l["truth"]} | {h.brand for l in self.lines
                                                                          for h in l["result"].logos})
        self.halves = {h: [l for l in self.lines if l["half"] == h] for h in ("fit", "report")}
        rules = fd.policy_for(self.brands, self.config.replace(policy__logo_decision="rules"))
        x, self.y, self.info = fd.hit_rows(self.halves["fit"], rules)
        self.margin_floor, _ = fd.choose_margin_floor(x, self.y, self.info)  # as the command chooses it
        self.x = fd.with_margin_floor(x, self.info, self.margin_floor)

    def choose(self, fitter, fold_seed: int = fd.SEED, folds: int = fd.FOLDS):  # noqa: ANN001, ANN201
        """The decision fitted on every fitting row, its operating point chosen out of fold."""
        every = np.arange(len(self.y))

        def fitted(rows: np.ndarray):  # noqa: ANN202
            return dataclasses.replace(fitter(self.x[rows], self.y[rows], rows), margin_floor=self.margin_floor)

        decision = fitted(every)
        fold_of = fd.deal_folds((l["photo"] for l in self.halves["fit"]), folds, seed=fold_seed)
        row_fold = np.asarray([fold_of[i["photo"]] for i in self.info])
        policies = {}
        for k in range(folds):
            policy = fd.policy_for(self.brands, self.config, fitted(every[row_fold != k]))
            policies.update({p: policy for p, f in fold_of.items() if f == k})
        probe = fd.policy_for(self.brands, self.config, decision)
        threshold = fd.operating_point(self.halves["fit"], probe, 1.0, policy_of=policies.get)
        return dataclasses.replace(decision, threshold=threshold)

    def halves_at(self, decision) -> dict:  # noqa: ANN001
        policy = fd.policy_for(self.brands, self.config, decision)
        return {h: fd.metrics(rows, fd.reported(rows, policy)) for h, rows in self.halves.items()}


def samples_at(results_path: Path, decision) -> str:  # noqa: ANN001
    """Accuracy and mixed-marks recall of the sample listings re-decided with ``decision``."""
    registry = BrandRegistry.load(REPO / "sample_images" / "brands")
    policy = Policy(registry, Config().replace(policy__logo_decision="fitted"), decision=decision)
    results = []
    for r in load_results(results_path):
        if r.status == "ok":
            d = policy(r.texts, r.logos, size=r.size)
            r = dataclasses.replace(r, brands=d.brands, flags=d.flags, risk=d.risk, verdict=d.verdict)
        results.append(r)
    pairs = match_labels(load_labels(REPO / "sample_images" / "labels.csv"), results, REPO / "sample_images")
    report = evaluate(pairs).to_dict()
    mixed = report["per_flag"]["mixed_marks"]
    return f"samples accuracy {report['accuracy']:.3f}, mixed marks recall {mixed['recall']:.2f}"


def short(metrics: dict) -> str:
    return ", ".join(f"{k} {v['recall']}/{v['precision']}" if "recall" in v else f"{k} {v['false_marks_per_100']}"
                     for k, v in metrics.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variant", choices=("folds", "trees", "points", "union"))
    parser.add_argument("--cache", type=Path, default=Path("runs/decision"))
    parser.add_argument("--model", default="logo-embed")
    parser.add_argument("--samples", type=Path, default=None, help="sample listings' results (see above)")
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(6)))
    parser.add_argument("--models", type=Path, default=None, help="models folder of the decisions (default: the package's)")
    parser.add_argument("--at", type=float, nargs="*", default=[], help="operating points (points, union)")
    parser.add_argument("--second-cache", type=Path, default=None)
    parser.add_argument("--second-model", default="logo-embed")
    args = parser.parse_args(argv)
    evidence = Evidence(args.cache, args.model)
    if args.variant in ("points", "union"):
        from screener.decision import load_decision

        first = load_decision(args.model, args.models if args.variant == "points" else None)
        second = evidence if args.variant == "points" else Evidence(args.second_cache, args.second_model)
        decision = load_decision(second.config.logo.model, args.models)
        base = {h: fd.reported(rows, fd.policy_for(evidence.brands, evidence.config, first))
                for h, rows in evidence.halves.items()}
        for at in [None] + list(args.at):
            found = base if at is None else {
                h: fd.reported(rows, fd.policy_for(second.brands, second.config, dataclasses.replace(decision, threshold=at)))
                for h, rows in second.halves.items()}
            if args.variant == "union" and at is not None:
                found = {h: {p: base[h].get(p, set()) | found[h].get(p, set()) for p in base[h]} for h in base}
            name = (f"{args.model} at its own point, P >= {first.threshold:.3f}" if at is None
                    else f"{second.config.logo.model} at P >= {at}")
            if args.variant == "union" and at is not None:
                name = f"{args.model} shipped + {name}"
            print(f"{name} | " + " | ".join(f"{h} {short(fd.metrics(evidence.halves[h], found[h]))}"
                                            for h in ("fit", "report")), flush=True)
        return 0
    if args.variant == "folds":
        runs = [(f"fold seed {s}", logistic, s) for s in args.seeds]
    else:
        runs = [(f"trees depth {d}", trees(d), fd.SEED) for d in (2, 3)]
    for name, fitter, seed in runs:
        decision = evidence.choose(fitter, fold_seed=seed)
        at = evidence.halves_at(decision)
        line = f"{name}: P >= {decision.threshold:.3f} | fit {short(at['fit'])} | report {short(at['report'])}"
        if args.samples:
            line += f" | {samples_at(args.samples, decision)}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

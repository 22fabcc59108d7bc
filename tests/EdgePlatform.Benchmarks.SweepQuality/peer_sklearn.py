#!/usr/bin/python3
"""The benchmark's peer: scikit-learn's HistGradientBoosting in a halving random search, 10-fold CV.

Reads one ARFF file (the last attribute is the label, as Weka's own datasets have it), encodes
nominal features as ordinal codes that HistGradientBoosting treats as categorical (missing values
stay NaN, which it handles natively), and runs successive rounds of HalvingRandomSearchCV over
learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization and max_iter until the wall
budget is spent. Each round is sized from the cost of the round before it so that it ends inside
the budget, and none takes more than a quarter of it. Prints one JSON object: the best
cross-validated score (at full resources) in the same metric as the sweep it is compared with:
binary AUC, multiclass macro accuracy (mean per-class recall, scikit-learn's balanced accuracy),
regression RMSE.

Usage: peer_sklearn.py FILE.arff --budget SECONDS [--folds 10] [--jobs 2] [--seed 42]
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

# Early halving rungs score small subsamples where a fold can miss a class; the worker processes
# that score them read their warning filter from the environment, not from this process.
os.environ["PYTHONWARNINGS"] = "ignore"

import numpy as np
from scipy.io import arff
from scipy.stats import loguniform, randint, uniform
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (registers HalvingRandomSearchCV)
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.base import clone
from sklearn.model_selection import HalvingRandomSearchCV, KFold, StratifiedKFold, cross_val_score

import sklearn


def load(path):
    """Features as a float matrix (nominal → codes, '?' → NaN), the categorical mask, the label and its kind."""
    data, meta = arff.loadarff(path)
    names = meta.names()
    label_name = names[-1]
    columns = []
    categorical = []
    for name in names[:-1]:
        kind, values = meta[name]
        column = data[name]
        if kind == "nominal":
            codes = {v.encode() if isinstance(v, str) else v: i for i, v in enumerate(values)}
            columns.append(np.array([codes.get(v, np.nan) for v in column], dtype=float))
            categorical.append(True)
        elif kind == "numeric":
            columns.append(np.asarray(column, dtype=float))
            categorical.append(False)
        else:
            raise SystemExit(f"{path}: attribute '{name}' is {kind}; only numeric and nominal features are supported")
    x = np.column_stack(columns)
    kind, values = meta[label_name]
    raw = data[label_name]
    if kind == "nominal":
        present = np.array([v != b"?" for v in raw])
        y = np.array([v.decode() for v in raw[present]])
        task = "binary" if len(set(y)) == 2 else "multiclass"
    else:
        present = ~np.isnan(raw)
        y = np.asarray(raw[present], dtype=float)
        task = "regression"
    return x[present], np.array(categorical), y, task, label_name


def distributions(n_rows):
    return {
        "learning_rate": loguniform(0.01, 0.5),
        "max_leaf_nodes": randint(4, 128),
        "min_samples_leaf": randint(1, max(2, min(60, n_rows // 10))),
        "l2_regularization": loguniform(1e-6, 10.0),
        "max_iter": randint(20, 500),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--budget", type=float, required=True, help="wall seconds for the whole search")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.monotonic()
    deadline = started + args.budget
    warnings.filterwarnings("ignore")

    x, categorical, y, task, label = load(args.file)
    if task == "regression":
        estimator = HistGradientBoostingRegressor(categorical_features=categorical if categorical.any() else None, random_state=args.seed)
        scoring, sign, metric = "neg_root_mean_squared_error", -1.0, "rmse"
        cv = KFold(args.folds, shuffle=True, random_state=args.seed)
    else:
        estimator = HistGradientBoostingClassifier(categorical_features=categorical if categorical.any() else None, random_state=args.seed)
        scoring, sign, metric = ("roc_auc", 1.0, "auc") if task == "binary" else ("balanced_accuracy", 1.0, "macro-accuracy")
        cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)

    # Halving scores its first rungs on subsamples; only the last rung, scored on every row, is
    # the 10-fold figure compared. min_resources="exhaust" makes the last rung use every row, and
    # a round has no more candidates than rungs whose smallest subsample still gives each fold
    # two rows of each class, so "exhaust" need not start below that.
    smallest = 2 * args.folds * (len(set(y)) if task != "regression" else 1)
    rungs = 1 + max(0, int(math.floor(math.log(max(1.0, len(y) / smallest), 3))))
    most_candidates = max(3, 3 ** (rungs - 1))
    best = None
    rounds = 0
    fits = 0
    candidates = min(4, most_candidates)
    seconds_per_candidate = None
    while True:
        remaining = deadline - time.monotonic()
        if seconds_per_candidate is not None:
            # A round's cost varies with the candidates drawn and the machine's load: no round gets
            # more than a quarter of the budget, and a fifth of what remains is left spare, so the
            # last round's misestimate is small against the budget.
            candidates = min(most_candidates, int(min(0.8 * remaining, args.budget / 4) / seconds_per_candidate))
        if candidates < 3 or remaining <= 0:
            break
        search = HalvingRandomSearchCV(
            estimator,
            distributions(len(y)),
            n_candidates=candidates,
            factor=3,
            min_resources="exhaust",
            resource="n_samples",
            cv=cv,
            scoring=scoring,
            refit=False,
            n_jobs=args.jobs,
            random_state=args.seed + rounds,
            error_score=np.nan,
        )
        round_started = time.monotonic()
        search.fit(x, y)
        rounds += 1
        fits += len(search.cv_results_["params"]) * args.folds
        seconds_per_candidate = (time.monotonic() - round_started) / candidates
        results = search.cv_results_
        last = max(results["n_resources"])
        scored = [i for i, n in enumerate(results["n_resources"]) if n == last and not math.isnan(results["mean_test_score"][i])]
        if not scored:
            raise SystemExit(f"{args.file}: a halving round scored no candidate on its last rung")
        index = max(scored, key=lambda i: results["mean_test_score"][i])
        raw = float(results["mean_test_score"][index])
        if last < len(y):
            # "exhaust" rounds the last rung down to a power of the factor: score the winner on every row.
            raw = float(np.mean(cross_val_score(clone(estimator).set_params(**results["params"][index]), x, y, cv=cv, scoring=scoring, n_jobs=args.jobs)))
            fits += args.folds
        score = sign * raw
        better = best is None or (score < best["score"] if sign < 0 else score > best["score"])
        if not math.isnan(score) and better:
            best = {"score": score, "params": {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in results["params"][index].items()}}
        if time.monotonic() >= deadline:
            break

    wall = time.monotonic() - started
    if best is None:
        raise SystemExit(f"{args.file}: no search round finished inside {args.budget:.0f} s")
    json.dump(
        {
            "dataset": os.path.splitext(os.path.basename(args.file))[0],
            "task": task,
            "label": label,
            "rows": int(len(y)),
            "metric": metric,
            "score": best["score"],
            "params": best["params"],
            "rounds": rounds,
            "fits": fits,
            "wall_seconds": wall,
            "cpus": os.cpu_count(),
            "sklearn": sklearn.__version__,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

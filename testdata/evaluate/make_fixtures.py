"""Reference values for models/evaluate's regression and ranking reports.

Run with Debian's Python (python3-sklearn 1.2, python3-scipy 1.10):

    /usr/bin/python3 testdata/evaluate/make_fixtures.py > testdata/evaluate/fixtures.json

Each case holds its inputs and what scikit-learn and scipy compute for them.
The best-F1 threshold is found by brute force with sklearn's f1_score over
every distinct score (predict positive when score >= threshold), keeping
the greatest threshold among equal F1s.
"""
import json
import sys

import numpy as np
import scipy
import sklearn
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import (
    classification_report,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)


def regression_case(name, y_true, y_pred, lo, hi):
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    t = np.round(y_true).astype(int)
    p = np.round(np.clip(y_pred, lo, hi)).astype(int)
    rep = classification_report(t, p, zero_division=0, output_dict=True)
    return {
        "name": name,
        "true": y_true.tolist(),
        "pred": y_pred.tolist(),
        "range": [lo, hi],
        "mse": mean_squared_error(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred),
        "r2": r2_score(y_true, y_pred),
        "rounded_macro_f1": rep["macro avg"]["f1-score"],
        "rounded_accuracy": rep["accuracy"],
        "rounded_classes": {k: v for k, v in rep.items() if k not in ("accuracy", "macro avg", "weighted avg")},
    }


def nan_to_none(v):
    v = float(v)
    return None if np.isnan(v) else v


def ranking_case(name, scores, labels, positive_from=None):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=float)
    out = {
        "name": name,
        "scores": scores.tolist(),
        "labels": labels.tolist(),
        "positive_from": positive_from,
        "spearman": nan_to_none(spearmanr(scores, labels).correlation),
        "kendall_tau_b": nan_to_none(kendalltau(scores, labels).correlation),
    }
    if positive_from is not None:
        y = (labels >= positive_from).astype(int)
    elif len(np.unique(labels)) == 2:
        y = (labels == labels.max()).astype(int)
    else:
        return out
    out["positives"] = int(y.sum())
    out["auc"] = roc_auc_score(y, scores)
    best, best_t = -1.0, None
    for t in np.unique(scores):
        f = f1_score(y, (scores >= t).astype(int), zero_division=0)
        if f >= best:
            best, best_t = f, t
    out["best_f1"] = best
    out["best_threshold"] = float(best_t)
    return out


rng = np.random.default_rng(20240611)
cases = {"regression": [], "ranking": []}

# FineWeb-Edu-like scores: integer labels 0-5 with a skew, predictions
# noisy and sometimes outside the range.
labels = rng.choice(6, size=400, p=[0.3, 0.3, 0.2, 0.1, 0.07, 0.03]).astype(float)
preds = labels + rng.normal(0, 0.9, size=400) - 0.2
cases["regression"].append(regression_case("scores-0-5", labels, preds, 0, 5))
# Fractional labels (averaged annotations) and exact halves in both.
labels = rng.integers(0, 11, size=300) / 2.0
preds = np.round((labels + rng.normal(0, 1.0, size=300)) * 2) / 2
cases["regression"].append(regression_case("halves", labels, preds, 0, 5))
# Constant labels: R² is 0 unless the predictions are exact.
cases["regression"].append(regression_case("constant-labels", [2, 2, 2, 2], [2, 1.5, 2.5, 3], 0, 5))
cases["regression"].append(regression_case("constant-exact", [3, 3, 3], [3, 3, 3], 0, 5))

# Ranking: integer labels with many ties, scores correlated with them and
# rounded to make ties.
labels = rng.choice(6, size=500, p=[0.35, 0.3, 0.15, 0.1, 0.07, 0.03]).astype(float)
scores = np.round(labels * 0.4 + rng.normal(0, 0.8, size=500), 1)
cases["ranking"].append(ranking_case("scores-0-5-binarized-at-3", scores, labels, positive_from=3))
cases["ranking"].append(ranking_case("scores-0-5", scores, labels))
labels = rng.integers(0, 2, size=300).astype(float)
scores = rng.normal(0, 1, size=300) + labels * 0.7
cases["ranking"].append(ranking_case("binary", scores, labels))
cases["ranking"].append(ranking_case("binary-tied-scores", np.round(scores), labels))
cases["ranking"].append(ranking_case("constant-scores", [0.5] * 6, [0, 1, 0, 1, 1, 0]))

json.dump(
    {"generated_by": f"make_fixtures.py with scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}", **cases},
    sys.stdout,
)
print()

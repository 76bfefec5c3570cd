"""Regenerates internal/xgboost/testdata: models trained by the real XGBoost
(Debian's python3-xgboost 1.7.4) on the shared data sets, with XGBoost's own
predictions for the test rows. ferry's interop test compares its scores with
these predictions, never with values ferry computed.

Run through `make testdata` (from the repository root).
"""
import csv
import os

import numpy as np
import xgboost as xgb

D = "../shared/datasets"
OUT = "internal/xgboost/testdata"


def save(name, booster, x_test, test=None):
    """Saves the booster and its predictions of x_test (or of the file test)."""
    booster.save_model(os.path.join(OUT, name + ".json"))
    dm = xgb.DMatrix(test) if test else xgb.DMatrix(x_test, missing=np.nan)
    margin = booster.predict(dm, output_margin=True)
    pred = booster.predict(dm)
    with open(os.path.join(OUT, name + ".predictions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "margin", "prediction"])
        for i, (m, p) in enumerate(zip(margin, pred)):
            w.writerow([i, repr(float(m)), repr(float(p))])


def main():
    os.makedirs(OUT, exist_ok=True)
    # Binary, dense, no missing values: HIGGS (first 2,000 rows to keep the files small).
    tr = np.loadtxt(D + "/lightgbm-binary/binary.train")[:2000]
    te = np.loadtxt(D + "/lightgbm-binary/binary.test")
    b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "tree_method": "hist", "nthread": 1, "seed": 0},
                  xgb.DMatrix(tr[:, 1:], label=tr[:, 0]), 20)
    save("higgs-binary", b, te[:, 1:])

    # Regression with missing values: HIGGS's second column from the others, 10 % of values removed.
    rng = np.random.default_rng(0)
    x = tr[:, 2:].copy()
    x[rng.random(x.shape) < 0.1] = np.nan
    xt = te[:, 2:].copy()
    xt[rng.random(xt.shape) < 0.1] = np.nan
    b = xgb.train({"objective": "reg:squarederror", "max_depth": 5, "eta": 0.2, "tree_method": "hist", "nthread": 1, "seed": 0},
                  xgb.DMatrix(x, label=tr[:, 1], missing=np.nan), 20)
    save("higgs-regression", b, xt)
    with open(os.path.join(OUT, "higgs-regression.test.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x%d" % j for j in range(xt.shape[1])])
        for row in xt:
            w.writerow(["" if np.isnan(v) else repr(float(v)) for v in row])

    # Ranking, read by XGBoost's own LibSVM parser: the id is the feature index
    # (the 1-based file leaves feature 0 empty: 301 features), an absent
    # feature is missing; groups from the .query file.
    gtr = np.loadtxt(D + "/lightgbm-lambdarank/rank.train.query", dtype=int)
    for objective in ("rank:ndcg", "rank:pairwise"):
        d = xgb.DMatrix(D + "/lightgbm-lambdarank/rank.train?format=libsvm")
        d.set_group(gtr)
        b = xgb.train({"objective": objective, "max_depth": 4, "eta": 0.1, "tree_method": "hist", "nthread": 1, "seed": 0}, d, 15)
        save("rank-" + objective.split(":")[1], b, None, test=D + "/lightgbm-lambdarank/rank.test?format=libsvm")

if __name__ == "__main__":
    main()

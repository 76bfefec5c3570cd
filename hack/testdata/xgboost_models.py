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
from sklearn.datasets import load_svmlight_file

D = "../shared/datasets"
OUT = "internal/xgboost/testdata"


def save(name, booster, x_test, extra=None):
    booster.save_model(os.path.join(OUT, name + ".json"))
    margin = booster.predict(xgb.DMatrix(x_test, missing=np.nan), output_margin=True)
    pred = booster.predict(xgb.DMatrix(x_test, missing=np.nan))
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

    # Ranking, sparse LibSVM with absent features missing: rank:ndcg and rank:pairwise.
    xtr, ytr = load_svmlight_file(D + "/lightgbm-lambdarank/rank.train", n_features=300)
    xte, _ = load_svmlight_file(D + "/lightgbm-lambdarank/rank.test", n_features=300)
    gtr = np.loadtxt(D + "/lightgbm-lambdarank/rank.train.query", dtype=int)
    dense_tr, dense_te = xtr.toarray(), xte.toarray()
    dense_tr[dense_tr == 0], dense_te[dense_te == 0] = np.nan, np.nan
    for objective in ("rank:ndcg", "rank:pairwise"):
        d = xgb.DMatrix(dense_tr, label=ytr, missing=np.nan)
        d.set_group(gtr)
        b = xgb.train({"objective": objective, "max_depth": 4, "eta": 0.1, "tree_method": "hist", "nthread": 1, "seed": 0}, d, 15)
        save("rank-" + objective.split(":")[1], b, dense_te)


if __name__ == "__main__":
    main()

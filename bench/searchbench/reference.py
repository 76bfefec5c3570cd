"""XGBoost's side of ferry's search benchmark (bench/searchbench): XGBoost
1.7's defaults (Debian's python3-xgboost, hist, one thread) on the same
training rows, scored on the test rows and by 5-fold cross-validation on the
training rows; and the baseline for the search's wall time: the same number
of XGBoost trials, each 5-fold cross-validated, run one after another by this
script, with parameters drawn at random from ferry's default space.

Reads a JSON job on stdin and prints one JSON object. Run by
`go run ./bench/searchbench`, not by hand.
"""
import json
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_svmlight_file


def load(s):
    if s["kind"] == "rank":
        xtr, ytr = load_svmlight_file(s["train"], n_features=300)
        xte, yte = load_svmlight_file(s["test"], n_features=300)
        dtr = xgb.DMatrix(xtr, label=ytr)
        dtr.set_group(np.loadtxt(s["train"] + ".query", dtype=int))
        return dtr, xgb.DMatrix(xte)
    tr = np.genfromtxt(s["train"], delimiter=",", skip_header=1)
    te = np.genfromtxt(s["test"], delimiter=",", skip_header=1)
    return xgb.DMatrix(tr[:, :-1], label=tr[:, -1]), xgb.DMatrix(te[:, :-1])


def defaults(kind):
    """XGBoost's defaults for the task (eta 0.3, depth 6, 100 rounds)."""
    obj, metric = ("rank:ndcg", "ndcg@10") if kind == "rank" else ("binary:logistic", "auc")
    return {"objective": obj, "eval_metric": metric, "tree_method": "hist", "nthread": 1, "seed": 0}, metric


def cv(params, dtrain, metric, seed):
    r = xgb.cv(params, dtrain, num_boost_round=100, nfold=5, stratified=params["objective"] == "binary:logistic", seed=seed)
    mean = r["test-%s-mean" % metric]  # a DataFrame column with pandas, else a list
    return float(mean.iloc[-1] if hasattr(mean, "iloc") else mean[-1])


def main():
    job = json.load(sys.stdin)
    out = {}
    rng = np.random.default_rng(7)
    for name, s in job["sets"].items():
        dtr, dte = load(s)
        params, metric = defaults(s["kind"])
        bst = xgb.train(params, dtr, 100)
        res = {"test_scores": bst.predict(dte).tolist(), "cv": cv(params, dtr, metric, 0)}
        # The wall-time baseline: trials of 5-fold xgb.cv in sequence.
        start = time.perf_counter()
        for _ in range(job["trials"]):
            p = dict(params)
            p.update({"eta": float(np.exp(rng.uniform(np.log(0.02), np.log(0.3)))), "max_depth": int(rng.integers(3, 11)),
                      "min_child_weight": float(np.exp(rng.uniform(np.log(1e-3), np.log(10)))),
                      "subsample": float(rng.uniform(0.5, 1)), "colsample_bytree": float(rng.uniform(0.5, 1)),
                      "lambda": float(np.exp(rng.uniform(np.log(1e-3), np.log(10))))})
            cv(p, dtr, metric, 0)
        res["trials_seconds"] = time.perf_counter() - start
        out[name] = res
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

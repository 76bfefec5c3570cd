"""Reference results for ferry's training benchmark: the same splits and
parameters with Debian's XGBoost and scikit-learn, single thread.

Reads a JSON job on stdin and prints one JSON object: "results" (metrics and
seconds by data set and model) and "scores" (test-set scores of the models the
Go side compares row by row). Run by bench/trainbench (go run
./bench/trainbench), not by hand.
"""
import csv
import json
import sys
import time
import warnings

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def read_csv(path, delimiter, label, drop, header=True):
    """Numeric columns as floats (empty = NaN), string columns as integer codes
    in order of first appearance, as ferry reads them."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    names = rows[0] if header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    keep = [i for i, n in enumerate(names) if n != label and n not in drop]
    li = names.index(label)
    y = np.array([1.0 if r[li] in ("TRUE", "True", "true") else 0.0 if r[li] in ("FALSE", "False", "false") else float(r[li]) for r in body])
    cols, categorical = [], []
    for i in keep:
        vals = [r[i] for r in body]
        first = next((v for v in vals if v != ""), "0")
        try:
            float(first.replace("TRUE", "1").replace("FALSE", "0"))
            numeric = True
        except ValueError:
            numeric = False
        if numeric:
            cols.append([np.nan if v == "" else 1.0 if v in ("TRUE", "True", "true") else 0.0 if v in ("FALSE", "False", "false") else float(v) for v in vals])
            categorical.append(False)
        else:
            codes = {}
            cols.append([float(codes.setdefault(v, len(codes))) for v in vals])
            categorical.append(True)
    return np.array(cols).T, y, np.array(categorical)


def ndcg(labels, scores, groups, k):
    out, start = [], 0
    for g in groups:
        l, s = labels[start:start + g], scores[start:start + g]
        start += g
        order = np.argsort(-s, kind="stable")
        ideal = np.sort(l)[::-1]
        kk = min(k, g)
        disc = 1 / np.log2(np.arange(2, kk + 2))
        idcg = ((2 ** ideal[:kk] - 1) * disc).sum()
        if idcg > 0:
            out.append(((2 ** l[order][:kk] - 1) * disc).sum() / idcg)
    return float(np.mean(out))


def binary_metrics(y, p):
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p))}


def prep(xtr, xte, categorical):
    """ferry's prep: impute numeric with the training mean, standardise,
    one-hot the categorical codes."""
    num, cat = ~categorical, categorical
    mean = np.nanmean(xtr[:, num], axis=0)
    a, b = xtr[:, num].copy(), xte[:, num].copy()
    for j in range(a.shape[1]):
        a[np.isnan(a[:, j]), j] = mean[j]
        b[np.isnan(b[:, j]), j] = mean[j]
    sc = StandardScaler().fit(a)
    a, b = sc.transform(a), sc.transform(b)
    if cat.any():
        enc = OneHotEncoder(handle_unknown="ignore", sparse=False).fit(np.nan_to_num(xtr[:, cat], nan=-1))
        a = np.hstack([a, enc.transform(np.nan_to_num(xtr[:, cat], nan=-1))])
        b = np.hstack([b, enc.transform(np.nan_to_num(xte[:, cat], nan=-1))])
    return a, b


def timed(fn, runs=5):
    """Runs fn runs times; returns its last result and the least seconds (the
    Go side does the same)."""
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t
        best = secs if best is None else min(best, secs)
    return out, best


def main():
    job = json.load(sys.stdin)
    d = job["datasets"]
    results, scores = {}, {}

    # Learning to rank.
    xtr, ytr = load_svmlight_file(d + "/lightgbm-lambdarank/rank.train", n_features=300)
    xte, yte = load_svmlight_file(d + "/lightgbm-lambdarank/rank.test", n_features=300)
    gtr = np.loadtxt(d + "/lightgbm-lambdarank/rank.train.query", dtype=int)
    gte = np.loadtxt(d + "/lightgbm-lambdarank/rank.test.query", dtype=int)
    dtr = xgb.DMatrix(xtr, label=ytr)
    dtr.set_group(gtr)
    p = job["rank"]
    params = {"objective": "rank:ndcg", "max_depth": p["max_depth"], "eta": p["eta"], "tree_method": "hist", "nthread": 1, "seed": 0}
    bst, secs = timed(lambda: xgb.train(params, dtr, p["trees"]))
    s = bst.predict(xgb.DMatrix(xte))
    results["rank/xgboost"] = {"seconds": secs, **{"ndcg@%d" % k: ndcg(yte, s, gte, k) for k in (1, 3, 5, 10)}}
    # LightGBM's example parameters for this data set, in XGBoost's terms.
    ls = job["rank_lightgbm_set"]
    params = {"objective": "rank:ndcg", "tree_method": "hist", "grow_policy": "lossguide", "max_depth": 0,
              "max_leaves": ls["max_leaves"], "eta": ls["eta"], "min_child_weight": ls["min_hessian"],
              "subsample": ls["subsample"], "nthread": 1, "seed": 0}
    bst, secs = timed(lambda: xgb.train(params, dtr, ls["trees"]))
    s = bst.predict(xgb.DMatrix(xte))
    results["rank/xgboost-lightgbm-set"] = {"seconds": secs, **{"ndcg@%d" % k: ndcg(yte, s, gte, k) for k in (1, 3, 5, 10)}}

    # Binary tasks.
    sets = {
        "shoppers": read_csv(d + "/online-shoppers-intention/online_shoppers_intention.csv", ";", "Revenue", []),
        "higgs": None,
        "criteo": read_csv(d + "/criteo-tiny/train.tiny.csv", ",", "Label", ["Id"] + ["C%d" % i for i in range(1, 27)]),
    }
    for name, (x, y, cat) in list((k, v) for k, v in sets.items() if v is not None):
        if name == "shoppers":
            test = np.arange(len(y)) % 5 == 0
        else:
            test = np.arange(len(y)) >= 1600
        sets[name] = (x[~test], y[~test], x[test], y[test], cat)
    tr = np.loadtxt(d + "/lightgbm-binary/binary.train")
    te = np.loadtxt(d + "/lightgbm-binary/binary.test")
    sets["higgs"] = (tr[:, 1:], tr[:, 0], te[:, 1:], te[:, 0], np.zeros(tr.shape[1] - 1, dtype=bool))

    b = job["binary"]
    for name, (xa, ya, xb, yb, cat) in sets.items():
        params = {"objective": "binary:logistic", "max_depth": b["max_depth"], "eta": b["eta"], "tree_method": "hist", "nthread": 1, "seed": 0}
        bst, secs = timed(lambda: xgb.train(params, xgb.DMatrix(xa, label=ya, missing=np.nan), b["trees"]))
        results[name + "/xgboost"] = {"seconds": secs, **binary_metrics(yb, bst.predict(xgb.DMatrix(xb, missing=np.nan)))}
        # The README's reference numbers: XGBoost 1.7's default tree_method,
        # "auto", is exact greedy split enumeration on data of this size.
        params = dict(params, tree_method="exact")
        bst, secs = timed(lambda: xgb.train(params, xgb.DMatrix(xa, label=ya, missing=np.nan), b["trees"]))
        p = bst.predict(xgb.DMatrix(xb, missing=np.nan))
        results[name + "/xgboost-exact"] = {"seconds": secs, **binary_metrics(yb, p)}
        # Five folds of the training rows, by row index modulo 5 as the Go
        # side cuts them: quality without the test rows.
        fold = np.arange(len(ya)) % 5
        results[name + "/xgboost-exact"]["cv_auc"] = float(np.mean([roc_auc_score(ya[fold == k], xgb.train(
            params, xgb.DMatrix(xa[fold != k], label=ya[fold != k], missing=np.nan), b["trees"]).predict(
            xgb.DMatrix(xa[fold == k], missing=np.nan))) for k in range(5)]))
        scores[name + "/xgboost-exact"] = p.astype(float).tolist()
        # XGBoost's defaults (eta 0.3, depth 6) at 100 rounds, its scikit-learn API's default.
        params = {"objective": "binary:logistic", "tree_method": "hist", "nthread": 1, "seed": 0}
        bst, secs = timed(lambda: xgb.train(params, xgb.DMatrix(xa, label=ya, missing=np.nan), 100))
        results[name + "/xgboost-defaults"] = {"seconds": secs, **binary_metrics(yb, bst.predict(xgb.DMatrix(xb, missing=np.nan)))}
        pa, pb = prep(xa, xb, cat)
        lr, secs = timed(lambda: LogisticRegression(C=1.0, max_iter=1000).fit(pa, ya))
        results[name + "/sklearn-logistic"] = {"seconds": secs, **binary_metrics(yb, lr.predict_proba(pb)[:, 1])}
        mlp, secs = timed(lambda: MLPClassifier(hidden_layer_sizes=(64, 32), early_stopping=True, max_iter=200, random_state=1).fit(pa, ya))
        results[name + "/sklearn-mlp"] = {"seconds": secs, **binary_metrics(yb, mlp.predict_proba(pb)[:, 1])}
        # The same network for exactly 30 epochs (no early stopping: n_iter_no_change covers every epoch), as
        # the Go side trains it: the per-epoch cost of the two trainers.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp, secs = timed(lambda: MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=30, n_iter_no_change=30, random_state=1).fit(pa, ya))
        results[name + "/sklearn-mlp-30-epochs"] = {"seconds": secs, **binary_metrics(yb, mlp.predict_proba(pb)[:, 1])}

    json.dump({"results": results, "scores": scores}, sys.stdout)


if __name__ == "__main__":
    main()

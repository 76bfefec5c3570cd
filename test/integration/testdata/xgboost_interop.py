"""Trains models with Debian's XGBoost (1.7.4) on the shared data sets, the
way XGBoost users feed it, and writes XGBoost's own predictions for the test
rows; ferry's integration test then imports each model and compares.

    python3 xgboost_interop.py DATASETS OUT

Writes, under OUT, for each case NAME: NAME.json (the booster),
NAME.train and NAME.test (the data as ferry will read it), NAME.pred (one
XGBoost prediction per test row, repr of the float32) and, for the numeric
cases, NAME.contribs (pred_contribs of the first 200 test rows).
"""
import csv
import os
import sys

import numpy as np
import xgboost as xgb

D, OUT = sys.argv[1], sys.argv[2]


def save(name, booster, test, contribs=False):
    booster.save_model(os.path.join(OUT, name + ".json"))
    with open(os.path.join(OUT, name + ".pred"), "w") as f:
        for p in booster.predict(test):
            f.write(repr(float(p)) + "\n")
    if contribs:
        # SHAP values by XGBoost's own TreeSHAP, the first 200 test rows:
        # one line per row, the features then the bias.
        with open(os.path.join(OUT, name + ".contribs"), "w") as f:
            for row in booster.predict(test, pred_contribs=True)[:200]:
                f.write(" ".join(repr(float(v)) for v in row) + "\n")


def with_qid(src, query, dst):
    """Copies a LibSVM file, putting each row's query id (from LightGBM's
    .query sizes) after its label, as qid:N."""
    sizes = [int(s) for s in open(query).read().split()]
    qids = [q for q, n in enumerate(sizes) for _ in range(n)]
    with open(src) as f, open(dst, "w") as out:
        for qid, line in zip(qids, f):
            label, rest = line.split(None, 1)
            out.write("%s qid:%d %s" % (label, qid, rest))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if isinstance(v, float) and np.isnan(v) else repr(float(v)) for v in r])


def main():
    os.makedirs(OUT, exist_ok=True)
    p = {"tree_method": "hist", "nthread": 1, "seed": 0, "max_depth": 5, "eta": 0.2}

    # 1. LibSVM, 1-based ids, qid: read by XGBoost's own parser (the id is the
    #    feature index: 301 features, feature 0 empty; absent is missing).
    rank = D + "/lightgbm-lambdarank/"
    for part in ("train", "test"):
        with_qid(rank + "rank." + part, rank + "rank." + part + ".query", os.path.join(OUT, "rank-qid." + part))
    dtrain = xgb.DMatrix(os.path.join(OUT, "rank-qid.train") + "?format=libsvm")
    dtest = xgb.DMatrix(os.path.join(OUT, "rank-qid.test") + "?format=libsvm")
    b = xgb.train(dict(p, objective="rank:ndcg"), dtrain, 30)
    save("rank-qid", b, dtest, contribs=True)

    # 2. CSV with missing values (empty fields): HIGGS with 15 % of the values removed.
    rng = np.random.default_rng(1)
    tr = np.loadtxt(D + "/lightgbm-binary/binary.train")
    te = np.loadtxt(D + "/lightgbm-binary/binary.test")
    header = ["clicked"] + ["x%d" % j for j in range(1, tr.shape[1])]
    for part, a in (("train", tr), ("test", te)):
        a = a.copy()
        a[:, 1:][rng.random(a[:, 1:].shape) < 0.15] = np.nan
        write_csv(os.path.join(OUT, "higgs-missing." + part), header, a)
    load = lambda part: np.genfromtxt(os.path.join(OUT, "higgs-missing." + part), delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
    a, t = load("train"), load("test")
    b = xgb.train(dict(p, objective="binary:logistic"), xgb.DMatrix(a[:, 1:], label=a[:, 0], missing=np.nan), 40)
    save("higgs-missing", b, xgb.DMatrix(t[:, 1:], missing=np.nan), contribs=True)

    # 3. Categorical features (XGBoost's own, enable_categorical): online
    #    shoppers with Month, VisitorType, OperatingSystems, Browser, Region and
    #    TrafficType as integer codes; test rows every 5th, plus rows with
    #    categories XGBoost calls invalid (negative, fractional, huge) or never saw.
    with open(D + "/online-shoppers-intention/online_shoppers_intention.csv") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    cats = ["Month", "VisitorType", "OperatingSystems", "Browser", "Region", "TrafficType"]
    codes = {c: {} for c in cats}
    names = [k for k in rows[0] if k not in ("Revenue",)]
    def encode(r):
        out = []
        for k in names:
            v = r[k]
            if k in cats:
                out.append(float(codes[k].setdefault(v, len(codes[k]))))
            elif v in ("TRUE", "FALSE"):
                out.append(1.0 if v == "TRUE" else 0.0)
            else:
                out.append(float(v))
        return out
    x = np.array([encode(r) for r in rows])
    y = np.array([1.0 if r["Revenue"] == "TRUE" else 0.0 for r in rows])
    test = np.arange(len(rows)) % 5 == 0
    xt = x[test].copy()
    odd = xt[:8].copy()
    month = names.index("Month")
    odd[:, month] = [-1, -0.5, 2.7, 1e9, 50, np.nan, 0, 3]
    xt = np.vstack([xt, odd])
    ft = ["c" if k in cats else "q" for k in names]
    write_csv(os.path.join(OUT, "shoppers-cat.train"), ["Revenue"] + names, np.column_stack([y[~test], x[~test]]))
    write_csv(os.path.join(OUT, "shoppers-cat.test"), ["Revenue"] + names, np.column_stack([np.zeros(len(xt)), xt]))
    b = xgb.train(dict(p, objective="binary:logistic", max_cat_to_onehot=1), xgb.DMatrix(x[~test], label=y[~test], feature_types=ft, enable_categorical=True), 40)
    save("shoppers-cat", b, xgb.DMatrix(xt, feature_types=ft, enable_categorical=True))


if __name__ == "__main__":
    main()

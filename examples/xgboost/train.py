"""Train an XGBoost click or purchase model the way ferry's train action runs
your code: read the data ferry names in FERRY_DATA_TRAIN (and
FERRY_DATA_VALID), train, and write the booster and metrics.json to
FERRY_OUTPUT. ferry finds the booster, checks it, and makes it a model
directory that `ferry predict`, evaluation and ferry-serve score natively.

    ferry train --trainer command --run 'python3 examples/xgboost/train.py' \\
        --data train.csv --valid valid.csv --label clicked --out model/

The data is a CSV with a header; FERRY_LABEL names the label column (TRUE/FALSE
or 0/1). String columns are not handled here: encode them first. On a GPU
runner, XGBoost uses the GPU that ferry's preflight picked
(CUDA_VISIBLE_DEVICES) when FERRY_XGBOOST_DEVICE=cuda.
"""
import csv
import json
import os
import sys

import numpy as np
import xgboost as xgb


def read(path, label):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=sniff(path)))
    header, body = rows[0], rows[1:]
    li = header.index(label)
    y = np.array([1.0 if r[li] in ("TRUE", "True", "true", "1") else 0.0 for r in body])
    x = np.array([[np.nan if v == "" else float(v) for i, v in enumerate(r) if i != li] for r in body])
    return x, y


def sniff(path):
    with open(path) as f:
        line = f.readline()
    return max(",;\t|", key=line.count)


def main():
    out = os.environ["FERRY_OUTPUT"]
    label = os.environ.get("FERRY_LABEL", "label")
    x, y = read(os.environ["FERRY_DATA_TRAIN"], label)
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan)
    evals = [(dtrain, "train")]
    if os.environ.get("FERRY_DATA_VALID"):
        xv, yv = read(os.environ["FERRY_DATA_VALID"], label)
        evals.append((xgb.DMatrix(xv, label=yv, missing=np.nan), "valid"))
    # In a search (ferry train --search), each trial's values of ferry.yaml's
    # train.search.space arrive as FERRY_PARAM_<NAME>.
    param = lambda name, default: os.environ.get("FERRY_PARAM_" + name, default)
    params = {
        "objective": "binary:logistic",
        "eval_metric": ["auc", "logloss"],
        "max_depth": int(param("MAX_DEPTH", "4")),
        "eta": float(param("LEARNING_RATE", "0.1")),
        "min_child_weight": float(param("MIN_CHILD_WEIGHT", "1")),
        "tree_method": "hist",
        "seed": int(os.environ.get("FERRY_SEED", "0")),
        "nthread": 1,
    }
    if os.environ.get("FERRY_XGBOOST_DEVICE") == "cuda":
        params["tree_method"] = "gpu_hist"
    history = {}
    booster = xgb.train(params, dtrain, num_boost_round=int(param("TREES", os.environ.get("TREES", "50"))), evals=evals,
                        evals_result=history, verbose_eval=10)
    booster.save_model(os.path.join(out, "booster.json"))
    metrics = {split: {name: values[-1] for name, values in m.items()} for split, m in history.items()}
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    print("wrote", os.path.join(out, "booster.json"), file=sys.stderr)


if __name__ == "__main__":
    main()

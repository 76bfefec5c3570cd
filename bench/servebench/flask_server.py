"""The reference model server of ferry's serving benchmark: Flask with a
scikit-learn model of the same type as ferry's (HistGradientBoostingClassifier
for gbdt, MLPClassifier for mlp), trained on the same rows, answering the same
Open Inference Protocol request shape ([rows, features] FP64 tensor).

    python3 flask_server.py gbdt|mlp TRAIN.csv PORT
"""
import csv
import sys

import numpy as np
from flask import Flask, jsonify, request
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    kind, path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    x = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    y = np.array([float(r[-1]) for r in rows[1:]])
    if kind == "gbdt":
        model = HistGradientBoostingClassifier(max_iter=100, max_depth=6, learning_rate=0.1, early_stopping=False).fit(x, y)
    else:
        model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=50, random_state=1)).fit(x, y)
    app = Flask(__name__)

    @app.post("/v2/models/m/infer")
    def infer():
        t = request.get_json()["inputs"][0]
        data = np.asarray(t["data"], dtype=np.float64).reshape(t["shape"])
        p = model.predict_proba(data)[:, 1]
        return jsonify({"model_name": "m", "outputs": [{"name": "score", "shape": [len(p), 1], "datatype": "FP64", "data": p.tolist()}]})

    @app.get("/v2/health/ready")
    def ready():
        return jsonify({"ready": True})

    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main()

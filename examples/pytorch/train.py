"""Train a click or purchase MLP with PyTorch the way ferry's train action runs
your code, on the GPU when one is visible and on the CPU otherwise, and export
it to ONNX for ferry to score natively (no Python at serving time).

    ferry train --trainer command --run 'python3 examples/pytorch/train.py' \\
        --data train.csv --valid valid.csv --label clicked --gpus 1 --out model/

Reads FERRY_DATA_TRAIN (and FERRY_DATA_VALID) as CSV with a header and numeric
columns (FERRY_LABEL names the label, TRUE/FALSE or 0/1); writes model.onnx and
metrics.json to FERRY_OUTPUT. The network takes the raw feature values in file
order as one float32 input of shape [rows, features]: standardisation is part
of the exported graph, so ferry feeds the values as they are in the data.
The export uses torch.onnx's default opset: ferry scores opsets 13 to 18.
"""
import csv
import json
import os

import numpy as np
import torch
from torch import nn


def read(path, label):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=max(",;\t|", key=open(path).readline().count)))
    header, body = rows[0], rows[1:]
    li = header.index(label)
    y = np.array([1.0 if r[li] in ("TRUE", "True", "true", "1") else 0.0 for r in body], dtype=np.float32)
    x = np.array([[float(v) for i, v in enumerate(r) if i != li] for r in body], dtype=np.float32)
    return x, y


class ClickMLP(nn.Module):
    """Standardise, two ReLU layers with dropout, a sigmoid head."""

    def __init__(self, mean, std, hidden=(64, 32), dropout=0.1):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        layers, width = [], len(mean)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def auc(y, p):
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def main():
    out = os.environ["FERRY_OUTPUT"]
    label = os.environ.get("FERRY_LABEL", "label")
    torch.manual_seed(int(os.environ.get("FERRY_SEED", "1")))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print("training on", device, torch.cuda.get_device_name(0) if device == "cuda" else "")
    x, y = read(os.environ["FERRY_DATA_TRAIN"], label)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = ClickMLP(mean, std).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCELoss()
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)
    epochs = int(os.environ.get("EPOCHS", "20"))
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), device=device)
        total = 0.0
        for i in range(0, len(xt), 256):
            idx = perm[i:i + 256]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(xt):.5f}", flush=True)
    model.eval()
    metrics = {}
    with torch.no_grad():
        metrics["train"] = {"auc": auc(y, model(xt).squeeze(1).cpu().numpy())}
        if os.environ.get("FERRY_DATA_VALID"):
            xv, yv = read(os.environ["FERRY_DATA_VALID"], label)
            metrics["valid"] = {"auc": auc(yv, model(torch.tensor(xv, device=device)).squeeze(1).cpu().numpy())}
    model = model.cpu()
    torch.onnx.export(model, torch.zeros(1, x.shape[1]), os.path.join(out, "model.onnx"),
                      input_names=["features"], output_names=["score"],
                      dynamic_axes={"features": {0: "rows"}, "score": {0: "rows"}})
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f)


if __name__ == "__main__":
    main()

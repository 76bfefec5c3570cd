"""Regenerates internal/onnx/testdata: networks trained by the real PyTorch
(Debian's python3-torch 1.13), exported to ONNX by torch.onnx (opset 13, and the ranker at 13, 14 and 17), with
PyTorch's own predictions for the test rows. ferry's interop test compares
its scores with these predictions, never with values ferry computed.

Run through `make testdata` (from the repository root).
"""
import csv
import importlib.util
import os

import numpy as np
import torch
from torch import nn

D = "../shared/datasets"
OUT = "internal/onnx/testdata"

spec = importlib.util.spec_from_file_location("example", "examples/pytorch/train.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


def write_predictions(name, preds):
    with open(os.path.join(OUT, name + ".predictions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "prediction"])
        for i, p in enumerate(preds):
            w.writerow([i, repr(float(p))])


def train(model, inputs, y, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.BCELoss()(model(*inputs).reshape(-1), y)
        loss.backward()
        opt.step()
    model.eval()


class ShopperNet(nn.Module):
    """Two numeric inputs and a month embedding (Gather), concatenated."""

    def __init__(self, months):
        super().__init__()
        self.month = nn.Embedding(months, 4)
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())

    def forward(self, PageValues, ExitRates, Month):
        x = torch.cat([PageValues / 50, ExitRates * 10, self.month(Month)], dim=1)
        return self.net(x)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # An MLP with one float input, as examples/pytorch/train.py exports it.
    tr = np.loadtxt(D + "/lightgbm-binary/binary.train")[:2000].astype(np.float32)
    te = np.loadtxt(D + "/lightgbm-binary/binary.test").astype(np.float32)
    mlp = example.ClickMLP(tr[:, 1:].mean(axis=0), tr[:, 1:].std(axis=0) + 1e-6)
    train(mlp, [torch.tensor(tr[:, 1:])], torch.tensor(tr[:, 0]), 60)
    torch.onnx.export(mlp, torch.zeros(1, 28), os.path.join(OUT, "higgs-mlp.onnx"), opset_version=13,
                      input_names=["features"], output_names=["score"],
                      dynamic_axes={"features": {0: "rows"}, "score": {0: "rows"}})
    with torch.no_grad():
        write_predictions("higgs-mlp", mlp(torch.tensor(te[:, 1:])).reshape(-1).numpy())

    # A network with an embedding: one input per feature, named after it.
    with open(D + "/online-shoppers-intention/online_shoppers_intention.csv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    months = {}
    for r in rows:
        months.setdefault(r["Month"], len(months))  # ferry's category order: first appearance
    pv = torch.tensor([[float(r["PageValues"])] for r in rows])
    er = torch.tensor([[float(r["ExitRates"])] for r in rows])
    mo = torch.tensor([months[r["Month"]] for r in rows], dtype=torch.int64)
    y = torch.tensor([1.0 if r["Revenue"] == "TRUE" else 0.0 for r in rows])
    net = ShopperNet(len(months))
    train(net, [pv, er, mo], y, 150)
    torch.onnx.export(net, (pv[:2], er[:2], mo[:2]), os.path.join(OUT, "shoppers-embedding.onnx"), opset_version=13,
                      input_names=["PageValues", "ExitRates", "Month"], output_names=["score"],
                      dynamic_axes={"PageValues": {0: "rows"}, "ExitRates": {0: "rows"}, "Month": {0: "rows"}, "score": {0: "rows"}})
    with torch.no_grad():
        write_predictions("shoppers-embedding", net(pv[:500], er[:500], mo[:500]).reshape(-1).numpy())

    # A DLRM-style ranker (embeddings, a dense tower, pairwise dot-product
    # interactions, LayerNorm, GELU, Softmax attention over the fields),
    # exported at each opset PyTorch 1.13 writes by default or on request:
    # 13, 14 (its default) and 17 (LayerNormalization as one operator).
    visitors = {}
    for r in rows:
        visitors.setdefault(r["VisitorType"], len(visitors))
    dense_names = ["Administrative", "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues"]
    dense = torch.tensor([[float(r[c]) for c in dense_names] for r in rows])
    vt = torch.tensor([visitors[r["VisitorType"]] for r in rows], dtype=torch.int64)
    torch.manual_seed(1)
    ranker = Ranker(dense.mean(dim=0), dense.std(dim=0) + 1e-6, len(months), len(visitors))
    train(ranker, [dense, mo, vt], y, 120)
    for opset in (13, 14, 17):
        torch.onnx.export(ranker, (dense[:2], mo[:2], vt[:2]), os.path.join(OUT, "shoppers-ranker-opset%d.onnx" % opset),
                          opset_version=opset, input_names=["dense", "Month", "VisitorType"], output_names=["score"],
                          dynamic_axes={"dense": {0: "rows"}, "Month": {0: "rows"}, "VisitorType": {0: "rows"}, "score": {0: "rows"}})
    with torch.no_grad():
        write_predictions("shoppers-ranker", ranker(dense[:500], mo[:500], vt[:500]).reshape(-1).numpy())

    # An operator ferry does not implement (Conv), to check the load-time error.
    torch.onnx.export(ConvNet(), torch.ones(1, 1, 8), os.path.join(OUT, "unsupported-conv.onnx"), opset_version=14,
                      input_names=["features"], output_names=["score"])


class Ranker(nn.Module):
    """Dense features standardised in the graph, two embeddings, a dense tower to the embeddings' width,
    the pairwise dot products of the three field vectors (batched MatMul), softmax attention over the
    fields, LayerNorm and GELU in the top tower."""

    def __init__(self, mean, std, months, visitors, d=8):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.month = nn.Embedding(months, d)
        self.visitor = nn.Embedding(visitors, d)
        self.bottom = nn.Sequential(nn.Linear(mean.shape[0], 16), nn.ReLU(), nn.Linear(16, d))
        self.attn = nn.Linear(d, 1)
        self.top = nn.Sequential(nn.Linear(3 + d, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 1))

    def forward(self, dense, month, visitor):
        x = self.bottom((dense - self.mean) / self.std)
        fields = torch.stack([x, self.month(month), self.visitor(visitor)], dim=1)  # [rows, 3, d]
        inter = torch.bmm(fields, fields.transpose(1, 2))  # [rows, 3, 3]
        i, j = torch.triu_indices(3, 3, offset=1)
        pairs = inter[:, i, j]  # [rows, 3]
        w = torch.softmax(self.attn(fields).squeeze(-1), dim=1)  # [rows, 3]
        pooled = (fields * w.unsqueeze(-1)).sum(dim=1)  # [rows, d]
        return torch.sigmoid(self.top(torch.cat([pairs, pooled], dim=1)))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3)

    def forward(self, x):
        return self.conv(x).sum(dim=2)


if __name__ == "__main__":
    main()

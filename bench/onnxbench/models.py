"""Writes the PyTorch networks onnxbench serves, exported by torch.onnx
(opset 14, rows as a dynamic axis), each with a small CSV of its features
(the schema `ferry model import` binds the network to).

  /usr/bin/python3 bench/onnxbench/models.py OUT_DIR

The weights are PyTorch's initial ones (seeded): serving speed does not
depend on their values, and the bench checks ferry-serve's answers against
ONNX Runtime's on the same request before it measures anything.
"""
import csv
import os
import sys

import torch
from torch import nn

torch.manual_seed(7)


def mlp(sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers[-1] = nn.Sigmoid()
    return nn.Sequential(*layers)


class TwoTower(nn.Module):
    """Retrieval scoring: a user tower (a 1M x 64 id embedding and 8 context
    features) and an item tower (a 200k x 64 id embedding), their dot
    product through a sigmoid."""

    def __init__(self, users=1_000_000, items=200_000, d=64, context=8):
        super().__init__()
        self.user = nn.Embedding(users, d)
        self.item = nn.Embedding(items, d)
        self.user_tower = nn.Sequential(nn.Linear(d + context, 128), nn.ReLU(), nn.Linear(128, d))
        self.item_tower = nn.Sequential(nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, d))

    def forward(self, user_id, item_id, context):
        u = self.user_tower(torch.cat([self.user(user_id), context], dim=1))
        i = self.item_tower(self.item(item_id))
        return torch.sigmoid((u * i).sum(dim=1, keepdim=True))


class DLRM(nn.Module):
    """A DLRM-style ranker (Naumov et al. 2019) at Criteo's shape: 13 dense
    features through a bottom MLP, 8 categorical ids through 100k x 16
    tables, the pairwise dot products of the 9 vectors, a top MLP."""

    def __init__(self, dense=13, tables=8, rows=100_000, d=16):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(rows, d) for _ in range(tables))
        self.bottom = nn.Sequential(nn.Linear(dense, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, d), nn.ReLU())
        n = tables + 1
        self.i, self.j = torch.triu_indices(n, n, offset=1)
        self.top = mlp([d + n * (n - 1) // 2, 512, 256, 1])

    def forward(self, dense, *ids):
        x = self.bottom(dense)
        fields = torch.stack([x] + [t(c) for t, c in zip(self.tables, ids)], dim=1)
        inter = torch.bmm(fields, fields.transpose(1, 2))[:, self.i, self.j]
        return self.top(torch.cat([x, inter], dim=1))


def export(out, name, net, args, inputs, columns, rows):
    net.eval()
    axes = {n: {0: "rows"} for n in inputs + ["score"]}
    torch.onnx.export(net, args, os.path.join(out, name + ".onnx"), opset_version=14,
                      input_names=inputs, output_names=["score"], dynamic_axes=axes)
    with open(os.path.join(out, name + ".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns + ["y"])
        for r in range(len(rows[0])):
            w.writerow([c[r] for c in rows] + [r % 2])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 64  # rows of the schema CSV
    for name, sizes in [("mlp-64", [64, 256, 128, 64, 1]), ("mlp-256", [256, 1024, 512, 256, 1])]:
        x = torch.randn(n, sizes[0])
        export(out, name, mlp(sizes), (x,), ["features"], ["f%d" % k for k in range(sizes[0])],
               [x[:, k].tolist() for k in range(sizes[0])])
    users, items = torch.randint(0, 1_000_000, (n,)), torch.randint(0, 200_000, (n,))
    ctx = torch.randn(n, 8)
    export(out, "two-tower", TwoTower(), (users, items, ctx), ["user_id", "item_id", "context"],
           ["user_id", "item_id"] + ["c%d" % k for k in range(8)],
           [users.tolist(), items.tolist()] + [ctx[:, k].tolist() for k in range(8)])
    dense, ids = torch.randn(n, 13), [torch.randint(0, 100_000, (n,)) for _ in range(8)]
    export(out, "dlrm", DLRM(), (dense, *ids), ["dense"] + ["cat%d" % k for k in range(8)],
           ["cat%d" % k for k in range(8)] + ["d%d" % k for k in range(13)],
           [c.tolist() for c in ids] + [dense[:, k].tolist() for k in range(13)])


if __name__ == "__main__":
    main()

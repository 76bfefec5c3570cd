"""scikit-learn's MLP on HIGGS over seeds, without the test rows: the
training rows with index % 5 == 4 held out, the same network as ferry's
(64, 32), exactly 30 epochs. Prints each seed's hold-out AUC. The ferry side
is the loop in BENCHMARKS.md ("MLP training on the product kernel")."""
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

tr = np.loadtxt(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/lightgbm-binary/binary.train")
x, y = tr[:, 1:], tr[:, 0]
hold = np.arange(len(y)) % 5 == 4
sc = StandardScaler().fit(x[~hold])
a, b = sc.transform(x[~hold]), sc.transform(x[hold])
for s in range(1, 11):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=30, n_iter_no_change=30, random_state=s).fit(a, y[~hold])
    print(s, round(roc_auc_score(y[hold], m.predict_proba(b)[:, 1]), 4), flush=True)

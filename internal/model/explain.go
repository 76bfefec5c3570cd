package model

import (
	"math"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/explain"
)

// importanceWork bounds the TreeSHAP work of one Importance (in
// explain.Cost units, about a second on one core): a large ensemble is
// explained on fewer rows, never under minImportanceRows.
const (
	importanceWork    = 2e8
	minImportanceRows = 100
)

// Sampling's bounds for models without trees: permutations per row, the
// background rows features not yet joined take their values from, the
// hybrid rows one Importance scores in all, and those rows times the
// model's weights (its payload's bytes over 4, a float32 each: about the
// multiply-adds a row costs), so that a wide network or a wide schema is
// explained on fewer rows, never under minSampledRows.
const (
	samplingPerms      = 16
	samplingBackground = 100
	samplingWork       = 4e5
	samplingWeightWork = 2e10
	minSampledRows     = 50
)

// Importance returns each feature's mean |SHAP| value on up to maxRows
// rows of d (read with the model's schema), spread over the file, in the
// model's output units before the link (log-odds for a binary model): by
// TreeSHAP, exactly, for tree models (ferry's, XGBoost's, LightGBM's);
// estimated by permutation sampling (explain.Sampled, 16 permutations a
// row, against 100 of d's rows as the background) for any other model
// (MLP, logistic, ONNX). Large models get fewer rows, so the cost stays
// near a second.
func (m *Model) Importance(d *data.Dataset, maxRows int) []float64 {
	ex, ok := m.Predictor.(interface{ ShapTrees() []explain.Tree })
	if !ok || ex.ShapTrees() == nil {
		return m.sampledImportance(d, maxRows)
	}
	trees := ex.ShapTrees()
	n := min(d.Rows, maxRows, max(minImportanceRows, int(importanceWork/max(explain.Cost(trees), 1))))
	rows := make([][]float64, n)
	for i, r := range spread(d.Rows, n) {
		row := make([]float64, len(d.Columns))
		for j, c := range d.Columns {
			row[j] = float64(c.Values[r])
		}
		rows[i] = row
	}
	return explain.MeanAbs(trees, rows, len(d.Columns))
}

// spread picks n of rows row indices evenly over the file, not its first
// rows.
func spread(rows, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i * rows / max(n, 1)
	}
	return out
}

// sampledImportance is Importance for a model ferry can only score.
func (m *Model) sampledImportance(d *data.Dataset, maxRows int) []float64 {
	if d.Rows == 0 || len(d.Columns) == 0 {
		return nil
	}
	nf := len(d.Columns)
	hybrids := min(samplingWork, samplingWeightWork/max(1, float64(m.PayloadBytes)/4))
	n := min(d.Rows, maxRows, max(minSampledRows, int(hybrids/float64(samplingPerms*(nf+1)))))
	pick := func(idx []int) [][]float32 {
		out := make([][]float32, len(idx))
		for i, r := range idx {
			out[i] = make([]float32, nf)
			for j, c := range d.Columns {
				out[i][j] = c.Values[r]
			}
		}
		return out
	}
	rows := pick(spread(d.Rows, n))
	background := pick(spread(d.Rows, min(d.Rows, samplingBackground)))
	return explain.SampledMeanAbs(m.marginScore(d), rows, background, samplingPerms, 1)
}

// marginScore scores row-major rows with the model, laid out as d's
// columns, in margin units: a binary model's probability as its log-odds.
func (m *Model) marginScore(d *data.Dataset) explain.Score {
	return func(rows [][]float32) []float64 {
		ds := &data.Dataset{Rows: len(rows), Columns: make([]data.Column, len(d.Columns))}
		for j, c := range d.Columns {
			vals := make([]float32, len(rows))
			for i, r := range rows {
				vals[i] = r[j]
			}
			ds.Columns[j] = data.Column{Name: c.Name, Categorical: c.Categorical, Categories: c.Categories, Values: vals}
		}
		scores := m.PredictDataset(ds)
		if m.Manifest.Task == TaskBinary {
			for i, p := range scores {
				p = min(max(p, 1e-12), 1-1e-12)
				scores[i] = math.Log(p / (1 - p))
			}
		}
		return scores
	}
}

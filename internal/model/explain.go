package model

import (
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

// Importance returns each feature's mean |SHAP| value on up to maxRows
// rows of d (read with the model's schema), spread over the file, in the
// model's output units before the link (log-odds for a binary model), by
// TreeSHAP; nil when the model's format has no TreeSHAP here (ferry's
// trees and XGBoost's have). A large ensemble gets fewer rows (at least
// 100), so the cost stays near a second.
func (m *Model) Importance(d *data.Dataset, maxRows int) []float64 {
	ex, ok := m.Predictor.(interface{ ShapTrees() []explain.Tree })
	if !ok {
		return nil
	}
	trees := ex.ShapTrees()
	if trees == nil {
		return nil
	}
	n := min(d.Rows, maxRows, max(minImportanceRows, int(importanceWork/max(explain.Cost(trees), 1))))
	rows := make([][]float64, n)
	for i := range rows {
		// Spread over the file, not its first rows.
		r := i * d.Rows / max(n, 1)
		row := make([]float64, len(d.Columns))
		for j, c := range d.Columns {
			row[j] = float64(c.Values[r])
		}
		rows[i] = row
	}
	return explain.MeanAbs(trees, rows, len(d.Columns))
}

package data

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// predRow is a row of a Parquet predictions file: the CSV's columns, with
// group and label null when the data had none.
type predRow struct {
	Row   int64    `parquet:"row"`
	Group *string  `parquet:"group,optional"`
	Label *float64 `parquet:"label,optional"`
	Score float64  `parquet:"score"`
}

// WritePredictionsFor writes the predictions in the format the output's
// name says: Parquet (Zstd) for .parquet and .pq, else the CSV of
// WritePredictions.
func WritePredictionsFor(name string, w io.Writer, d *Dataset, scores []float64) error {
	if f, _ := FormatOf(name); f != Parquet {
		return WritePredictions(w, d, scores)
	}
	pw := parquet.NewGenericWriter[predRow](w, parquet.Compression(&parquet.Zstd))
	batch := make([]predRow, 0, 4096)
	flush := func() error {
		_, err := pw.Write(batch)
		batch = batch[:0]
		return err
	}
	for i, s := range scores {
		r := predRow{Row: int64(i), Score: s}
		if d.Group != nil {
			r.Group = &d.GroupKeys[d.Group[i]]
		}
		if d.Label != nil {
			r.Label = &d.Label[i]
		}
		if batch = append(batch, r); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

// readParquetPredictions is ReadPredictions for a Parquet file: the named
// columns, read as Read reads data (the label and the score must be
// there; the group only when named and present).
func readParquetPredictions(ctx context.Context, path, labelCol, scoreCol, groupCol, weightCol string) (*Predictions, error) {
	d, err := Read(ctx, path, Options{Format: Parquet, Label: labelCol, Group: groupCol, Optional: true})
	if err != nil {
		return nil, err
	}
	if d.Label == nil {
		return nil, &Error{Path: path, Column: labelCol, Msg: "no such column: the predictions need their labels"}
	}
	col := func(name string) []float64 {
		i := slices.IndexFunc(d.Columns, func(c Column) bool { return c.Name == name && !c.Categorical })
		if i < 0 {
			return nil
		}
		out := make([]float64, d.Rows)
		for r, v := range d.Columns[i].Values {
			out[r] = float64(v)
		}
		return out
	}
	p := &Predictions{Labels: d.Label, Scores: col(scoreCol)}
	if p.Scores == nil {
		return nil, &Error{Path: path, Column: scoreCol, Msg: "no numeric column of scores by this name"}
	}
	for r, s := range p.Scores {
		if math.IsNaN(s) {
			return nil, &Error{Path: path, Column: scoreCol, Msg: fmt.Sprintf("row %d has no score", r+1)}
		}
	}
	if weightCol != "" {
		if p.Weights = col(weightCol); p.Weights == nil {
			return nil, &Error{Path: path, Column: weightCol, Msg: "no numeric column of weights by this name"}
		}
	}
	if d.Group != nil && !(len(d.GroupKeys) == 1 && d.GroupKeys[0] == "") { // all null: no groups, as an empty CSV column
		byKey := make([][]int, len(d.GroupKeys))
		for r, g := range d.Group {
			byKey[g] = append(byKey[g], r)
		}
		p.Groups = byKey
	}
	return p, nil
}

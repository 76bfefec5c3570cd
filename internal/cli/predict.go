package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
)

// runPredict is `ferry predict`: it scores a data file and writes
// row,group,label,score.
func runPredict(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	dir := in.String("model")
	path := in.String("data")
	out := in.String("out")
	read, rerr := readOptions(in)
	if err := in.Err(); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if path == "" {
		return nil, &input.Error{Param: in.Describe("data"), Missing: true, Want: "the data file to score"}
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	d, err := m.ReadData(ctx, path, read)
	if err != nil {
		return nil, err
	}
	scores := m.PredictDataset(d)
	write := func(w io.Writer) error { return data.WritePredictionsFor(out, w, d, scores) }
	if out == "-" {
		return nil, write(env.Stdout)
	}
	if err := data.WriteFileAtomic(out, write); err != nil {
		return nil, fmt.Errorf("write predictions: %w", err)
	}
	fmt.Fprintf(env.Stderr, "ferry predict: %d rows scored with %s, written to %s\n", d.Rows, dir, out)
	return &Result{}, nil
}

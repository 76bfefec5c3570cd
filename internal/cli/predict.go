package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

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
	d, err := m.ReadData(path, read)
	if err != nil {
		return nil, err
	}
	scores := m.PredictDataset(d)
	write := func(w io.Writer) error { return writePredictions(w, d, scores) }
	if out == "-" {
		return nil, write(env.Stdout)
	}
	if err := data.WriteFileAtomic(out, write); err != nil {
		return nil, fmt.Errorf("write predictions: %w", err)
	}
	fmt.Fprintf(env.Stderr, "ferry predict: %d rows scored with %s, written to %s\n", d.Rows, dir, out)
	return &Result{}, nil
}

// writePredictions writes the CSV `ferry predict` promises: one line per input
// row in input order; group and label empty when absent.
func writePredictions(w io.Writer, d *data.Dataset, scores []float64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString("row,group,label,score\n")
	buf := make([]byte, 0, 64)
	for i, s := range scores {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, ',')
		if d.Group != nil {
			buf = appendCSVField(buf, d.GroupKeys[d.Group[i]])
		}
		buf = append(buf, ',')
		if d.Label != nil {
			buf = strconv.AppendFloat(buf, d.Label[i], 'g', -1, 64)
		}
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, s, 'g', -1, 64)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendCSVField(buf []byte, s string) []byte {
	if !slices.ContainsFunc([]byte(s), func(c byte) bool { return c == ',' || c == '"' || c == '\n' || c == '\r' }) {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}

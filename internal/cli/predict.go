package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	d, err := readForModel(path, read, m)
	if err != nil {
		return nil, err
	}
	scores := m.PredictDataset(d)
	write := func(w io.Writer) error { return writePredictions(w, d, scores) }
	if out == "-" {
		return nil, write(env.Stdout)
	}
	if err := writeFileAtomic(out, write); err != nil {
		return nil, fmt.Errorf("write predictions: %w", err)
	}
	fmt.Fprintf(env.Stderr, "ferry predict: %d rows scored with %s, written to %s\n", d.Rows, dir, out)
	return &Result{}, nil
}

// readForModel reads data with the model's schema, taking the label, group,
// format and delimiter the model was trained with unless flags say
// otherwise; a scoring file may lack the label and group columns.
func readForModel(path string, o data.Options, m *model.Model) (*data.Dataset, error) {
	o.Schema = m.Manifest.Features
	o.Optional = true
	if o.Label == "" {
		o.Label = m.Manifest.Input.Label
	}
	if o.Group == "" {
		o.Group = m.Manifest.Input.Group
	}
	if o.Format == "" {
		// Data to score is most often in the training data's format.
		o.Format = data.Format(m.Manifest.Input.Format)
	}
	if o.Header == "" {
		o.Header = m.Manifest.Input.Header
	}
	if o.Delimiter == 0 && o.Format == data.Format(m.Manifest.Input.Format) && len(m.Manifest.Input.Delimiter) > 0 {
		o.Delimiter = []rune(m.Manifest.Input.Delimiter)[0]
	}
	return data.Read(path, m.Manifest.Faithful(o))
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

// writeFileAtomic writes a file through a temporary file beside it, so that a
// failure leaves no half-written file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

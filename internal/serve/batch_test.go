package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/testenv"
)

// rowsOf is a one-column data set of the given values.
func rowsOf(v ...float32) *data.Dataset {
	return &data.Dataset{Rows: len(v), Columns: []data.Column{{Name: "x", Values: v}}}
}

// double scores a row as twice its value, slowly, counting its calls and
// the rows of its largest call.
type double struct {
	calls, largest atomic.Int64
	delay          time.Duration
}

func (p *double) PredictDataset(d *data.Dataset) []float64 {
	p.calls.Add(1)
	for {
		l := p.largest.Load()
		if int64(d.Rows) <= l || p.largest.CompareAndSwap(l, int64(d.Rows)) {
			break
		}
	}
	time.Sleep(p.delay)
	out := make([]float64, d.Rows)
	for i, v := range d.Columns[0].Values {
		out[i] = 2 * float64(v)
	}
	return out
}

// Requests that arrive while one is scored are scored together, each
// getting its own rows' scores; a large request is scored alone.
func TestBatcherGathersAndSplits(t *testing.T) {
	p := &double{delay: 50 * time.Millisecond}
	b := newBatcher(p.PredictDataset)
	b.max = 1
	const clients = 16
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rows := make([]float32, 1+c%3)
			for i := range rows {
				rows[i] = float32(100*c + i)
			}
			got := b.score(rowsOf(rows...))
			for i, v := range rows {
				if len(got) != len(rows) || got[i] != 2*float64(v) {
					errs <- "a request got another's scores"
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n := p.calls.Load(); n >= clients {
		t.Errorf("%d model calls for %d requests arriving together: nothing was batched", n, clients)
	}
	if p.largest.Load() > batchRows {
		t.Errorf("a batch of %d rows, over %d", p.largest.Load(), batchRows)
	}
	p.calls.Store(0)
	big := make([]float32, batchRequestRows+1)
	if got := b.score(rowsOf(big...)); len(got) != len(big) || p.calls.Load() != 1 {
		t.Errorf("a %d-row request: %d scores in %d calls", len(big), len(got), p.calls.Load())
	}
}

// mixing scores each row by its value plus the batch's mean: a network
// that reduces over the batch axis.
type mixing struct{}

func (mixing) PredictDataset(d *data.Dataset) []float64 {
	var sum float64
	for _, v := range d.Columns[0].Values {
		sum += float64(v)
	}
	out := make([]float64, d.Rows)
	for i, v := range d.Columns[0].Values {
		out[i] = float64(v) + sum/float64(d.Rows)
	}
	return out
}

// Only networks are batched, and only when their rows score alike alone
// and together.
func TestBatchable(t *testing.T) {
	features := []data.Feature{{Name: "x"}}
	for _, c := range []struct {
		format string
		p      model.Predictor
		want   bool
	}{
		{model.FormatONNX, &double{}, true},
		{model.FormatMLP, &double{}, true},
		{model.FormatGBDT, &double{}, false},
		{model.FormatONNX, mixing{}, false},
	} {
		m := &model.Model{Manifest: model.Manifest{Format: c.format, Features: features}, Predictor: c.p}
		if got := batchable(m); got != c.want {
			t.Errorf("%s %T: batchable %v, want %v", c.format, c.p, got, c.want)
		}
	}
	// A real network: the PyTorch HIGGS MLP, as TestONNXSoak serves it.
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "onnx", "testdata", "higgs-mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	schema := make([]data.Feature, 28)
	for i := range schema {
		schema[i] = data.Feature{Name: fmt.Sprint(i + 1)}
	}
	dir := filepath.Join(t.TempDir(), "higgs")
	if err := model.Save(dir, model.Manifest{Name: "higgs", Format: model.FormatONNX, Task: model.TaskBinary, Features: schema}, raw); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !batchable(m) {
		t.Error("the HIGGS MLP is not batched")
	}
}

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
			got, err := b.score(rowsOf(rows...))
			if err != nil {
				errs <- err.Error()
				return
			}
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
	if got, err := b.score(rowsOf(big...)); err != nil || len(got) != len(big) || p.calls.Load() != 1 {
		t.Errorf("a %d-row request: %d scores in %d calls", len(big), len(got), p.calls.Load())
	}
}

// With more than one scorer, a request whose rows another request took
// into its batch waits for that batch instead of scoring an empty one (which
// crashed the server under wrk: an index out of range, then "unlock of
// unlocked mutex", a fatal error no handler recovers). Many rounds of
// requests arriving together, each checked for its own scores.
func TestBatcherSeveralScorers(t *testing.T) {
	for _, delay := range []time.Duration{time.Millisecond, 0} {
		t.Run(delay.String(), func(t *testing.T) { checkSeveralScorers(t, delay) })
	}
}

// checkSeveralScorers has 12 clients send 1-row requests to a batcher of
// three scorers whose model takes delay per batch (none: requests and
// hand-overs race as fast as they can).
func checkSeveralScorers(t *testing.T, delay time.Duration) {
	p := &double{delay: delay}
	b := newBatcher(p.PredictDataset)
	b.max = 3
	const clients, rounds = 12, 40
	var wg sync.WaitGroup
	errs := make(chan string, clients*rounds)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				v := float32(1000*c + r)
				got, err := b.score(rowsOf(v))
				if err != nil || len(got) != 1 || got[0] != 2*float64(v) {
					errs <- fmt.Sprintf("client %d round %d: %v %v", c, r, got, err)
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if b.scoring != 0 || len(b.queue) != 0 || b.failures.Load() != 0 {
		t.Errorf("after every request: %d batches scoring, %d queued, %d failed", b.scoring, len(b.queue), b.failures.Load())
	}
}

// A model that panics fails each request of the batch with an error (not
// a crash, not empty scores), and the batcher scores what comes next.
func TestBatcherModelPanics(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	p := &double{delay: 20 * time.Millisecond}
	b := newBatcher(func(d *data.Dataset) []float64 {
		if fail.Load() {
			panic("index out of range")
		}
		return p.PredictDataset(d)
	})
	b.max = 1
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := b.score(rowsOf(1)); err != nil && got == nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 8 {
		t.Fatalf("%d of 8 requests failed with an error while the model panicked", failed.Load())
	}
	fail.Store(false)
	if got, err := b.score(rowsOf(3)); err != nil || len(got) != 1 || got[0] != 6 {
		t.Fatalf("after the panics: %v, %v; want [6]", got, err)
	}
	if _, err := b.score(rowsOf(make([]float32, batchRequestRows+1)...)); err != nil {
		t.Fatalf("a large request after the panics: %v", err)
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

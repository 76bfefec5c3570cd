package serve

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
)

// Batching: small requests that arrive while others are being scored are
// scored together, as one call of the model, so a network multiplies one
// matrix of many rows instead of many of one row. Nothing waits for a
// batch to fill: a request that finds a scorer free is scored at once, so
// latency at low load is unchanged; only requests that would have queued
// for a core anyway are gathered. Rows score the same bits alone or in a
// batch (the product kernel sums each row on its own), which start-up
// checks on the loaded model before batching it.
const (
	batchRequestRows = 32  // requests up to this many rows are batched
	batchRows        = 256 // a batch takes queued requests up to this many rows
)

// batcher gathers queued requests into batches, with at most max batches
// scored at once (GOMAXPROCS: one per core).
type batcher struct {
	predict func(*data.Dataset) []float64
	max     int

	mu      sync.Mutex
	queue   []*batchJob
	scoring int // batches being scored

	failures atomic.Int64 // batches whose scoring panicked
}

// batchJob is one request's rows and, once finished, its scores, or why
// its batch could not be scored. A queued request sleeps on wake, which
// is sent to once: when its batch is finished, or when it is handed a
// batch to score (lead, its own rows first).
type batchJob struct {
	d        *data.Dataset
	scores   []float64
	err      error
	finished bool
	lead     []*batchJob
	wake     chan struct{}
}

func newBatcher(predict func(*data.Dataset) []float64) *batcher {
	return &batcher{predict: predict, max: runtime.GOMAXPROCS(0)}
}

// score scores d: alone when it is large, else in a batch. A request
// that finds a scorer free scores the queue at once, its own rows first;
// else it queues and sleeps until a scorer that finishes either finishes
// its rows too or hands it the next batch to score (so a scorer never
// goes on to other requests' batches before answering its own, and only
// the requests concerned are woken). A model that panics fails every
// request of its batch with an error, and the batcher goes on.
func (b *batcher) score(d *data.Dataset) ([]float64, error) {
	j := &batchJob{d: d}
	if d.Rows > batchRequestRows {
		b.runGuarded([]*batchJob{j})
		return j.scores, j.err
	}
	b.mu.Lock()
	b.queue = append(b.queue, j)
	if b.scoring < b.max {
		// A scorer is free, so the queue was empty: j is all of it.
		b.scoring++
		j.lead = b.take()
	} else {
		j.wake = make(chan struct{}, 1)
		b.mu.Unlock()
		<-j.wake
		if j.finished {
			return j.scores, j.err
		}
		b.mu.Lock()
	}
	batch := j.lead
	b.mu.Unlock()
	b.runGuarded(batch)
	b.mu.Lock()
	for _, bj := range batch {
		bj.finished = true
		if bj != j {
			bj.wake <- struct{}{}
		}
	}
	if len(b.queue) > 0 {
		// Hand the next batch to its first request, which scores it: the
		// count of scorers stays.
		next := b.take()
		next[0].lead = next
		next[0].wake <- struct{}{}
	} else {
		b.scoring--
	}
	b.mu.Unlock()
	return j.scores, j.err
}

// runGuarded runs a batch, turning a panic of the model into each job's
// error, so that the batcher's lock and count stay right.
func (b *batcher) runGuarded(batch []*batchJob) {
	defer func() {
		if r := recover(); r != nil {
			b.failures.Add(1)
			for _, j := range batch {
				j.scores, j.err = nil, fmt.Errorf("the model failed while scoring: %v", r)
			}
		}
	}()
	b.run(batch)
}

// take removes the first queued requests, up to batchRows rows (at least
// one request), from the queue.
func (b *batcher) take() []*batchJob {
	n, rows := 0, 0
	for n < len(b.queue) && (n == 0 || rows+b.queue[n].d.Rows <= batchRows) {
		rows += b.queue[n].d.Rows
		n++
	}
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	return batch
}

// run scores a batch as one data set and hands each request its scores.
func (b *batcher) run(batch []*batchJob) {
	if len(batch) == 1 {
		batch[0].scores = b.predict(batch[0].d)
		return
	}
	ds := make([]*data.Dataset, len(batch))
	for i, j := range batch {
		ds[i] = j.d
	}
	scores := b.predict(concat(ds))
	for _, j := range batch {
		j.scores, scores = scores[:j.d.Rows:j.d.Rows], scores[j.d.Rows:]
	}
}

// concat is the rows of ds, one data set after another, in the columns of
// the first (every request is decoded into the model's schema).
func concat(ds []*data.Dataset) *data.Dataset {
	rows := 0
	for _, d := range ds {
		rows += d.Rows
	}
	out := &data.Dataset{Rows: rows, Columns: make([]data.Column, len(ds[0].Columns))}
	for c, col := range ds[0].Columns {
		oc := data.Column{Name: col.Name, Categorical: col.Categorical, Categories: col.Categories, Values: make([]float32, 0, rows)}
		if col.Exact != nil {
			oc.Exact = make([]float64, 0, rows)
		}
		for _, d := range ds {
			oc.Values = append(oc.Values, d.Columns[c].Values...)
			if oc.Exact != nil {
				oc.Exact = append(oc.Exact, d.Columns[c].Exact...)
			}
		}
		out.Columns[c] = oc
	}
	return out
}

// batchable says whether m may be batched: a network (MLP or ONNX), where
// one call of many rows is cheaper than many of one, whose rows score the
// same bits together as alone (a network could mix rows, by a reduction
// over the batch axis). The check scores two unlike rows both ways.
func batchable(m *model.Model) bool {
	if f := m.Manifest.Format; f != model.FormatMLP && f != model.FormatONNX {
		return false
	}
	features := m.Manifest.Features
	two := &data.Dataset{Rows: 2}
	for i, f := range features {
		v := float32(i%5)*0.37 + 1 // unlike values; a category's index is 0 or 1
		if f.Categorical {
			v = float32(min(1, len(f.Categories)-1))
		}
		two.Columns = append(two.Columns, data.Column{Name: f.Name, Categorical: f.Categorical, Categories: f.Categories, Values: []float32{0, v}})
	}
	both := m.PredictDataset(two)
	for r := 0; r < 2; r++ {
		alone := m.PredictDataset(two.Subset([]int{r}))
		if len(both) != 2 || len(alone) != 1 || math.Float64bits(alone[0]) != math.Float64bits(both[r]) {
			return false
		}
	}
	return true
}

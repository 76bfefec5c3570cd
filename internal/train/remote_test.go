package train_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/train"
)

// loopback is a TrialRunner that runs each batch's trials as a remote
// engine's pods would, through the same bytes (the rows as shipped, the
// batch's JSON, each result's JSON), in this process. The engine on a real
// cluster is tested in test/integration.
type loopback struct {
	mu      sync.Mutex
	rows    map[string][]byte
	batches []int
	fail    error // the engine's, for every batch
}

func (l *loopback) Ship(_ context.Context, rows []byte) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rows == nil {
		l.rows = map[string][]byte{}
	}
	ref := fmt.Sprintf("rows-%d", len(l.rows))
	l.rows[ref] = rows
	return ref, nil
}

func (l *loopback) RunBatch(ctx context.Context, ref string, spec []byte, n int, _ io.Writer) ([][]byte, error) {
	if l.fail != nil {
		return nil, l.fail
	}
	l.mu.Lock()
	rows := l.rows[ref]
	l.batches = append(l.batches, n)
	l.mu.Unlock()
	out := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = train.RunTrial(ctx, rows, spec, i) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Trials run remotely give the same trials, scores, pruning and model as
// the same search on local goroutines: the batch carries the pruner's bars
// and the rows go as read.
func TestRemoteTrialsMatchLocal(t *testing.T) {
	data := interactions(t)
	cfg := searchConfig(data, filepath.Join(t.TempDir(), "local"))
	cfg.Algorithm, cfg.Search.Trials, cfg.Search.Parallel = "auto", 24, 3
	local, err := train.Run(context.Background(), cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb := &loopback{}
	cfg.Out, cfg.Remote = filepath.Join(t.TempDir(), "remote"), lb
	remote, err := train.Run(context.Background(), cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, got := local.Manifest.Search, remote.Manifest.Search
	if len(lb.rows) != 1 || len(lb.batches) != 9 || lb.batches[0] != 3 {
		t.Errorf("shipped %d times, batches %v: want the rows once and 3 batches of 3 per candidate", len(lb.rows), lb.batches)
	}
	pruned := 0
	for i, w := range want.Trials {
		g := got.Trials[i]
		if fmt.Sprint(w.Algorithm, w.Params, w.Folds, w.Rounds, w.State, w.Score) != fmt.Sprint(g.Algorithm, g.Params, g.Folds, g.Rounds, g.State, g.Score) {
			t.Errorf("trial %d: local %+v, remote %+v", w.Number, w, g)
		}
		if secs := remote.Manifest.Run.Search.Trials; len(secs) != len(want.Trials) || secs[i] <= 0 {
			t.Errorf("trial %d: the remote trial's time did not come back (run.json's %v)", g.Number, secs)
		}
		if w.State == search.StatePruned {
			pruned++
		}
	}
	if pruned == 0 {
		t.Error("no trial was pruned: the test does not check that remote trials prune as local ones")
	}
	if want.Best != got.Best || want.Why != got.Why || fmt.Sprint(local.Manifest.Params) != fmt.Sprint(remote.Manifest.Params) {
		t.Errorf("best %d vs %d (%s / %s), params %v vs %v", want.Best, got.Best, want.Why, got.Why, local.Manifest.Params, remote.Manifest.Params)
	}
	if local.Manifest.Metrics["valid"] != nil && fmt.Sprint(local.Manifest.Metrics) != fmt.Sprint(remote.Manifest.Metrics) {
		t.Errorf("the refitted models differ: %v vs %v", local.Manifest.Metrics, remote.Manifest.Metrics)
	}
}

// An engine that fails (a pod that cannot be scheduled, say) ends the
// search with its error; it is not a trial that failed.
func TestRemoteEngineFailureStopsTheSearch(t *testing.T) {
	cfg := searchConfig(interactions(t), filepath.Join(t.TempDir(), "model"))
	cfg.Remote = &loopback{fail: errors.New("the training Job cannot be scheduled")}
	_, err := train.Run(context.Background(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "trials 1 to 2 of gbdt: the training Job cannot be scheduled") {
		t.Fatalf("got %v", err)
	}
}

func TestRunTrialRefusesWhatItCannotRun(t *testing.T) {
	rows, err := train.EncodeRows(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec  string
		index int
		want  string
	}{
		{`{"Trials": [{"number": 1}]}`, 1, "trial index 1: the batch has 1 trials"},
		{`{"Trials": `, 0, "the trial batch"},
	} {
		if _, err := train.RunTrial(context.Background(), rows, []byte(c.spec), c.index); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s at %d: got %v, want %q", c.spec, c.index, err, c.want)
		}
	}
	if _, err := train.RunTrial(context.Background(), []byte("not gob"), []byte(`{"Trials": [{"number": 1}]}`), 0); err == nil || !strings.Contains(err.Error(), "the search's rows") {
		t.Errorf("rows that do not decode: %v", err)
	}
}

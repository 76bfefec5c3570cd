package train

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/search"
)

// TrialRunner runs a search's trials away from this process, batch by
// batch as the search proposes them: a Kubernetes Indexed Job per batch,
// one trial per index (external.Kubernetes). The trials run the same code
// on the same rows with the same pruning bars as local ones, so a seed
// gives the same trials and scores wherever they run.
type TrialRunner interface {
	// Ship makes the search's rows (as EncodeRows wrote them) reachable by
	// the trials, once per run, and returns where they are.
	Ship(ctx context.Context, rows []byte) (string, error)
	// RunBatch runs the n trials of spec (a TrialBatch in JSON) on the
	// rows at ref and returns each index's result (RunTrial's), in index
	// order. Its error is the engine's: a trial that fails is a result.
	RunBatch(ctx context.Context, ref string, spec []byte, n int, log io.Writer) ([][]byte, error)
}

// TrialBatch is one batch of a search's trials as a remote engine gets it:
// everything a trial needs but the rows.
type TrialBatch struct {
	// Run is the training run's algorithm (auto, or the one searched),
	// Candidate the trainer these trials train.
	Run, Candidate string
	Objective      string
	Params         []string // the run's own, laid under each trial's
	Seed           int64
	Metric         string
	HigherIsBetter bool
	Folds          int
	Parallel       int // trials at once, which share a machine's cores
	Bars           search.Bars
	Trials         []search.Trial // Number and Params
}

// shipped are the rows a remote trial reads: the training rows, and with
// Folds 0 the validation rows.
type shipped struct {
	Train, Valid *data.Dataset
}

// EncodeRows is the rows as Ship carries them: the data sets as read, so
// that a trial does not read, parse or detect anything again.
func EncodeRows(train, valid *data.Dataset) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(shipped{Train: train, Valid: valid}); err != nil {
		return nil, fmt.Errorf("encode the search's rows: %w", err)
	}
	return b.Bytes(), nil
}

// maxTrialError bounds a failed trial's message in its result, which
// travels back in the pod's termination message (4 KiB at most).
const maxTrialError = 1500

// RunTrial runs trial index of the batch spec on rows (EncodeRows's) and
// returns the scored trial in JSON: what a remote trial's pod does (ferry
// search-trial). A trial that fails is a result in StateFailed, not an
// error; an error is a batch or rows this build cannot run.
func RunTrial(ctx context.Context, rows, spec []byte, index int) ([]byte, error) {
	var b TrialBatch
	if err := json.Unmarshal(spec, &b); err != nil {
		return nil, fmt.Errorf("the trial batch: %w", err)
	}
	if index < 0 || index >= len(b.Trials) {
		return nil, fmt.Errorf("trial index %d: the batch has %d trials", index, len(b.Trials))
	}
	var s shipped
	if err := gob.NewDecoder(bytes.NewReader(rows)).Decode(&s); err != nil {
		return nil, fmt.Errorf("the search's rows: %w", err)
	}
	t := &tuner{
		cfg:  Config{Algorithm: b.Run, Objective: b.Objective, Seed: b.Seed, Params: b.Params},
		base: search.Config{Folds: b.Folds, Seed: b.Seed, Metric: b.Metric, HigherIsBetter: b.HigherIsBetter, Prune: b.Bars != nil, Parallel: b.Parallel},
	}
	folds, err := t.split(s.Train, s.Valid)
	if err != nil {
		return nil, err
	}
	tr := b.Trials[index]
	search.ScoreTrial(ctx, t.base, t.scorer(b.Candidate, folds, b.Parallel), b.Bars, &tr)
	if len(tr.Error) > maxTrialError {
		tr.Error = tr.Error[:maxTrialError] + "..."
	}
	return json.Marshal(resultOf(tr))
}

// trialResult is a search.Trial with its time, which the Trial leaves out
// of JSON (model.json keeps no times).
type trialResult struct {
	search.Trial
	Seconds float64 `json:"seconds"`
}

func resultOf(t search.Trial) trialResult { return trialResult{Trial: t, Seconds: t.Seconds} }

// remoteBatch is the search's BatchFunc for candidate alg on the runner:
// each batch goes out as one TrialBatch on the rows at ref.
func (t *tuner) remoteBatch(alg, ref string, parallel int, log io.Writer) search.BatchFunc {
	return func(ctx context.Context, batch []search.Trial, bars search.Bars) error {
		spec, err := json.Marshal(TrialBatch{Run: t.cfg.Algorithm, Candidate: alg, Objective: t.cfg.Objective, Params: t.cfg.Params,
			Seed: t.cfg.Seed, Metric: t.base.Metric, HigherIsBetter: t.base.HigherIsBetter, Folds: t.base.Folds, Parallel: parallel,
			Bars: bars, Trials: batch})
		if err != nil {
			return err
		}
		out, err := t.cfg.Remote.RunBatch(ctx, ref, spec, len(batch), log)
		if err != nil {
			return fmt.Errorf("trials %d to %d of %s: %w", batch[0].Number, batch[len(batch)-1].Number, alg, err)
		}
		for i, raw := range out {
			var r trialResult
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil || r.Number != batch[i].Number {
				return fmt.Errorf("trial %d of %s came back as %q: %v", batch[i].Number, alg, raw, err)
			}
			r.Trial.Seconds = r.Seconds
			batch[i] = r.Trial
		}
		return nil
	}
}

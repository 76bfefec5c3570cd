package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/data"
)

// EvaluationFile records, in a model directory, the data the model was
// evaluated on: one entry per data URL, the last evaluation's. ferry
// evaluate writes it before the model is packaged, so it travels in the
// image to the recheck before a rollout.
const EvaluationFile = "evaluations.json"

// Evaluation is the data a model was evaluated on, pinned: a later
// evaluation on the same URL can tell whether the bytes behind it changed.
type Evaluation struct {
	Data    string        `json:"data"`   // as given: a path or an object URL
	SHA256  string        `json:"sha256"` // of the file, or of the set
	Rows    int           `json:"rows"`
	Sources []data.Source `json:"sources"`
}

// Evaluations are a model's evaluation records, in the order first made.
type Evaluations []Evaluation

// Of returns the record of the evaluation on the data URL; nil when none.
func (es Evaluations) Of(url string) *Evaluation {
	for i := range es {
		if es[i].Data == url {
			return &es[i]
		}
	}
	return nil
}

// LoadEvaluations reads dir's evaluation records; none when it has no file.
func LoadEvaluations(dir string) (Evaluations, error) {
	b, err := os.ReadFile(filepath.Join(dir, EvaluationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load the evaluation records: %w", err)
	}
	var es Evaluations
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, EvaluationFile), err)
	}
	return es, nil
}

// RecordEvaluation records e in dir's evaluation records, in place of the
// one on the same data, atomically.
func RecordEvaluation(dir string, e Evaluation) error {
	es, err := LoadEvaluations(dir)
	if err != nil {
		return err
	}
	if old := es.Of(e.Data); old != nil {
		*old = e
	} else {
		es = append(es, e)
	}
	return data.WriteFileAtomic(filepath.Join(dir, EvaluationFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(es)
	})
}

// Changes lists how the data d differs from the evaluation's, one line
// per file or object: changed (another version, ETag, size or sha256),
// added or gone. None when the sha256 is the same.
func (e *Evaluation) Changes(d *data.Dataset) []string {
	return DataChanges(e.Data, e.SHA256, e.Sources, d)
}

// DataChanges lists how the data d differs from an earlier read of the
// same path (its sha256 and sources), as Changes does.
func DataChanges(path, sha256 string, sources []data.Source, d *data.Dataset) []string {
	if sha256 == d.SHA256 {
		return nil
	}
	was := map[string]data.Source{}
	for _, s := range sources {
		was[s.URL] = s
	}
	var out []string
	for _, s := range d.Sources {
		old, ok := was[s.URL]
		delete(was, s.URL)
		switch {
		case !ok:
			out = append(out, s.URL+": added")
		case old.SHA256 != s.SHA256 || old.Version != s.Version || old.ETag != s.ETag:
			out = append(out, fmt.Sprintf("%s: changed (sha256 %s, now %s)", s.URL, short(old.SHA256), short(s.SHA256)))
		}
	}
	for _, s := range sources {
		if _, gone := was[s.URL]; gone {
			out = append(out, s.URL+": gone")
		}
	}
	if len(out) == 0 { // same files, other names or order
		out = append(out, fmt.Sprintf("%s: sha256 %s, now %s", path, short(sha256), short(d.SHA256)))
	}
	return out
}

func short(sum string) string { return sum[:min(12, len(sum))] }

package evaluate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/templates/report"
)

// scored are the rows both models scored, with what the report needs.
type scored struct {
	scores *compare.Scores
	name   string       // the candidate's name
	curve  *model.Curve // the candidate's training curve, when known
	kept   map[string][]string
	why    string // what changed and what drives each model, Markdown
	search string // how the candidate's parameters were chosen, Markdown
	// snapshot names the data and the champion compared on.
	snapshot string
	// rows is the data compared on, pinned, for the candidate's record.
	rows *model.Evaluation
}

// scoreBoth scores the evaluation rows with both models (or reads both
// predictions files) and checks that they are the same rows.
func scoreBoth(ctx context.Context, cfg Config, champion string, read data.Options, firstModel bool, auth remote.Option) (*scored, error) {
	if cfg.CandidatePredictions != "" {
		c, err := data.ReadPredictions(ctx, cfg.CandidatePredictions, "label", "score", "group", cfg.Weight)
		if err != nil {
			return nil, err
		}
		s := &compare.Scores{Labels: c.Labels, Candidate: c.Scores, Groups: c.Groups, Weights: c.Weights}
		if cfg.ChampionPredictions != "" {
			ch, err := data.ReadPredictions(ctx, cfg.ChampionPredictions, "label", "score", "group", "")
			if err != nil {
				return nil, err
			}
			if err := sameRows(c.Labels, ch.Labels, cfg.CandidatePredictions, cfg.ChampionPredictions); err != nil {
				return nil, err
			}
			s.Champion = ch.Scores
		}
		return &scored{scores: s, name: "candidate"}, nil
	}
	s, ms, err := scoreModels(ctx, cfg.Candidate, champion, cfg.Data, read, auth, firstModel, cfg.AllowDataChange)
	if err != nil {
		return nil, err
	}
	cm, d := ms.cand, ms.candData
	return &scored{scores: s, name: cm.Manifest.Name, curve: &cm.Manifest.Curve, kept: d.Kept, why: ms.why(), search: report.SearchSection(cm.Manifest.Search), snapshot: ms.snapshot(cfg.Data),
		rows: &model.Evaluation{Data: cfg.Data, SHA256: d.SHA256, Rows: d.Rows, Sources: d.Sources}}, nil
}

// scoreModels scores the evaluation rows (dataPath, read with read) with the
// candidate and, when there is one, the champion (model directories or
// image references, pulled with auth), and returns the scores, the
// candidate, and the columns read.Keep asked for. A champion image that
// does not exist is an error unless firstModel says none exists yet (and
// its repository has no champion tag): then Scores.Champion is nil and the
// first model is judged alone. Data that changed since the candidate was
// evaluated on it is a *DataChangedError unless allowChange.
func scoreModels(ctx context.Context, candidate, champion, dataPath string, read data.Options, auth remote.Option, firstModel, allowChange bool) (*compare.Scores, *models, error) {
	cm, err := loadModel(ctx, candidate, auth)
	if err != nil {
		return nil, nil, err
	}
	cd, err := cm.ReadData(ctx, dataPath, read)
	if err != nil {
		return nil, nil, err
	}
	ms := &models{cand: cm, candData: cd}
	if was := cm.Evaluations.Of(dataPath); was != nil {
		ms.changes = was.Changes(cd)
		if len(ms.changes) > 0 && !allowChange {
			return nil, nil, &DataChangedError{Data: dataPath, Model: candidate, Changes: ms.changes}
		}
	}
	if cd.Label == nil {
		return nil, nil, fmt.Errorf("%s: %w", dataPath, input.Paramf("label", "no labels to evaluate against: name the label column with %s"))
	}
	s := &compare.Scores{Labels: cd.Label, Candidate: cm.PredictDataset(cd), Groups: cd.Groups()}
	if champion == "" {
		return s, ms, nil
	}
	chm, chRef, err := loadPinned(ctx, champion, auth)
	if errors.Is(err, oci.ErrNoImage) && firstModel && !hasChampionTag(ctx, champion, auth) {
		return s, ms, nil
	}
	if errors.Is(err, oci.ErrNoImage) {
		return nil, nil, &missingChampion{ref: champion, tags: tagsOf(ctx, champion, auth)}
	}
	if err != nil {
		return nil, nil, err
	}
	chd, err := chm.ReadData(ctx, dataPath, read)
	if err != nil {
		return nil, nil, err
	}
	if chd.SHA256 != cd.SHA256 {
		return nil, nil, &DataChangedError{Data: dataPath, Between: true,
			Changes: model.DataChanges(dataPath, cd.SHA256, cd.Sources, chd)}
	}
	if err := sameRows(cd.Label, chd.Label, candidate, champion); err != nil {
		return nil, nil, err
	}
	s.Champion = chm.PredictDataset(chd)
	ms.champ, ms.champData, ms.champRef = chm, chd, chRef
	return s, ms, nil
}

// models are the two models scored and the rows each read.
type models struct {
	cand, champ         *model.Model // champ nil without a champion
	candData, champData *data.Dataset
	champRef            string   // the champion's image by digest, or its directory
	changes             []string // how the data changed since the candidate's last evaluation on it, when allowed
}

// snapshot says what was compared on: the data with its sha256 and rows
// (for objects, how many and how they were pinned), the champion by
// digest, and a change of the data since the candidate's last evaluation
// that was allowed.
func (ms *models) snapshot(dataPath string) string {
	d := ms.candData
	out := fmt.Sprintf("Compared on `%s` (sha256 `%s`, %d rows", dataPath, d.SHA256[:min(12, len(d.SHA256))], d.Rows)
	if pins := pinning(d.Sources); pins != "" {
		out += "; " + pins
	}
	out += ")"
	if ms.champ != nil {
		out += fmt.Sprintf("; the champion is `%s`", ms.champRef)
	}
	out += "."
	if len(ms.changes) > 0 {
		out += "\n\n⚠️ The data changed since the candidate was last evaluated on it, and the change was allowed: " + strings.Join(ms.changes, "; ") + "."
	}
	return out
}

// pinning says how a data set's objects were pinned: "3 object(s), each
// pinned to its version" when every one has a version, else "3 object(s),
// pinned by ETag"; "" for local files.
func pinning(sources []data.Source) string {
	objects, versioned := 0, 0
	for _, s := range sources {
		if s.ETag != "" || s.Version != "" {
			objects++
		}
		if s.Version != "" {
			versioned++
		}
	}
	switch {
	case objects == 0:
		return ""
	case versioned == objects:
		return fmt.Sprintf("%d object(s), each pinned to its version", objects)
	}
	return fmt.Sprintf("%d object(s), pinned by ETag", objects)
}

// DataChangedError is evaluation data whose bytes changed: since the
// candidate was evaluated on it (its evaluations.json), or between the
// candidate's read and the champion's. Comparing on it would not be
// comparing on the rows the pull request showed.
type DataChangedError struct {
	Data, Model string
	Between     bool // between the two models' reads
	Changes     []string
}

func (e *DataChangedError) Error() string {
	if e.Between {
		return fmt.Sprintf("%s changed between the candidate's read and the champion's (%s): the two were not scored on the same rows; evaluate again", e.Data, strings.Join(e.Changes, "; "))
	}
	return fmt.Sprintf("%s changed since %s was evaluated on it (%s): ferry compares on a pinned snapshot; evaluate a fresh candidate on it, "+
		"point at a snapshot that does not move (a dated prefix, a versioned bucket), or allow the change (allow-data-change)", e.Data, e.Model, strings.Join(e.Changes, "; "))
}

// importanceRows is how many evaluation rows the TreeSHAP importance is
// computed on: enough for a stable mean, at a bounded cost.
const importanceRows = 1000

// why is the report's "why the numbers moved", "" without a champion.
func (ms *models) why() string {
	if ms.champ == nil {
		return ""
	}
	imp := func(m *model.Model, d *data.Dataset) map[string]float64 {
		v := m.Importance(d, importanceRows)
		if v == nil {
			return nil
		}
		out := make(map[string]float64, len(v))
		for j, c := range d.Columns {
			out[c.Name] = v[j]
		}
		return out
	}
	return report.WhyMoved(ms.champ, ms.cand, imp(ms.champ, ms.champData), imp(ms.cand, ms.candData))
}

// loadModel loads a model named by a parameter: a model directory, or an image
// reference (pulled, its /model extracted). A reference is an image only
// when it names its registry (a first part with a dot or a port, or
// localhost, as in ghcr.io/shop/ranker:champion); anything else is a path,
// so a missing directory is reported as one, never looked up on Docker
// Hub. A missing image is reported as oci.ErrNoImage.
func loadModel(ctx context.Context, ref string, auth remote.Option) (*model.Model, error) {
	m, _, err := loadPinned(ctx, ref, auth)
	return m, err
}

// loadPinned is loadModel that also says what was loaded: the image by
// digest, or the directory.
func loadPinned(ctx context.Context, ref string, auth remote.Option) (*model.Model, string, error) {
	if _, err := os.Stat(ref); err == nil || !oci.IsImageRef(ref) {
		m, err := model.Load(ref)
		return m, ref, err
	}
	dir, err := os.MkdirTemp("", "ferry-model-")
	if err != nil {
		return nil, "", err
	}
	// The directory lives as long as the command: the model is loaded into
	// memory below, so it goes when the process ends.
	pinned, err := oci.PullModel(ctx, ref, dir, auth)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	m, err := model.Load(dir)
	os.RemoveAll(dir)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", pinned, err)
	}
	return m, pinned.String(), nil
}

// hasChampionTag reports whether ref's repository has a champion tag: then
// a missing ref is a typo, whatever first-model says.
func hasChampionTag(ctx context.Context, ref string, auth remote.Option) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	tags, err := remote.List(r.Context(), remote.WithContext(ctx), auth)
	return err == nil && slices.Contains(tags, "champion")
}

// missingChampion is a champion image the registry does not have.
type missingChampion struct{ ref, tags string }

func (e *missingChampion) Error() string {
	return "champion " + e.ref + ": no such image (" + e.tags + ")"
}

// tagsOf says which tags the champion's repository has, for an error about
// a champion that is not there: a typo shows next to what exists.
func tagsOf(ctx context.Context, ref string, auth remote.Option) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "the reference does not parse"
	}
	tags, err := remote.List(r.Context(), remote.WithContext(ctx), auth)
	if err != nil || len(tags) == 0 {
		return "the registry has no repository " + r.Context().String()
	}
	if len(tags) > 8 {
		tags = append(tags[:8], "...")
	}
	return r.Context().String() + " has tags " + strings.Join(tags, ", ")
}

func sameRows(a, b []float64, an, bn string) error {
	if len(a) != len(b) {
		return fmt.Errorf("%s and %s scored %d and %d rows: evaluate both on the same data", an, bn, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Errorf("%s and %s disagree on row %d's label (%v and %v): they are not the same rows", an, bn, i, a[i], b[i])
		}
	}
	return nil
}

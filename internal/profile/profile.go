package profile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/fsort"
)

// File is the profile's name in a model directory.
const File = "profile.json"

// DefaultBins is how many quantile bins a numeric feature gets.
const DefaultBins = 10

// Kinds of a Dist.
const (
	Numeric     = "numeric"
	Categorical = "categorical"
)

// Profile is the training data's distributions.
type Profile struct {
	// Rows is how many rows the features were counted on (the training
	// rows); ScoreRows how many the score was (the validation rows when
	// there were, else the training rows).
	Rows      int64  `json:"rows"`
	ScoreRows int64  `json:"score_rows,omitempty"`
	ScoreOn   string `json:"score_on,omitempty"` // "valid" or "train"
	Features  []Dist `json:"features"`
	Score     *Dist  `json:"score,omitempty"`
}

// Dist is one column's distribution in bins. A numeric value v falls in bin
// i where Edges[i-1] < v <= Edges[i] (bin 0 below the first edge, the last
// bin above the last); a category in the bin of its index, an unseen one in
// the last bin ("other"). Missing values are counted apart.
type Dist struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Edges      []float64 `json:"edges,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Counts     []int64   `json:"counts"`
	Missing    int64     `json:"missing"`
}

// Bins is the number of bins besides missing.
func (d *Dist) Bins() int {
	if d.Kind == Categorical {
		return len(d.Categories) + 1
	}
	return len(d.Edges) + 1
}

// BinLabel names bin i for people: "<= 3.5", "(3.5, 7]", "> 7", a category,
// "other" or "missing" (i == Bins()).
func (d *Dist) BinLabel(i int) string {
	switch {
	case i == d.Bins():
		return "missing"
	case d.Kind == Categorical && i < len(d.Categories):
		return d.Categories[i]
	case d.Kind == Categorical:
		return "other"
	case len(d.Edges) == 0:
		return "any"
	case i == 0:
		return fmt.Sprintf("<= %.4g", d.Edges[0])
	case i == len(d.Edges):
		return fmt.Sprintf("> %.4g", d.Edges[i-1])
	}
	return fmt.Sprintf("(%.4g, %.4g]", d.Edges[i-1], d.Edges[i])
}

// Bin returns the bin of v, or Bins() when v is missing (NaN). For a
// categorical column v is the category's index.
func (d *Dist) Bin(v float64) int {
	if math.IsNaN(v) {
		return d.Bins()
	}
	if d.Kind == Categorical {
		if v >= 0 && v < float64(len(d.Categories)) && v == math.Trunc(v) {
			return int(v)
		}
		return len(d.Categories)
	}
	return sort.SearchFloat64s(d.Edges, v)
}

// WithMissing returns the counts with missing as the last bin.
func (d *Dist) WithMissing() []int64 { return append(slices.Clone(d.Counts), d.Missing) }

// Compute profiles the training data train and the scores (on the rows
// they were computed on, named by scoreOn); scores may be nil.
func Compute(train *data.Dataset, scores []float64, scoreOn string, bins int) *Profile {
	bins = cmp.Or(bins, DefaultBins)
	p := &Profile{Rows: int64(train.Rows)}
	for _, c := range train.Columns {
		if c.Categorical {
			p.Features = append(p.Features, categorical(c.Name, c.Categories, c.Values))
		} else {
			p.Features = append(p.Features, numeric(c.Name, c.Values, bins))
		}
	}
	if scores != nil {
		p.SetScore(scores, scoreOn, bins)
	}
	return p
}

// SetScore profiles the model's scores on the rows named by on ("train",
// "valid").
func (p *Profile) SetScore(scores []float64, on string, bins int) {
	s := numeric("score", scores, cmp.Or(bins, DefaultBins))
	p.Score, p.ScoreRows, p.ScoreOn = &s, int64(len(scores)), on
}

func categorical(name string, categories []string, vals []float32) Dist {
	d := Dist{Name: name, Kind: Categorical, Categories: slices.Clone(categories)}
	d.Counts = make([]int64, d.Bins())
	count(&d, vals)
	return d
}

// edgeSample is the most values a numeric feature's edges are the quantiles
// of: every k-th value of a larger column. Sorting every value of a column
// of millions cost as much as a third of training; the quantiles of 200,000
// values are within about 0.2 % of rank of the exact ones, far inside a
// bin of ten. The counts always cover every value.
const edgeSample = 200_000

// numeric cuts vals at its quantiles: at most bins bins, fewer when values
// repeat (a 0/1 column gets a bin per value). Features are float32 and
// sorted as such (half the radix passes of float64, the same order); the
// edges are float64 either way.
func numeric[T float32 | float64](name string, vals []T, bins int) Dist {
	stride := max(1, len(vals)/edgeSample)
	sorted := make([]T, 0, len(vals)/stride+1)
	largest := math.Inf(-1)
	for i, v := range vals {
		if v != v { // NaN
			continue
		}
		largest = max(largest, float64(v))
		if i%stride == 0 {
			sorted = append(sorted, v)
		}
	}
	switch s := any(sorted).(type) {
	case []float32:
		fsort.Float32s(s)
	case []float64:
		fsort.Float64s(s)
	}
	d := Dist{Name: name, Kind: Numeric}
	if n := len(sorted); n > 0 {
		for k := 1; k < bins; k++ {
			e := float64(sorted[min(n-1, (k*n)/bins)])
			if len(d.Edges) == 0 || e > d.Edges[len(d.Edges)-1] {
				d.Edges = append(d.Edges, e)
			}
		}
	}
	// The largest value (of all, not of the sample) closes the last bin
	// below "above everything seen", so a new maximum shows as drift.
	if !math.IsInf(largest, -1) && (len(d.Edges) == 0 || largest > d.Edges[len(d.Edges)-1]) {
		d.Edges = append(d.Edges, largest)
	}
	d.Counts = make([]int64, d.Bins())
	if stride > 1 {
		count(&d, vals)
		return d
	}
	// sorted holds every value but the missing ones: one walk against the
	// edges bins them all, as Bin would one by one.
	d.Missing = int64(len(vals) - len(sorted))
	b := 0
	for _, v := range sorted {
		for b < len(d.Edges) && d.Edges[b] < float64(v) {
			b++
		}
		d.Counts[b]++
	}
	return d
}

func count[T float32 | float64](d *Dist, vals []T) {
	for _, v := range vals {
		if b := d.Bin(float64(v)); b == d.Bins() {
			d.Missing++
		} else {
			d.Counts[b]++
		}
	}
}

// Load reads the profile in a model directory; it returns nil and no error
// when the model has none (a model trained before profiles).
func Load(dir string) (*Profile, error) {
	b, err := os.ReadFile(dir + "/" + File)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", dir, File, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", dir, File, err)
	}
	return &p, nil
}

// check refuses a profile whose bins do not add up.
func (p *Profile) check() error {
	all := p.Features
	if p.Score != nil {
		all = append(slices.Clone(all), *p.Score)
	}
	for _, d := range all {
		if d.Kind != Numeric && d.Kind != Categorical {
			return fmt.Errorf("feature %q: kind %q: want numeric or categorical", d.Name, d.Kind)
		}
		if len(d.Counts) != d.Bins() {
			return fmt.Errorf("feature %q: %d counts for %d bins", d.Name, len(d.Counts), d.Bins())
		}
		if !slices.IsSorted(d.Edges) {
			return fmt.Errorf("feature %q: edges not in order", d.Name)
		}
	}
	return nil
}

// Feature returns the named feature's distribution, or nil.
func (p *Profile) Feature(name string) *Dist {
	for i := range p.Features {
		if p.Features[i].Name == name {
			return &p.Features[i]
		}
	}
	return nil
}

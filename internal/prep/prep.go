package prep

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/ferry-ml/ferry/internal/data"
)

// MaxCategories is the most one-hot columns one categorical feature gets.
const MaxCategories = 32

// Feature is the learned transformation of one feature.
type Feature struct {
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`
	// OneHot lists the category indexes that get a column, in column order.
	OneHot []int `json:"one_hot,omitempty"`
}

// Prep is the learned transformation of every feature.
type Prep struct {
	Features []Feature `json:"features"`
}

// Fit learns the transformation from training data.
func Fit(d *data.Dataset) *Prep {
	p := &Prep{Features: make([]Feature, len(d.Columns))}
	for j, c := range d.Columns {
		if c.Categorical {
			counts := map[int]int{}
			for _, v := range c.Values {
				if !math.IsNaN(float64(v)) {
					counts[int(v)]++
				}
			}
			cats := make([]int, 0, len(counts))
			for k := range counts {
				cats = append(cats, k)
			}
			sort.Slice(cats, func(a, b int) bool {
				if counts[cats[a]] != counts[cats[b]] {
					return counts[cats[a]] > counts[cats[b]]
				}
				return cats[a] < cats[b]
			})
			if len(cats) > MaxCategories {
				cats = cats[:MaxCategories]
			}
			sort.Ints(cats)
			p.Features[j] = Feature{OneHot: cats}
			continue
		}
		var sum, sq float64
		n := 0
		for _, v := range c.Values {
			if !math.IsNaN(float64(v)) {
				sum += float64(v)
				n++
			}
		}
		mean := 0.0
		if n > 0 {
			mean = sum / float64(n)
		}
		for _, v := range c.Values {
			if !math.IsNaN(float64(v)) {
				dv := float64(v) - mean
				sq += dv * dv
			}
		}
		std := 1.0
		if n > 1 {
			if s := math.Sqrt(sq / float64(n)); s > 1e-12 {
				std = s
			}
		}
		p.Features[j] = Feature{Mean: mean, Std: std}
	}
	return p
}

// Dim is the number of columns Transform produces.
func (p *Prep) Dim() int {
	n := 0
	for _, f := range p.Features {
		if f.OneHot != nil {
			n += len(f.OneHot)
		} else {
			n++
		}
	}
	return n
}

// Check verifies the transformation fits a feature schema.
func (p *Prep) Check(features []data.Feature) error {
	if len(p.Features) != len(features) {
		return fmt.Errorf("the preprocessing covers %d features and the schema lists %d", len(p.Features), len(features))
	}
	for j, f := range p.Features {
		if f.OneHot != nil && !features[j].Categorical {
			return fmt.Errorf("feature %q: one-hot columns for a numeric feature", features[j].Name)
		}
		for _, k := range f.OneHot {
			if k < 0 || k >= len(features[j].Categories) {
				return fmt.Errorf("feature %q: category %d is not in the schema", features[j].Name, k)
			}
		}
	}
	return nil
}

// Transform returns the rows of d as a rows × Dim matrix.
func (p *Prep) Transform(d *data.Dataset) *mat.Dense {
	dim := p.Dim()
	if d.Rows == 0 || dim == 0 {
		return &mat.Dense{}
	}
	raw := make([]float64, d.Rows*dim)
	Fill(p, d, 0, d.Rows, raw)
	return mat.NewDense(d.Rows, dim, raw)
}

// Fill writes rows lo to hi of d, transformed, into dst (row-major, Dim
// wide, zeroed by the caller where one-hot columns fall): in float64, or in
// float32 for the networks' float32 products, each value computed in
// float64 and then rounded, so both agree with Transform.
func Fill[T float32 | float64](p *Prep, d *data.Dataset, lo, hi int, dst []T) {
	dim := p.Dim()
	col := 0
	for j, f := range p.Features {
		vals := d.Columns[j].Values[lo:hi]
		if f.OneHot != nil {
			pos := make(map[int]int, len(f.OneHot))
			for k, c := range f.OneHot {
				pos[c] = k
			}
			for i, v := range vals {
				if math.IsNaN(float64(v)) {
					continue
				}
				if k, ok := pos[int(v)]; ok {
					dst[i*dim+col+k] = 1
				}
			}
			col += len(f.OneHot)
			continue
		}
		for i, v := range vals {
			x := float64(v)
			if math.IsNaN(x) {
				x = f.Mean
			}
			dst[i*dim+col] = T((x - f.Mean) / f.Std)
		}
		col++
	}
}

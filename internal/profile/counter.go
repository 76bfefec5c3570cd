package profile

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/ferry-ml/ferry/internal/data"
)

// Counter counts scored rows into a profile's bins, per feature and for the
// score, from many goroutines. A request's rows are counted into a buffer
// of its own first and added to the shared counts once per non-empty bin,
// so that concurrent requests touch the shared counters rarely.
type Counter struct {
	p      *Profile
	dists  []*Dist // the features, then the score (when profiled)
	offset []int   // where each dist's bins start in counts; its missing bin is the last
	counts []atomic.Uint64
	rows   atomic.Uint64
	bufs   sync.Pool // *[]uint32, one request's counts
}

// NewCounter returns a counter of p's bins.
func NewCounter(p *Profile) *Counter {
	c := &Counter{p: p}
	for i := range p.Features {
		c.dists = append(c.dists, &p.Features[i])
	}
	if p.Score != nil {
		c.dists = append(c.dists, p.Score)
	}
	n := 0
	for _, d := range c.dists {
		c.offset = append(c.offset, n)
		n += d.Bins() + 1
	}
	c.counts = make([]atomic.Uint64, n)
	c.bufs.New = func() any { b := make([]uint32, n); return &b }
	return c
}

// Profile is the profile counted against.
func (c *Counter) Profile() *Profile { return c.p }

// Observe counts rows of cols, in the profile's feature order (the
// server's schema), and their scores. Columns beyond the profile's
// features are ignored; scores is skipped when the profile has no score.
func (c *Counter) Observe(cols []data.Column, scores []float64) {
	rows := len(scores)
	if len(cols) > 0 {
		rows = len(cols[0].Values)
	}
	c.rows.Add(uint64(rows))
	if rows <= smallRequest {
		c.each(cols, scores, func(i int) { c.counts[i].Add(1) })
		return
	}
	bp := c.bufs.Get().(*[]uint32)
	buf := *bp
	c.each(cols, scores, func(i int) { buf[i]++ })
	for i, n := range buf {
		if n != 0 {
			c.counts[i].Add(uint64(n))
			buf[i] = 0
		}
	}
	c.bufs.Put(bp)
}

// smallRequest is the most rows counted straight into the shared counters:
// below it, walking a buffer of every bin costs more than the adds.
const smallRequest = 8

// each calls add with the counter index of every value's bin.
func (c *Counter) each(cols []data.Column, scores []float64, add func(int)) {
	features := len(c.p.Features)
	for f := 0; f < features && f < len(cols); f++ {
		d, base := c.dists[f], c.offset[f]
		if d.Kind == Categorical {
			for _, v := range cols[f].Values {
				add(base + d.Bin(float64(v)))
			}
			continue
		}
		edges, missing := d.Edges, base+len(d.Edges)+1
		for _, v := range cols[f].Values {
			x := float64(v)
			if x != x { // NaN
				add(missing)
				continue
			}
			b := 0
			for b < len(edges) && x > edges[b] {
				b++
			}
			add(base + b)
		}
	}
	if c.p.Score != nil {
		d, base := c.p.Score, c.offset[features]
		for _, s := range scores {
			add(base + d.Bin(s))
		}
	}
}

// Rows is how many rows were observed.
func (c *Counter) Rows() uint64 { return c.rows.Load() }

// Snapshot returns the live counts of each feature, then the score, with
// missing as the last bin (as Dist.WithMissing orders them).
func (c *Counter) Snapshot() [][]int64 {
	out := make([][]int64, len(c.dists))
	for i, d := range c.dists {
		s := make([]int64, d.Bins()+1)
		for b := range s {
			s[b] = int64(min(c.counts[c.offset[i]+b].Load(), math.MaxInt64))
		}
		out[i] = s
	}
	return out
}

// Dists returns what Snapshot's rows count: the features, then the score.
func (c *Counter) Dists() []*Dist { return c.dists }

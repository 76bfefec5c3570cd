package serve

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oip"
	"github.com/ferry-ml/ferry/internal/profile"
)

// driftCounter returns a counter of the model's training profile, as
// model.Load read it, or nil with the reason when there is none to count
// against: a model trained before profiles, a profile that cannot be read,
// or one whose features are not the model's. The server serves either way.
func driftCounter(m *model.Model) (*profile.Counter, string) {
	p, features := m.Profile, m.Manifest.Features
	switch {
	case m.ProfileErr != nil:
		return nil, m.ProfileErr.Error()
	case p == nil:
		return nil, "the model has no " + profile.File + " (trained before profiles): no drift counts"
	}
	if !slices.EqualFunc(p.Features, features, func(d profile.Dist, f data.Feature) bool { return d.Name == f.Name }) {
		return nil, fmt.Sprintf("%s profiles other features than the model's %d, or in another order: no drift counts", profile.File, len(features))
	}
	return profile.NewCounter(p), ""
}

// driftCollector exposes a counter's bins on /metrics, read when scraped.
type driftCollector struct {
	c                    *profile.Counter
	features, score, rws *prometheus.Desc
}

func newDriftCollector(c *profile.Counter) *driftCollector {
	return &driftCollector{
		c: c,
		features: prometheus.NewDesc(oip.MetricFeatureBins, "Scored rows by feature and bin of the training profile.",
			[]string{oip.LabelFeature, oip.LabelBin}, nil),
		score: prometheus.NewDesc(oip.MetricScoreBins, "Returned scores by bin of the training profile.", []string{oip.LabelBin}, nil),
		rws:   prometheus.NewDesc(oip.MetricProfiledRows, "Rows counted into the profile's bins.", nil, nil),
	}
}

func (d *driftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.features
	ch <- d.score
	ch <- d.rws
}

func (d *driftCollector) Collect(ch chan<- prometheus.Metric) {
	snap := d.c.Snapshot()
	nf := len(d.c.Profile().Features)
	for i, counts := range snap {
		for b, n := range counts {
			bin := strconv.Itoa(b)
			if b == len(counts)-1 {
				bin = oip.BinMissing
			}
			if i < nf {
				ch <- prometheus.MustNewConstMetric(d.features, prometheus.CounterValue, float64(n), d.c.Dists()[i].Name, bin)
			} else {
				ch <- prometheus.MustNewConstMetric(d.score, prometheus.CounterValue, float64(n), bin)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(d.rws, prometheus.CounterValue, float64(d.c.Rows()))
}

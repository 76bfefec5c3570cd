package monitor

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ferry-ml/ferry/internal/oip"
)

// queryPrometheus reads the live counts from a Prometheus server that
// scrapes the model's ferry-serve pods: the bin counters of the series
// cfg.Selector matches, summed over the servers, as increases over
// cfg.Window (or, with no window, as they stand: the counts since each
// server started). Prometheus extrapolates increases to the window's
// edges, so counts are rounded to whole rows. The servers must all serve
// the model being judged (ferry_serve_model_info's name): a selector that
// matches another model's servers, or none, is an error, not a verdict.
func queryPrometheus(ctx context.Context, cfg Config, deps Deps, modelName string) (*liveCounts, error) {
	c := api.Config{Address: cfg.Prometheus}
	if deps.HTTP != nil {
		c.Client = deps.HTTP
	}
	client, err := api.NewClient(c)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", cfg.Prometheus, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(cfg.Timeout, 30*time.Second))
	defer cancel()
	q := promQuery{api: promv1.NewAPI(client), url: cfg.Prometheus, sel: "{" + cfg.Selector + "}", window: cfg.Window}
	names, err := q.run(ctx, "count by (name) ("+oip.MetricModelInfo+q.sel+")")
	if err != nil {
		return nil, err
	}
	switch {
	case len(names) == 0:
		return nil, fmt.Errorf("prometheus %s has no %s%s: the selector matches no ferry-serve, or Prometheus does not scrape it", cfg.Prometheus, oip.MetricModelInfo, q.sel)
	case len(names) > 1 || string(names[0].Metric["name"]) != modelName:
		var got []string
		for _, s := range names {
			got = append(got, string(s.Metric["name"]))
		}
		return nil, fmt.Errorf("prometheus %s: the selector %s matches servers of model %s, not only %s: narrow it to this model's servers", cfg.Prometheus, q.sel, strings.Join(got, ", "), modelName)
	}
	lc := newLiveCounts()
	rows, err := q.run(ctx, "sum("+q.counter(oip.MetricProfiledRows)+")")
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("prometheus %s has no %s%s: the servers count no drift (a ferry-serve older than profiles, or a model without %s)", cfg.Prometheus, oip.MetricProfiledRows, q.sel, "profile.json")
	}
	lc.profiled, lc.rows = true, whole(rows[0].Value)
	features, err := q.run(ctx, "sum by ("+oip.LabelFeature+", "+oip.LabelBin+") ("+q.counter(oip.MetricFeatureBins)+")")
	if err != nil {
		return nil, err
	}
	for _, s := range features {
		name := string(s.Metric[oip.LabelFeature])
		if lc.features[name] == nil {
			lc.features[name] = map[string]float64{}
		}
		lc.features[name][string(s.Metric[oip.LabelBin])] += whole(s.Value)
	}
	scores, err := q.run(ctx, "sum by ("+oip.LabelBin+") ("+q.counter(oip.MetricScoreBins)+")")
	if err != nil {
		return nil, err
	}
	for _, s := range scores {
		lc.score[string(s.Metric[oip.LabelBin])] += whole(s.Value)
	}
	return lc, nil
}

// promQuery runs instant queries against one Prometheus.
type promQuery struct {
	api    promv1.API
	url    string
	sel    string // {matchers}
	window time.Duration
}

// counter is a counter's selected series, or their increase over the
// window.
func (q promQuery) counter(metric string) string {
	if q.window <= 0 {
		return metric + q.sel
	}
	return "increase(" + metric + q.sel + "[" + model.Duration(q.window).String() + "])"
}

// run runs one instant query, which must give a vector.
func (q promQuery) run(ctx context.Context, query string) (model.Vector, error) {
	v, _, _, err := q.api.Query(ctx, query, time.Now()) // warnings and infos do not change the counts
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: query %s: %w", q.url, query, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus %s: query %s gave a %s, not a vector", q.url, query, v.Type())
	}
	slices.SortFunc(vec, func(a, b *model.Sample) int { return strings.Compare(a.Metric.String(), b.Metric.String()) })
	return vec, nil
}

// whole rounds an extrapolated count to whole rows.
func whole(v model.SampleValue) float64 { return math.Round(float64(v)) }

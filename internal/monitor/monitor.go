package monitor

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/oip"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/templates/report"
)

// Config is what one monitor run needs.
type Config struct {
	Model string // the deployed model's directory, with its profile.json
	// URL is one ferry-serve, such as http://ranker.shop:8080; or Name is a
	// ferry deployment, whose every pod is read through the API server.
	URL                   string
	Name                  string
	Namespace, Kubeconfig string
	// Or Prometheus is a Prometheus server that scrapes the model's
	// servers: Selector's label matchers pick their series (such as
	// namespace="search",deployment="ranker"), and Window, when set, counts
	// the increase over that long instead of everything since the servers
	// started.
	Prometheus string
	Selector   string
	Window     time.Duration
	// PSI, PValue and MinRows are the thresholds (see config.Monitor);
	// FeaturePSI overrides PSI per feature.
	PSI        float64
	PValue     float64
	MinRows    int
	FeaturePSI map[string]float64
	Report     string // Markdown report path, "" for none
	JSON       string // JSON result path, "" for none
	Timeout    time.Duration

	// In an action: on drift, open or update the sticky issue (Issue) and
	// start RetrainWorkflow on RetrainRef, with Token, in Event's
	// repository.
	Event           *actionio.Event
	Token           string
	Issue           bool
	RetrainWorkflow string
	RetrainRef      string
}

// Validate checks the parameters that need no I/O.
func (c Config) Validate() error {
	var errs []error
	if c.Model == "" {
		errs = append(errs, &input.Error{Name: "model", Missing: true, Want: "the deployed model's directory, whose profile.json says what it saw in training"})
	}
	sources := 0
	for _, s := range []string{c.URL, c.Name, c.Prometheus} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources == 0:
		errs = append(errs, &input.Error{Name: "url", Missing: true, Want: "a ferry-serve's base URL, such as http://ranker.shop:8080; or name a Kubernetes deployment with --name, or a Prometheus server with --prometheus"})
	case sources > 1:
		errs = append(errs, &input.Error{Name: "name", Value: c.Name, Want: "one source of counts: a URL, a deployment's name, or a Prometheus server"})
	case c.Prometheus != "":
		if u, err := url.Parse(c.Prometheus); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, &input.Error{Name: "prometheus", Value: c.Prometheus, Want: "a Prometheus server's base URL, such as http://prometheus.monitoring:9090"})
		}
		if strings.TrimSpace(c.Selector) == "" || strings.ContainsAny(c.Selector, "{}") {
			errs = append(errs, &input.Error{Name: "selector", Value: c.Selector, Missing: c.Selector == "",
				Want: `the label matchers of this model's servers' series, without braces, such as namespace="search",deployment="ranker"`})
		}
	case c.URL != "":
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, &input.Error{Name: "url", Value: c.URL, Want: "a ferry-serve's base URL, such as http://ranker.shop:8080"})
		}
	}
	if !(c.PSI > 0) {
		errs = append(errs, &input.Error{Name: "psi", Value: strconv.FormatFloat(c.PSI, 'g', -1, 64), Want: "a positive index such as 0.2"})
	}
	if !(c.PValue > 0 && c.PValue < 1) {
		errs = append(errs, &input.Error{Name: "p-value", Value: strconv.FormatFloat(c.PValue, 'g', -1, 64), Want: "a level between 0 and 1 such as 0.01"})
	}
	if c.Window < 0 {
		errs = append(errs, &input.Error{Name: "window", Value: c.Window.String(), Want: "a duration such as 24h, or 0 for the counts since the servers started"})
	}
	if c.MinRows < 1 {
		errs = append(errs, &input.Error{Name: "min-rows", Value: strconv.Itoa(c.MinRows), Want: "a whole number from 1"})
	}
	return errors.Join(errs...)
}

// Statuses of a Result.
const (
	StatusOK      = "ok"
	StatusDrift   = "drift"
	StatusTooFew  = "too-few-rows"
	StatusProfile = "no-profile"
)

// Result is one monitor run: the report, and the DriftError when it
// found drift.
type Result struct {
	report.DriftReport
	// IssueURL is the drift issue opened or updated; Dispatched the
	// retraining workflow started ("" for none).
	IssueURL   string `json:"issue_url,omitempty"`
	Dispatched string `json:"dispatched,omitempty"`
	Err        error  `json:"-"`
}

// Outputs are the action's outputs.
func (r *Result) Outputs() map[string]string {
	return map[string]string{"status": r.Status, "drifted": strings.Join(r.Drifted, ","), "issue-url": r.IssueURL}
}

// Column is one column's verdict.
type Column = report.DriftColumn

// DriftError is a monitor run that found drift: a failed check, as a failed
// gate is.
type DriftError struct{ Columns []string }

func (e *DriftError) Error() string {
	return fmt.Sprintf("drift in %d column(s): %s", len(e.Columns), strings.Join(e.Columns, ", "))
}

// Deps are what Run needs from outside.
type Deps struct {
	HTTP *http.Client // nil: http.DefaultClient
	// Kube is the cluster for Config.Name; nil: connect with Kubeconfig.
	Kube kubernetes.Interface
	// Remote carries the registry credentials when Config.Model is an image.
	Remote []remote.Option
}

// Run reads the profile and the live counts, judges every column and
// writes the report and JSON when asked.
func Run(ctx context.Context, cfg Config, deps Deps) (*Result, error) {
	if _, err := os.Stat(cfg.Model); err != nil && oci.IsImageRef(cfg.Model) {
		dir, err := os.MkdirTemp("", "ferry-monitor-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if _, err := oci.PullModel(ctx, cfg.Model, dir, deps.Remote...); err != nil {
			return nil, err
		}
		cfg.Model = dir
	}
	p, err := profile.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	res := &Result{DriftReport: report.DriftReport{Model: modelName(cfg.Model), Source: cfg.URL, MinRows: cfg.MinRows, PValue: cfg.PValue, Drifted: []string{}}}
	if p == nil {
		res.Status = StatusProfile
		res.Note = "the model has no " + profile.File + " (it was trained or imported before ferry kept profiles, or imported without --data): there is nothing to compare the traffic with; retrain or re-import it with its data"
		return res, fmt.Errorf("%s: %s", cfg.Model, res.Note)
	}
	for name := range cfg.FeaturePSI {
		if p.Feature(name) == nil {
			return nil, &input.Error{Param: "ferry.yaml monitor.features", Value: name, Want: "a feature of the model: " + featureNames(p)}
		}
	}
	var live *liveCounts
	switch {
	case cfg.Prometheus != "":
		live, err = queryPrometheus(ctx, cfg, deps, res.Model)
		res.Source = "prometheus " + cfg.Prometheus + " {" + cfg.Selector + "}"
		if cfg.Window > 0 {
			res.Source += " over the last " + cfg.Window.String()
		}
	case cfg.Name != "":
		live, err = scrapePods(ctx, cfg, deps)
		res.Source = "deployment " + cfg.Namespace + "/" + cfg.Name
	default:
		live, err = scrape(ctx, cfg, deps)
	}
	if err != nil {
		return nil, err
	}
	if err := judge(res, p, live, cfg); err != nil {
		return nil, err
	}
	if res.Status == StatusDrift && cfg.Event != nil {
		if err := publish(ctx, cfg, res); err != nil {
			return nil, err
		}
	}
	if err := write(cfg, res); err != nil {
		return nil, err
	}
	return res, nil
}

// modelName is the name model.json gives, else the directory's.
func modelName(dir string) string {
	var m struct{ Name string }
	if b, err := os.ReadFile(filepath.Join(dir, "model.json")); err == nil && json.Unmarshal(b, &m) == nil && m.Name != "" {
		return m.Name
	}
	return filepath.Base(filepath.Clean(dir))
}

func featureNames(p *profile.Profile) string {
	names := make([]string, 0, len(p.Features))
	for _, f := range p.Features {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// liveCounts are the bins scraped from a server: by feature ("" for the
// score), each bin's count by its index, missing last.
type liveCounts struct {
	features map[string]map[string]float64
	score    map[string]float64
	rows     float64
	profiled bool // the server counts into a profile
}

// scrape reads ferry-serve's /metrics.
func scrape(ctx context.Context, cfg Config, deps Deps) (*liveCounts, error) {
	client := cmp.Or(deps.HTTP, http.DefaultClient)
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(cfg.Timeout, 30*time.Second))
	defer cancel()
	u := strings.TrimRight(cfg.URL, "/") + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read the live counts: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the live counts from %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the live counts from %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the live counts from %s: %s", u, resp.Status)
	}
	lc := newLiveCounts()
	if err := lc.add(body); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return lc, nil
}

// scrapePods reads /metrics of every running pod of the deployment
// cfg.Name through the API server and adds their counts up.
func scrapePods(ctx context.Context, cfg Config, deps Deps) (*liveCounts, error) {
	cs := deps.Kube
	if cs == nil {
		rc, err := kube.Config(cfg.Kubeconfig)
		if err != nil {
			return nil, err
		}
		if cs, err = kube.Connect(ctx, rc); err != nil {
			return nil, err
		}
	}
	pods, err := kube.ServingPods(ctx, cs, cfg.Namespace, cfg.Name)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no running pod of deployment %s/%s (label %s=%s): nothing to read counts from", cfg.Namespace, cfg.Name, kube.InstanceLabel, cfg.Name)
	}
	lc := newLiveCounts()
	for i := range pods {
		p := &pods[i]
		body, err := kube.PodMetrics(ctx, cs, p.Namespace, p.Name, kube.ServePort(p))
		if err != nil {
			return nil, fmt.Errorf("read the live counts of pod %s/%s through the API server: %w", p.Namespace, p.Name, err)
		}
		if err := lc.add(body); err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return lc, nil
}

func newLiveCounts() *liveCounts {
	return &liveCounts{features: map[string]map[string]float64{}, score: map[string]float64{}}
}

// add adds one server's counts, from its /metrics text.
func (lc *liveCounts) add(text []byte) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return fmt.Errorf("not Prometheus text (is it a ferry-serve?): %w", err)
	}
	lc.addFamilies(fams)
	return nil
}

func (lc *liveCounts) addFamilies(fams map[string]*dto.MetricFamily) {
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	if f := fams[oip.MetricFeatureBins]; f != nil {
		for _, m := range f.GetMetric() {
			name := label(m, oip.LabelFeature)
			if lc.features[name] == nil {
				lc.features[name] = map[string]float64{}
			}
			lc.features[name][label(m, oip.LabelBin)] += m.GetCounter().GetValue()
		}
	}
	if f := fams[oip.MetricScoreBins]; f != nil {
		for _, m := range f.GetMetric() {
			lc.score[label(m, oip.LabelBin)] += m.GetCounter().GetValue()
		}
	}
	if f := fams[oip.MetricProfiledRows]; f != nil {
		lc.profiled = true
		for _, m := range f.GetMetric() {
			lc.rows += m.GetCounter().GetValue()
		}
	}
}

// binCounts orders a column's scraped bins as d's, missing last.
func binCounts(d *profile.Dist, scraped map[string]float64) []int64 {
	out := make([]int64, d.Bins()+1)
	for bin, v := range scraped {
		if bin == oip.BinMissing {
			out[d.Bins()] += int64(v)
		} else if i, err := strconv.Atoi(bin); err == nil && i >= 0 && i < d.Bins() {
			out[i] += int64(v)
		}
	}
	return out
}

// judge compares every column and sets the status.
func judge(res *Result, p *profile.Profile, live *liveCounts, cfg Config) error {
	if !live.profiled {
		return fmt.Errorf("%s serves no drift counts (%s): it runs a ferry-serve older than profiles, or its model has no %s; its log says which", cfg.URL, oip.MetricProfiledRows, profile.File)
	}
	res.Rows = int64(live.rows)
	dists := make([]*profile.Dist, 0, len(p.Features)+1)
	for i := range p.Features {
		dists = append(dists, &p.Features[i])
	}
	if p.Score != nil {
		dists = append(dists, p.Score)
	}
	for _, d := range dists {
		scraped := live.features[d.Name]
		if d == p.Score {
			scraped = live.score
		}
		drift, err := profile.Compare(d, binCounts(d, scraped))
		if err != nil {
			return err
		}
		threshold := cfg.PSI
		if t, ok := cfg.FeaturePSI[d.Name]; ok && d != p.Score {
			threshold = t
		}
		col := Column{Drift: drift, Threshold: threshold}
		col.Drifted = res.Rows >= int64(cfg.MinRows) && drift.PSI >= threshold && drift.PValue < cfg.PValue
		if col.Drifted {
			res.Drifted = append(res.Drifted, columnName(d, p))
		}
		res.Columns = append(res.Columns, col)
	}
	switch {
	case res.Rows < int64(cfg.MinRows):
		res.Status = StatusTooFew
		res.Note = fmt.Sprintf("%d rows scored since the server started, under min-rows %d: too few to tell drift from chance; not judged", res.Rows, cfg.MinRows)
	case len(res.Drifted) > 0:
		res.Status = StatusDrift
		res.Err = &DriftError{Columns: res.Drifted}
	default:
		res.Status = StatusOK
	}
	// Most shifted first, so the report leads with what matters.
	sort.SliceStable(res.Columns, func(i, j int) bool { return res.Columns[i].PSI > res.Columns[j].PSI })
	return nil
}

func columnName(d *profile.Dist, p *profile.Profile) string {
	if d == p.Score {
		return "score"
	}
	return d.Name
}

// write writes the JSON result and the Markdown report, when asked.
func write(cfg Config, res *Result) error {
	if cfg.JSON != "" {
		if err := data.WriteFileAtomic(cfg.JSON, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}); err != nil {
			return fmt.Errorf("write %s: %w", cfg.JSON, err)
		}
	}
	if cfg.Report != "" {
		if err := data.WriteFileAtomic(cfg.Report, func(w io.Writer) error {
			_, err := io.WriteString(w, res.Markdown())
			return err
		}); err != nil {
			return fmt.Errorf("write %s: %w", cfg.Report, err)
		}
	}
	return nil
}

package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/oip"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/version"
)

// Config of a server.
type Config struct {
	ModelDir     string
	Addr         string
	Name         string        // default: the model's name
	MaxBodyBytes int64         // default 32 MiB
	MaxRows      int           // default 100000
	ReadTimeout  time.Duration // default 30 s
	WriteTimeout time.Duration // default 60 s
	DrainTimeout time.Duration // default 25 s, under Kubernetes' 30 s grace
	// Predictions, when its Path is set, logs scored requests.
	Predictions PredictionLog
	// NoBatch scores every request alone (see batcher).
	NoBatch bool
}

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 100000
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 25 * time.Second
	}
}

// Server serves one model.
type Server struct {
	cfg      Config
	model    *model.Model
	name     string
	version  string
	ready    atomic.Bool
	log      *slog.Logger
	reg      *prometheus.Registry
	reqs     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	rows     prometheus.Counter
	decoders sync.Pool        // *jsontext.Decoder: their read buffers outlive a request
	schema   *schema          // the model's features, for decoding requests
	drift    *profile.Counter // nil when the model has no usable profile
	predLog  *predLogger      // nil unless Config.Predictions.Path is set
	batch    *batcher         // nil when requests are scored alone
	inferred *endpointStats   // the infer endpoint's, which both transports count into
}

// Main is `ferry serve` and the ferry-serve binary: it loads the model and
// serves until ctx ends, then drains. Logs go to logTo.
func Main(ctx context.Context, cfg Config, logTo io.Writer) error {
	log := slog.New(slog.NewTextHandler(logTo, nil))
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	tuneGC(log)
	return s.Run(ctx, nil)
}

// New loads the model, warms it up and returns a ready server.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.defaults()
	m, err := model.Load(cfg.ModelDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, model: m, name: cfg.Name, log: log, reg: prometheus.NewRegistry(), schema: newSchema(m.Manifest.Features, m.Manifest.Faithful(data.Options{}).Exact)}
	if s.name == "" {
		s.name = m.Manifest.Name
	}
	s.version = m.Manifest.Lineage.GitSHA
	if len(s.version) > 12 {
		s.version = s.version[:12]
	}
	if s.version == "" {
		s.version = "1"
	}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: oip.MetricRequests, Help: "Requests by endpoint and status code."}, []string{oip.LabelEndpoint, oip.LabelCode})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: oip.MetricDuration, Help: "Request latency by endpoint.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{oip.LabelEndpoint})
	s.rows = prometheus.NewCounter(prometheus.CounterOpts{Name: oip.MetricRows, Help: "Rows scored."})
	s.inferred = s.endpoint(oip.EndpointInfer)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: oip.MetricModelInfo, Help: "The model served (always 1)."}, []string{"name", "version", "format", "task"})
	info.WithLabelValues(s.name, s.version, m.Manifest.Format, m.Manifest.Task).Set(1)
	s.reg.MustRegister(s.reqs, s.latency, s.rows, info, collectors.NewGoCollector())
	var why string
	if s.drift, why = driftCounter(m); s.drift != nil {
		s.reg.MustRegister(newDriftCollector(s.drift))
	} else {
		log.Warn("drift counting is off", "reason", why)
	}
	if cfg.Predictions.Path != "" {
		if s.predLog, err = newPredLogger(cfg.Predictions, s.name, cfg.ModelDir, log); err != nil {
			return nil, err
		}
		s.reg.MustRegister(s.predLog.dropped, s.predLog.written)
	}
	if err := s.warmUp(); err != nil {
		return nil, fmt.Errorf("warm up %s: %w", cfg.ModelDir, err)
	}
	if !cfg.NoBatch && batchable(m) {
		s.batch = newBatcher(m.PredictDataset)
		log.Info("small requests that arrive together are scored together", "max_rows_per_request", batchRequestRows, "max_rows_per_batch", batchRows)
	}
	s.ready.Store(true)
	return s, nil
}

// warmUp scores one row of missing values, so that the first request does
// not pay for first-use work and a model that cannot score fails now.
func (s *Server) warmUp() error {
	d := &data.Dataset{Rows: 1}
	for _, f := range s.model.Manifest.Features {
		d.Columns = append(d.Columns, data.Column{Name: f.Name, Categorical: f.Categorical, Categories: f.Categories, Values: []float32{float32(math.NaN())}})
	}
	if out := s.model.PredictDataset(d); len(out) != 1 {
		return fmt.Errorf("the model returned %d scores for one row", len(out))
	}
	return nil
}

// Handler returns the server's HTTP handler, every endpoint on net/http, for
// a server of the caller's. Run serves the same endpoints, infer on fasthttp
// (see fastHandler).
func (s *Server) Handler() http.Handler {
	return s.routes()
}

// routes is Handler's mux, which Run's transport also routes with.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+oip.LivePath, s.instrument("live", func(w http.ResponseWriter, r *http.Request) int {
		return reply(w, http.StatusOK, map[string]bool{"live": true})
	}))
	mux.HandleFunc("GET "+oip.ReadyPath, s.instrument("ready", s.readyHandler))
	mux.HandleFunc("GET /v2/models/{name}/ready", s.instrument("ready", s.modelReady))
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.instrument("ready", s.modelReady))
	mux.HandleFunc("GET /v2", s.instrument("metadata", func(w http.ResponseWriter, r *http.Request) int {
		return reply(w, http.StatusOK, map[string]any{"name": "ferry-serve", "version": version.Version, "extensions": []string{}})
	}))
	mux.HandleFunc("GET /v2/models/{name}", s.instrument("metadata", s.modelMetadata))
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.instrument("metadata", s.modelMetadata))
	mux.HandleFunc("POST /v2/models/{name}/infer", s.instrumentStats(s.inferred, s.inferHTTP))
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.instrumentStats(s.inferred, s.inferHTTP))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", s.instrument("other", func(w http.ResponseWriter, r *http.Request) int {
		return fail(w, http.StatusNotFound, "no route %s %s: see the Open Inference Protocol's /v2 endpoints", r.Method, r.URL.Path)
	}))
	return mux
}

type statusHandler func(w http.ResponseWriter, r *http.Request) int

// endpointStats counts and times one endpoint's requests. Its latency series
// and its count of 200s are looked up once, at the first request, so that a
// series appears once it counts.
type endpointStats struct {
	s        *Server
	endpoint string
	once     sync.Once
	latency  prometheus.Observer
	ok       prometheus.Counter
}

func (s *Server) endpoint(name string) *endpointStats {
	return &endpointStats{s: s, endpoint: name}
}

// done counts a request answered with code after it started at start.
func (e *endpointStats) done(code int, start time.Time) {
	e.once.Do(func() {
		e.latency = e.s.latency.WithLabelValues(e.endpoint)
		e.ok = e.s.reqs.WithLabelValues(e.endpoint, "200")
	})
	if code == http.StatusOK {
		e.ok.Inc()
	} else {
		e.s.reqs.WithLabelValues(e.endpoint, strconv.Itoa(code)).Inc()
	}
	e.latency.Observe(time.Since(start).Seconds())
}

// instrument counts and times a handler; a panic becomes a 500, never a
// dead server.
func (s *Server) instrument(endpoint string, h statusHandler) http.HandlerFunc {
	return s.instrumentStats(s.endpoint(endpoint), h)
}

func (s *Server) instrumentStats(e *endpointStats, h statusHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := http.StatusInternalServerError
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panicked", "endpoint", e.endpoint, "panic", fmt.Sprint(p))
				fail(w, http.StatusInternalServerError, "internal error")
			}
			e.done(code, start)
		}()
		code = h(w, r)
	}
}

func (s *Server) readyHandler(w http.ResponseWriter, r *http.Request) int {
	if !s.ready.Load() {
		return fail(w, http.StatusServiceUnavailable, "not ready")
	}
	return reply(w, http.StatusOK, map[string]bool{"ready": true})
}

// known answers whether name and version (which may be "") are the served
// model's, and if not, the 404's message.
func (s *Server) known(name, version string) (string, bool) {
	if name != s.name {
		return fmt.Sprintf("no model %q: this server serves %q", name, s.name), false
	}
	if version != "" && version != s.version {
		return fmt.Sprintf("no version %q of %q: this server serves version %q", version, s.name, s.version), false
	}
	return "", true
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) int {
	if msg, ok := s.known(r.PathValue("name"), r.PathValue("version")); !ok {
		return fail(w, http.StatusNotFound, "%s", msg)
	}
	return s.readyHandler(w, r)
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) int {
	if msg, ok := s.known(r.PathValue("name"), r.PathValue("version")); !ok {
		return fail(w, http.StatusNotFound, "%s", msg)
	}
	var inputs []oip.TensorMetadata
	for _, f := range s.model.Manifest.Features {
		dt := oip.FP32
		if f.Categorical {
			dt = oip.Bytes
		}
		inputs = append(inputs, oip.TensorMetadata{Name: f.Name, Datatype: dt, Shape: []int64{-1}})
	}
	return reply(w, http.StatusOK, oip.ModelMetadata{
		Name: s.name, Versions: []string{s.version}, Platform: "ferry/" + s.model.Manifest.Format,
		Inputs: inputs, Outputs: []oip.TensorMetadata{{Name: "score", Datatype: oip.FP64, Shape: []int64{-1}}},
		Parameters: map[string]string{"task": s.model.Manifest.Task, "objective": s.model.Manifest.Objective},
	})
}

// inferCall is one infer request as a transport hands it over: net/http's
// (inferHTTP) or fasthttp's (fastInfer).
type inferCall struct {
	name, version string    // from the path; version is "" when the path has none
	contentType   string    // "" when the request has none
	body          io.Reader // past Config.MaxBodyBytes a read fails with *http.MaxBytesError
	length        int64     // the body's declared length, negative when unknown
}

// inferHTTP is infer on net/http.
func (s *Server) inferHTTP(w http.ResponseWriter, r *http.Request) int {
	bp := replies.Get().(*[]byte)
	code, b := s.infer(inferCall{name: r.PathValue("name"), version: r.PathValue("version"), contentType: r.Header.Get("Content-Type"),
		body: http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), length: r.ContentLength}, (*bp)[:0])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
	putReply(bp, b)
	return code
}

// infer scores a request and appends its answer, JSON, to b: the scores
// (appendScores) or {"error": ...}, with the status code.
func (s *Server) infer(c inferCall, b []byte) (int, []byte) {
	if msg, ok := s.known(c.name, c.version); !ok {
		return http.StatusNotFound, appendError(b, "%s", msg)
	}
	// No readiness check: a Server exists only once its model is loaded and
	// warmed up, and while it drains it still scores what reaches it (a
	// load balancer routes to it until it sees the readiness probe fail).
	if !jsonType(c.contentType) {
		return http.StatusUnsupportedMediaType, appendError(b, "Content-Type %q: this server reads JSON requests, send Content-Type: application/json (the binary tensor extension is not supported)", c.contentType)
	}
	id, d, err := s.decode(c.body, c.length)
	if err != nil {
		return s.refusal(b, err)
	}
	var scores []float64
	if s.batch != nil {
		if scores, err = s.batch.score(d); err != nil {
			s.log.Error("scoring failed", "err", err)
			return http.StatusInternalServerError, appendError(b, "%v", err)
		}
	} else {
		scores = s.model.PredictDataset(d)
	}
	s.rows.Add(float64(d.Rows))
	for i, v := range scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return http.StatusBadRequest, appendError(b, "row %d could not be scored", i)
		}
	}
	if s.drift != nil {
		s.drift.Observe(d.Columns, scores)
	}
	if s.predLog != nil {
		s.predLog.observe(id, s.schema, d, scores)
	}
	return http.StatusOK, s.appendScores(b, id, scores)
}

// refusal is the answer to a request whose body could not be read or
// decoded (err), appended to b: 413 past the body limit, the request
// error's own code, else 400.
func (s *Server) refusal(b []byte, err error) (int, []byte) {
	var (
		re     *requestError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, appendError(b, "the request body is over %d bytes", s.cfg.MaxBodyBytes)
	case errors.As(err, &re):
		return re.code, appendError(b, "%s", re.msg)
	}
	return http.StatusBadRequest, appendError(b, "%v", err)
}

// replies pools the buffers infer answers are written into; a buffer grown
// past maxPooledReply by a large response is left to the collector rather
// than kept for small ones.
var replies = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledReply = 64 << 10

// putReply returns b, grown from *bp, to the pool once it is written.
func putReply(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledReply {
		*bp = b[:0]
		replies.Put(bp)
	}
}

// appendScores appends the infer response, oip.InferResponse with one FP64
// output "score" of shape [rows, 1], as encoding/json writes it (the same
// members in the same order, numbers in the same form), without
// reflection: at one row per request, encoding the reply by reflection cost
// a fifth of the handler. Scores are finite (infer refuses the rest).
func (s *Server) appendScores(b []byte, id string, scores []float64) []byte {
	b = append(b, `{"model_name":`...)
	b, _ = jsontext.AppendQuote(b, s.name) // invalid UTF-8 comes out replaced, as encoding/json does
	if s.version != "" {
		b = append(b, `,"model_version":`...)
		b, _ = jsontext.AppendQuote(b, s.version)
	}
	if id != "" {
		b = append(b, `,"id":`...)
		b, _ = jsontext.AppendQuote(b, id)
	}
	b = append(b, `,"outputs":[{"name":"score","shape":[`...)
	b = strconv.AppendInt(b, int64(len(scores)), 10)
	b = append(b, `,1],"datatype":"FP64","data":[`...)
	for i, v := range scores {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, v)
	}
	return append(b, "]}]}\n"...)
}

// appendFloat appends v as encoding/json writes a float64: the shortest
// decimal that reads back as v, in 'f' form unless its magnitude is under
// 1e-6 or from 1e21, then in 'e' form with a two-digit exponent shortened
// (1e-07 becomes 1e-7).
func appendFloat(b []byte, v float64) []byte {
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonType says whether a request body of Content-Type ct is read, as JSON:
// a request without a Content-Type is read as JSON, one that says it is
// something else is refused (415).
func jsonType(ct string) bool {
	if ct == "" || ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// decode streams a request body of the declared length (negative: unknown) into a
// data set (see decodeRequest), within the server's body and row limits.
func (s *Server) decode(body io.Reader, length int64) (string, *data.Dataset, error) {
	size := s.cfg.MaxBodyBytes
	if length >= 0 && length < size {
		size = length
	}
	dec, _ := s.decoders.Get().(*jsontext.Decoder)
	if dec == nil {
		dec = jsontext.NewDecoder(body)
	} else {
		dec.Reset(body)
	}
	defer func() {
		dec.Reset(http.NoBody) // drop the request's reader, keep the buffer
		s.decoders.Put(dec)
	}()
	return decodeRequest(dec, s.schema, limits{maxRows: s.cfg.MaxRows, maxValues: size/2 + 1})
}

func reply(w http.ResponseWriter, code int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
	return code
}

func fail(w http.ResponseWriter, code int, format string, args ...any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(appendError(nil, format, args...))
	return code
}

// appendError appends {"error": message} and a newline to b, as
// json.Encoder writes it.
func appendError(b []byte, format string, args ...any) []byte {
	msg, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
	return append(append(b, msg...), '\n')
}

// Run serves until ctx ends, then drains: it turns unready (the readiness
// endpoints answer 503; inference still answers), stops accepting
// connections and waits for the requests in flight (up to DrainTimeout).
// ready, when not nil, receives the address once the server listens.
func (s *Server) Run(ctx context.Context, ready chan<- string) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	srv, served := s.fastServer(), newServedListener(ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(served) }()
	s.log.Info("serving", "model", s.name, "version", s.version, "format", s.model.Manifest.Format, "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// fasthttp's Shutdown closes the listeners its Serve has taken up, and
	// returns at once if there is none yet.
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-served.accepting:
	}
	s.ready.Store(false)
	s.log.Info("draining", "timeout", s.cfg.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	err = srv.ShutdownWithContext(dctx)
	if s.predLog != nil {
		s.predLog.close() // after the last request: its record is queued
	}
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

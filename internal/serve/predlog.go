package serve

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/data"
)

// PredictionLog configures the optional log of scored requests, the other
// half of the feedback join: the outcomes that arrive later (a click, a
// purchase) are joined to the scores on the request id.
type PredictionLog struct {
	// Path is the file to append JSON lines to, or "-" for standard output;
	// "" logs nothing.
	Path string
	// Sample is the share of requests logged, in (0, 1].
	Sample float64
	// MaxBytes rotates the file when it would grow past this: it is renamed
	// to Path.1 (replacing the one before) and a new one started.
	MaxBytes int64
	// Inputs logs the feature values themselves; without it, their sha256.
	Inputs bool
}

// predRecord is one logged request.
type predRecord struct {
	ID          string               `json:"id,omitempty"`
	Model       string               `json:"model"`
	ModelSHA256 string               `json:"model_sha256"` // of model.json, which names the weights' format and schema
	Time        string               `json:"time"`
	Rows        int                  `json:"rows"`
	Inputs      map[string][]float64 `json:"inputs,omitempty"` // categories as their index in the model's schema
	InputSHA256 string               `json:"inputs_sha256,omitempty"`
	Scores      []float64            `json:"scores"`
}

// predLogger writes records from a queue on a goroutine of its own: a
// request never waits for the disk. When the queue is full the record is
// dropped and counted.
type predLogger struct {
	cfg     PredictionLog
	model   string
	digest  string
	queue   chan predRecord
	dropped prometheus.Counter
	written prometheus.Counter
	log     *slog.Logger
	done    sync.WaitGroup

	out  io.Writer
	file *os.File
	size int64
}

// predLogQueue is how many records may wait for the writer.
const predLogQueue = 4096

func newPredLogger(cfg PredictionLog, model, modelDir string, log *slog.Logger) (*predLogger, error) {
	b, err := os.ReadFile(modelDir + "/model.json")
	if err != nil {
		return nil, fmt.Errorf("prediction log: %w", err)
	}
	sum := sha256.Sum256(b)
	l := &predLogger{cfg: cfg, model: model, digest: hex.EncodeToString(sum[:]), queue: make(chan predRecord, predLogQueue), log: log,
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_serve_prediction_log_dropped_total", Help: "Sampled requests not logged: the writer was behind or failed."}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_serve_prediction_log_records_total", Help: "Requests written to the prediction log."})}
	if err := l.open(); err != nil {
		return nil, err
	}
	l.done.Add(1)
	go l.run()
	return l, nil
}

func (l *predLogger) open() error {
	if l.cfg.Path == "-" {
		l.out = os.Stdout
		return nil
	}
	f, err := os.OpenFile(l.cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("prediction log: %w", err)
	}
	l.file, l.out, l.size = f, f, fi.Size()
	return nil
}

// observe queues one request's record when it is sampled.
func (l *predLogger) observe(id string, schema *schema, d *data.Dataset, scores []float64) {
	if l.cfg.Sample < 1 && rand.Float64() >= l.cfg.Sample {
		return
	}
	rec := predRecord{ID: id, Model: l.model, ModelSHA256: l.digest, Time: time.Now().UTC().Format(time.RFC3339Nano), Rows: d.Rows,
		Scores: scores}
	if l.cfg.Inputs {
		rec.Inputs = make(map[string][]float64, len(d.Columns))
		for j, c := range d.Columns {
			vals := make([]float64, len(c.Values))
			for i, v := range c.Values {
				vals[i] = float64(v)
			}
			rec.Inputs[schema.features[j].Name] = vals
		}
	} else {
		rec.InputSHA256 = inputHash(d)
	}
	select {
	case l.queue <- rec:
	default:
		l.dropped.Inc()
	}
}

// inputHash is the sha256 of the decoded values, column by column as float32
// bits: the same rows give the same hash whatever their JSON spelling.
func inputHash(d *data.Dataset) string {
	h := sha256.New()
	var buf [4]byte
	for _, c := range d.Columns {
		for _, v := range c.Values {
			bits := math.Float32bits(v)
			if v != v {
				bits = 0x7fc00000 // one NaN
			}
			binary.LittleEndian.PutUint32(buf[:], bits)
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (l *predLogger) run() {
	defer l.done.Done()
	for rec := range l.queue {
		b, err := json.Marshal(rec)
		if err == nil {
			b = append(b, '\n')
			err = l.write(b)
		}
		if err != nil {
			l.dropped.Inc()
			l.log.Warn("prediction log", "error", err)
			continue
		}
		l.written.Inc()
	}
	if l.file != nil {
		l.file.Close()
	}
}

func (l *predLogger) write(b []byte) error {
	if l.file != nil && l.cfg.MaxBytes > 0 && l.size > 0 && l.size+int64(len(b)) > l.cfg.MaxBytes {
		l.file.Close()
		if err := os.Rename(l.cfg.Path, l.cfg.Path+".1"); err != nil {
			return err
		}
		if err := l.open(); err != nil {
			return err
		}
	}
	n, err := l.out.Write(b)
	l.size += int64(n)
	return err
}

// close writes what is queued and closes the file.
func (l *predLogger) close() {
	close(l.queue)
	l.done.Wait()
}

package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/lightgbm"
	"github.com/ferry-ml/ferry/internal/linear"
	"github.com/ferry-ml/ferry/internal/mlp"
	"github.com/ferry-ml/ferry/internal/onnx"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/xgboost"
)

// Predictor scores data read with the model's schema (data.Options.Schema =
// Manifest.Features): one score per row, a probability for binary tasks.
type Predictor interface {
	PredictDataset(d *data.Dataset) []float64
}

// Model is a loaded model directory.
type Model struct {
	Dir      string
	Manifest Manifest
	Predictor
	// Profile is the training data's profile (profile.json); nil for a
	// model without one, or with one that cannot be read (which
	// profile.Load reports).
	Profile *profile.Profile
	// ProfileErr says why a profile.json that exists could not be read.
	ProfileErr error
	// PayloadBytes is the size of the weights file.
	PayloadBytes int64
	// Evaluations are the data the model was evaluated on (one record per
	// data URL, EvaluationFile); none before its first evaluation.
	Evaluations Evaluations
}

// payloadName is the weights file of each format.
var payloadName = map[string]string{
	FormatGBDT:     "gbdt.json",
	FormatLinear:   "linear.json",
	FormatMLP:      "mlp.json",
	FormatXGBoost:  "xgboost.json",
	FormatLightGBM: "lightgbm.txt",
	FormatONNX:     "model.onnx",
}

// decoders turn a payload into a Predictor, by format.
var decoders = map[string]func([]byte) (Predictor, error){
	FormatGBDT: func(b []byte) (Predictor, error) {
		var m gbdt.Model
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		return &m, nil
	},
	FormatMLP: func(b []byte) (Predictor, error) {
		var m mlp.Model
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		m.Pack() // weights final: score in float32 with the product kernel
		return &m, nil
	},
	FormatXGBoost:  func(b []byte) (Predictor, error) { return xgboost.Parse(b) },
	FormatLightGBM: func(b []byte) (Predictor, error) { return lightgbm.Parse(b) },
	FormatONNX:     func(b []byte) (Predictor, error) { return onnx.Parse(b) },
	FormatLinear: func(b []byte) (Predictor, error) {
		var m linear.Model
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		return &m, nil
	},
}

// fileDecoders read a payload from its file themselves, where holding the
// file's bytes would double the memory a large model loads in (an ONNX
// network with a 1M x 64 embedding); they take precedence over decoders.
var fileDecoders = map[string]func(path string) (Predictor, error){
	FormatONNX: func(path string) (Predictor, error) { return onnx.ParseFile(path) },
}

// Load reads a model directory.
func Load(dir string) (*Model, error) {
	mpath := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(mpath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a model directory: it has no %s", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", mpath, err)
	}
	if m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s: format version %d was written by a newer ferry; this one reads up to %d: upgrade ferry", mpath, m.FormatVersion, FormatVersion)
	}
	if m.FormatVersion < 1 {
		return nil, fmt.Errorf("%s: format_version %d is not valid: want 1 to %d", mpath, m.FormatVersion, FormatVersion)
	}
	decode, ok := decoders[m.Format]
	if !ok {
		return nil, fmt.Errorf("%s: format %q is not one this ferry scores", mpath, m.Format)
	}
	if m.Payload == "" || filepath.Base(m.Payload) != m.Payload {
		return nil, fmt.Errorf("%s: payload %q must be a file name beside model.json", mpath, m.Payload)
	}
	if len(m.Features) == 0 {
		return nil, fmt.Errorf("%s: the feature schema is empty", mpath)
	}
	if rb, err := os.ReadFile(filepath.Join(dir, RunFile)); err == nil {
		if err := json.Unmarshal(rb, &m.Run); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load model: %w", err)
	}
	p, size, err := decodePayload(filepath.Join(dir, m.Payload), decode, fileDecoders[m.Format])
	if err != nil {
		return nil, err
	}
	if c, ok := p.(interface{ Check([]data.Feature) error }); ok {
		if err := c.Check(m.Features); err != nil {
			return nil, fmt.Errorf("%s: %w", mpath, err)
		}
	}
	evals, err := LoadEvaluations(dir)
	if err != nil {
		return nil, err
	}
	prof, perr := profile.Load(dir) // optional: a bad one is reported by its users (serve, monitor)
	return &Model{Dir: dir, Manifest: m, Predictor: p, Profile: prof, ProfileErr: perr, PayloadBytes: size, Evaluations: evals}, nil
}

// decodePayload decodes the weights file at path, with fromFile when the
// format has one, and returns its size.
func decodePayload(path string, decode func([]byte) (Predictor, error), fromFile func(string) (Predictor, error)) (Predictor, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("load model: %w", err)
	}
	var p Predictor
	if fromFile != nil {
		p, err = fromFile(path)
	} else {
		var b []byte
		if b, err = os.ReadFile(path); err != nil {
			return nil, 0, fmt.Errorf("load model: %w", err)
		}
		p, err = decode(b)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return p, st.Size(), nil
}

// Save writes a model directory at dir: model.json and the payload. It
// writes into a new directory beside dir and renames it into place, so dir
// is either the complete new model or untouched. An existing dir is replaced
// only when it is a model directory itself.
func Save(dir string, m Manifest, payload any) error {
	name, ok := payloadName[m.Format]
	if !ok {
		return fmt.Errorf("save model: unknown format %q", m.Format)
	}
	m.Payload = name
	m.FormatVersion = FormatVersion
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("save model: %s exists and is not a directory", dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("save model: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil && len(entries) > 0 {
			return fmt.Errorf("save model: %s exists, is not empty and is not a model directory: choose another --out", dir)
		}
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeJSON(filepath.Join(tmp, name), payload, false); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := writeJSON(filepath.Join(tmp, ManifestFile), m, true); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if m.Profile != nil {
		if err := writeJSON(filepath.Join(tmp, profile.File), m.Profile, false); err != nil {
			return fmt.Errorf("save model: %w", err)
		}
	}
	if !m.Run.Started.IsZero() {
		if err := writeJSON(filepath.Join(tmp, RunFile), m.Run, true); err != nil {
			return fmt.Errorf("save model: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("save model: replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// writeJSON writes v as JSON: the manifest indented for people, the payload
// compact. A []byte payload (a foreign model file) is written as it is.
func writeJSON(path string, v any, indent bool) error {
	if raw, ok := v.([]byte); ok {
		return os.WriteFile(path, raw, 0o644)
	}
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

package model

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/lightgbm"
	"github.com/ferry-ml/ferry/internal/onnx"
	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/internal/xgboost"
)

// Foreign is what ferry learns from a model file written by another tool,
// before it becomes a model directory.
type Foreign struct {
	Format    string // FormatXGBoost, FormatLightGBM or FormatONNX
	Task      string // "" when the file does not say (ONNX)
	Objective string
	Algorithm string
	Trainer   string // the tool and its version
	// Features names the model's inputs when the file knows them (XGBoost's
	// and LightGBM's width, with their names or as f0, f1...; nil for ONNX,
	// whose inputs need a schema).
	Features []data.Feature
	check    func([]data.Feature) error
}

// Check verifies a feature schema against the model.
func (f *Foreign) Check(features []data.Feature) error { return f.check(features) }

// Scorable reports whether InspectForeign reads a format ("xgboost",
// "lightgbm", "onnx").
func Scorable(format string) bool {
	return format == "xgboost" || format == "lightgbm" || format == "onnx"
}

// InspectForeign reads a foreign model file of the given format ("xgboost",
// "lightgbm" or "onnx") and checks that ferry can score it.
func InspectForeign(format string, raw []byte) (*Foreign, error) {
	switch format {
	case "xgboost":
		xm, err := xgboost.Parse(raw)
		if err != nil {
			return nil, err
		}
		return &Foreign{Format: FormatXGBoost, Task: xm.Task(), Objective: xm.Objective, Algorithm: "xgboost",
			Trainer: "xgboost " + xm.Version, check: xm.Check, Features: positional(xm.NumFeature, xm.FeatureName)}, nil
	case "lightgbm":
		lm, err := lightgbm.Parse(raw)
		if err != nil {
			return nil, err
		}
		return &Foreign{Format: FormatLightGBM, Task: lm.Task(), Objective: lm.Objective, Algorithm: "lightgbm",
			Trainer: "lightgbm (text model " + lm.Version + ")", check: lm.Check, Features: positional(lm.NumFeature, lm.FeatureNames)}, nil
	case "onnx":
		om, err := onnx.Parse(raw)
		if err != nil {
			return nil, err
		}
		return &Foreign{Format: FormatONNX, Algorithm: "onnx", Trainer: "onnx", check: om.Check}, nil
	}
	return nil, &NotScorableError{Format: format}
}

// positional names n features by the names a model file saved, or f0, f1...
func positional(n int, saved []string) []data.Feature {
	var fs []data.Feature
	for k := 0; k < n; k++ {
		name := fmt.Sprintf("f%d", k)
		if k < len(saved) && saved[k] != "" {
			name = saved[k]
		}
		fs = append(fs, data.Feature{Name: name})
	}
	return fs
}

// NotScorableError is a model format this ferry cannot score yet.
type NotScorableError struct{ Format string }

func (e *NotScorableError) Error() string {
	return fmt.Sprintf("ferry does not score %s models yet: it scores ferry models, XGBoost JSON, LightGBM text and ONNX", e.Format)
}

// ErrNeedsSchema is a foreign model that does not name its inputs (ONNX),
// imported without the data it was trained on.
var ErrNeedsSchema = errors.New("the model does not name its inputs: it needs the data it was trained on for its schema")

// ForeignManifest describes a foreign model file (raw, in format from:
// "xgboost", "lightgbm" or "onnx") as a ferry model's manifest: its format,
// task (task when the file does not say), objective, algorithm and trainer,
// and its inputs. The inputs are those of train, the data the model was
// trained on, when given (a LibSVM file's padded to the model's width, as
// LibSVM names features by id and a file may not use the highest ones), with
// how that data was read; else the model's own; ErrNeedsSchema when neither
// names them. The schema is checked against the model. The caller fills in
// the name and the rest of the lineage.
func ForeignManifest(from string, raw []byte, task string, train *data.Dataset, read data.Options) (Manifest, error) {
	fm, err := InspectForeign(from, raw)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: fm.Format, Task: cmp.Or(fm.Task, task), Objective: fm.Objective, Algorithm: fm.Algorithm,
		Params: map[string]string{}, Lineage: Lineage{Trainer: fm.Trainer}}
	if fm.Objective != "" {
		m.Params["objective"] = fm.Objective
	}
	switch {
	case train != nil:
		m.Features = train.Schema()
		if train.Format == data.LibSVM {
			m.Features = data.PadLibSVM(m.Features, len(fm.Features))
		}
		m.Input = Input{Format: string(train.Format), Label: read.Label, Group: read.Group, Header: read.Header}
		if train.Delimiter != 0 {
			m.Input.Delimiter = string(train.Delimiter)
		}
	case fm.Features != nil:
		m.Features = fm.Features
	default:
		return Manifest{}, ErrNeedsSchema
	}
	if err := fm.Check(m.Features); err != nil {
		return Manifest{}, fmt.Errorf("the model and its schema: %w", err)
	}
	return m, nil
}

// Import writes a model directory at out around the foreign model file
// (format from), named name (default: out's base name), with its schema
// from train (read from dataPath with read), or the model's own; task when
// the file does not say. The directory is loaded back to check it.
func Import(ctx context.Context, from, file, out, name, task string, train *data.Dataset, dataPath string, read data.Options) (Manifest, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Manifest{}, fmt.Errorf("import model: %w", err)
	}
	m, err := ForeignManifest(from, raw, task, train, read)
	if errors.Is(err, ErrNeedsSchema) {
		return Manifest{}, err
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", file, err)
	}
	m.Name = cmp.Or(name, filepath.Base(filepath.Clean(out)))
	m.Lineage.FerryVersion = version.Version
	if train != nil {
		m.Lineage.Data, m.Lineage.DataSHA256, m.Lineage.DataSources = dataPath, train.SHA256, train.Sources
	}
	if err := Save(out, m, raw); err != nil {
		return Manifest{}, err
	}
	loaded, err := Load(out)
	if err != nil {
		return Manifest{}, fmt.Errorf("check the imported model: %w", err)
	}
	if dataPath != "" {
		if err := loaded.WriteProfile(ctx, dataPath, read); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

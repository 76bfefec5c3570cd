package model

import (
	"fmt"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/onnx"
	"github.com/ferry-ml/ferry/internal/xgboost"
)

// Foreign is what ferry learns from a model file written by another tool,
// before it becomes a model directory.
type Foreign struct {
	Format    string // FormatXGBoost or FormatONNX
	Task      string // "" when the file does not say (ONNX)
	Objective string
	Algorithm string
	Trainer   string // the tool and its version
	// Features names the model's inputs when the file knows them (XGBoost's
	// width, as f0, f1...; nil for ONNX, whose inputs need a schema).
	Features []data.Feature
	check    func([]data.Feature) error
}

// Check verifies a feature schema against the model.
func (f *Foreign) Check(features []data.Feature) error { return f.check(features) }

// Scorable reports whether InspectForeign reads a format ("xgboost", "onnx").
func Scorable(format string) bool { return format == "xgboost" || format == "onnx" }

// InspectForeign reads a foreign model file of the given format ("xgboost" or
// "onnx") and checks that ferry can score it.
func InspectForeign(format string, raw []byte) (*Foreign, error) {
	switch format {
	case "xgboost":
		xm, err := xgboost.Parse(raw)
		if err != nil {
			return nil, err
		}
		f := &Foreign{Format: FormatXGBoost, Task: xm.Task(), Objective: xm.Objective, Algorithm: "xgboost",
			Trainer: "xgboost " + xm.Version, check: xm.Check}
		for k := 0; k < xm.NumFeature; k++ {
			name := fmt.Sprintf("f%d", k)
			if k < len(xm.FeatureName) && xm.FeatureName[k] != "" {
				name = xm.FeatureName[k]
			}
			f.Features = append(f.Features, data.Feature{Name: name})
		}
		return f, nil
	case "onnx":
		om, err := onnx.Parse(raw)
		if err != nil {
			return nil, err
		}
		return &Foreign{Format: FormatONNX, Algorithm: "onnx", Trainer: "onnx", check: om.Check}, nil
	}
	return nil, &NotScorableError{Format: format}
}

// NotScorableError is a model format this ferry cannot score yet.
type NotScorableError struct{ Format string }

func (e *NotScorableError) Error() string {
	return fmt.Sprintf("ferry does not score %s models yet: it scores ferry models, XGBoost JSON and ONNX", e.Format)
}

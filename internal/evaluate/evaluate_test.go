package evaluate_test

import (
	"errors"
	"testing"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
)

// Validate names the parameter at fault by its declared name, for the front
// end to name as the user met it, and accepts what is valid.
func TestValidate(t *testing.T) {
	ok := func() evaluate.Config {
		return evaluate.Config{Candidate: "models/candidate", Data: "test.csv", Resamples: 1000, Confidence: 0.95,
			Gates: []string{"auc max-drop 1%"}, ModelChanged: true}
	}
	for _, tc := range []struct {
		name  string
		set   func(*evaluate.Config)
		param string // "" when valid
	}{
		{"valid", func(*evaluate.Config) {}, ""},
		{"predictions", func(c *evaluate.Config) { c.Candidate, c.Data, c.CandidatePredictions = "", "", "c.csv" }, ""},
		{"no candidate", func(c *evaluate.Config) { c.Candidate = "" }, "candidate"},
		{"no data", func(c *evaluate.Config) { c.Data = "" }, "data"},
		{"both candidates", func(c *evaluate.Config) { c.CandidatePredictions = "c.csv" }, "candidate-predictions"},
		{"slice of predictions", func(c *evaluate.Config) { c.Candidate, c.CandidatePredictions, c.Slice = "", "c.csv", "device" }, "slice"},
		{"bad gate", func(c *evaluate.Config) { c.Gates = []string{"auc > 0.8"} }, "gate"},
		{"resamples", func(c *evaluate.Config) { c.Resamples = -1 }, "bootstrap"},
		{"confidence", func(c *evaluate.Config) { c.Confidence = 95 }, "confidence"},
		{"head sha", func(c *evaluate.Config) { c.HeadSHA = "abc" }, "head-sha"},
		{"no token", func(c *evaluate.Config) { c.Event, c.Comment = &actionio.Event{}, true }, "github-token"},
		{"fork without token", func(c *evaluate.Config) { c.Event, c.Comment = &actionio.Event{Fork: true}, true }, ""},
		{"unchanged, unnamed", func(c *evaluate.Config) { c.ModelChanged = false }, "model-changed"},
		{"unchanged", func(c *evaluate.Config) { c.ModelChanged, c.Name = false, "ranker" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.set(&c)
			err := c.Validate()
			var ie *input.Error
			switch {
			case tc.param == "" && err != nil:
				t.Fatalf("a valid config: %v", err)
			case tc.param != "" && (!errors.As(err, &ie) || ie.Name != tc.param):
				t.Fatalf("got %v, want an error naming %s", err, tc.param)
			}
		})
	}
}

package evaluate

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
)

// RecheckConfig is what a recheck before a rollout compares on: ferry.yaml's
// test data and gates.
type RecheckConfig struct {
	Image      name.Digest // the image about to roll out
	Champion   string      // the champion that serves now (its tag)
	Data       string
	Read       data.Options
	Gates      []string // as written in ferry.yaml
	Resamples  int
	Confidence float64
	// AllowDataChange rechecks on Data even when it changed since the
	// image's model was evaluated on it.
	AllowDataChange bool
}

// Recheck evaluates the image about to roll out against the champion that
// serves now. A pull request was compared with the champion of its day;
// when another merge has moved the champion since, two candidates that each
// beat the old one could both ship. It returns the failed gates' summary
// and a *compare.GateError when the rollout must stop, and "", nil when it
// may go on (also when there is no champion yet).
func Recheck(ctx context.Context, cfg RecheckConfig, auth remote.Option, logf func(string, ...any)) (string, error) {
	var gates []compare.Gate
	for _, t := range cfg.Gates {
		g, err := compare.ParseGate(t)
		var syntax *compare.SyntaxError
		if errors.As(err, &syntax) {
			return "", &input.Error{Param: "ferry.yaml evaluate.gates", Value: t, Want: syntax.Want}
		}
		if err != nil {
			return "", err
		}
		gates = append(gates, g)
	}
	scores, _, err := scoreModels(ctx, cfg.Image.String(), cfg.Champion, cfg.Data, cfg.Read, auth, true, cfg.AllowDataChange)
	if err != nil {
		return "", fmt.Errorf("recheck against the champion: %w", err)
	}
	if scores.Champion == nil {
		logf("recheck: no champion yet, nothing to compare with")
		return "", nil
	}
	res, err := compare.Compare(*scores, compare.Options{Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: 1, K: []int{1, 3, 5, 10}, Gates: gates})
	if err != nil {
		return "", fmt.Errorf("recheck against the champion: %w", err)
	}
	for _, g := range res.Gates {
		logf("recheck against the current champion: %s", g.Message)
	}
	failed := res.Failed()
	if len(failed) == 0 {
		return "", nil
	}
	summary := fmt.Sprintf("### ❌ Not deployed: %s fails against the current champion\n\nThe champion moved since the pull request was evaluated (another merge). Against the one that serves now:\n\n", cfg.Image)
	for _, g := range failed {
		summary += "- ❌ `" + g.Gate.Text + "`: " + g.Message + "\n"
	}
	summary += "\nNothing was rolled out and the champion tag did not move. Rebase the pull request and evaluate again.\n"
	return summary, &compare.GateError{Failed: failed}
}

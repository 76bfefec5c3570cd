package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/compare"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
)

// recheck evaluates the image about to roll out against the champion that
// serves now, on ferry.yaml's test data with its gates. A pull request was
// compared with the champion of its day; when another merge has moved the
// champion since, two candidates that each beat the old one could both
// ship. It returns an Outcome (with the gate error) when the rollout must
// stop, and nil when it may go on.
func recheck(ctx context.Context, in *input.Reader, configPath string, auth remote.Option, pinned name.Digest, logf func(string, ...any)) (*deploy.Outcome, error) {
	file, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if file == nil || file.Data.Test == "" || len(file.Evaluate.Gates) == 0 {
		return nil, &input.Error{Param: in.Describe("recheck"), Value: "true",
			Want: "false, or a ferry.yaml (config) with data.test and evaluate.gates: the recheck scores both models on that data and applies those gates"}
	}
	var gates []compare.Gate
	for _, t := range file.Evaluate.Gates {
		g, err := compare.ParseGate(t)
		var syntax *compare.SyntaxError
		if errors.As(err, &syntax) {
			return nil, &input.Error{Param: "ferry.yaml evaluate.gates", Value: t, Want: syntax.Want}
		}
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	read, err := overlay{in}.dataOptions(data.Options{}, file.Data)
	if err != nil {
		return nil, err
	}
	champion := pinned.Context().Tag(deploy.ChampionTag).String()
	scores, _, err := evaluate.ScoreModels(ctx, pinned.String(), champion, file.Data.Test, read, auth, true)
	if err != nil {
		return nil, fmt.Errorf("recheck against the champion: %w", err)
	}
	if scores.Champion == nil {
		logf("recheck: no champion yet, nothing to compare with")
		return nil, nil
	}
	resamples, confidence := 1000, 0.95
	if file.Evaluate.Bootstrap != nil {
		resamples = *file.Evaluate.Bootstrap
	}
	if file.Evaluate.Confidence != nil {
		confidence = *file.Evaluate.Confidence
	}
	res, err := compare.Compare(*scores, compare.Options{Resamples: resamples, Confidence: confidence, Seed: 1, K: []int{1, 3, 5, 10}, Gates: gates})
	if err != nil {
		return nil, fmt.Errorf("recheck against the champion: %w", err)
	}
	for _, g := range res.Gates {
		logf("recheck against the current champion: %s", g.Message)
	}
	failed := res.Failed()
	if len(failed) == 0 {
		return nil, nil
	}
	summary := fmt.Sprintf("### ❌ Not deployed: %s fails against the current champion\n\nThe champion moved since the pull request was evaluated (another merge). Against the one that serves now:\n\n", pinned)
	for _, g := range failed {
		summary += "- ❌ `" + g.Gate.Text + "`: " + g.Message + "\n"
	}
	summary += "\nNothing was rolled out and the champion tag did not move. Rebase the pull request and evaluate again.\n"
	return &deploy.Outcome{Outputs: map[string]string{"status": "failed"}, Summary: summary, Err: &compare.GateError{Failed: failed}}, nil
}

package cli

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
)

// recheck is deploy's recheck hook: evaluate.Recheck on ferry.yaml's test
// data and gates, against the champion tag of the image's repository.
func recheck(ctx context.Context, in *input.Reader, configPath string, auth remote.Option, pinned name.Digest, logf func(string, ...any)) (*deploy.Outcome, error) {
	file, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if file == nil || file.Data.Test == "" || len(file.Evaluate.Gates) == 0 {
		return nil, &input.Error{Param: in.Describe("recheck"), Value: "true",
			Want: "false, or a ferry.yaml (config) with data.test and evaluate.gates: the recheck scores both models on that data and applies those gates"}
	}
	read, err := overlay{in}.dataOptions(data.Options{}, file.Data)
	if err != nil {
		return nil, err
	}
	cfg := evaluate.RecheckConfig{Image: pinned, Champion: pinned.Context().Tag(deploy.ChampionTag).String(),
		Data: file.Data.Test, Read: read, Gates: file.Evaluate.Gates, Resamples: 1000, Confidence: 0.95}
	if file.Evaluate.Bootstrap != nil {
		cfg.Resamples = *file.Evaluate.Bootstrap
	}
	if file.Evaluate.Confidence != nil {
		cfg.Confidence = *file.Evaluate.Confidence
	}
	summary, err := evaluate.Recheck(ctx, cfg, auth, logf)
	if summary == "" {
		return nil, err
	}
	return &deploy.Outcome{Outputs: map[string]string{"status": "failed"}, Summary: summary, Err: err}, nil
}

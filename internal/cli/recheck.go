package cli

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/evaluate"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
)

// recheck is deploy's recheck hook: evaluate.Recheck on ferry.yaml's test
// data and gates, against the champion tag of the image's repository. The
// file is read as the evaluate stage reads it, with nothing given over it.
func recheck(ctx context.Context, in *input.Reader, env *Env, auth remote.Option, pinned name.Digest, logf func(string, ...any)) (*deploy.Outcome, error) {
	file := env.File
	if file == nil || file.Data.Test == "" || len(file.Evaluate.Gates) == 0 {
		return nil, &input.Error{Param: in.Describe("recheck"), Value: "true",
			Want: "false, or a ferry.yaml (config) with data.test and evaluate.gates: the recheck scores both models on that data and applies those gates"}
	}
	ev, _ := stage.Lookup("evaluate")
	ein := input.NewReader(config.Layer(input.MapSource{}, file, env.FilePath, ev.Name), ev.FlagParams(), nil)
	read, rerr := readOptions(ein)
	cfg := evaluate.RecheckConfig{Image: pinned, Champion: pinned.Context().Tag(deploy.ChampionTag).String(),
		Data: ein.String("data"), Read: read, Gates: ein.List("gate"), Resamples: ein.Int("bootstrap"), Confidence: ein.Float("confidence"), AllowDataChange: ein.Bool("allow-data-change")}
	if err := ein.Err(); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	summary, err := evaluate.Recheck(ctx, cfg, auth, logf)
	if summary == "" {
		return nil, err
	}
	return &deploy.Outcome{Outputs: map[string]string{"status": "failed"}, Summary: summary, Err: err}, nil
}

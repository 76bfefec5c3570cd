package train_test

import (
	"errors"
	"testing"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/train"
)

// StageConfig.Validate names the parameter at fault by its declared name.
func TestStageValidate(t *testing.T) {
	ok := func() train.StageConfig {
		return train.StageConfig{Trainer: "builtin", Builtin: train.Config{Data: "train.csv", Out: "model"}}
	}
	for _, tc := range []struct {
		name  string
		set   func(*train.StageConfig)
		param string // "" when valid
	}{
		{"valid", func(*train.StageConfig) {}, ""},
		{"command", func(c *train.StageConfig) { c.Trainer, c.Command, c.GPUs = "command", "python train.py", "1" }, ""},
		{"command with builtin", func(c *train.StageConfig) { c.Command = "python train.py" }, "run"},
		{"gpus with builtin", func(c *train.StageConfig) { c.GPUs = "all" }, "gpus"},
		{"paths without token", func(c *train.StageConfig) { c.Paths = []string{"data/**"} }, "github-token"},
		{"bad glob", func(c *train.StageConfig) { c.Paths, c.Token = []string{"data/[**"}, "t" }, "paths"},
		{"bad selector", func(c *train.StageConfig) { c.Job.NodeSelector = []string{"gpu"} }, "node-selector"},
		{"bad label", func(c *train.StageConfig) { c.Job.PodLabels = []string{"team=search team"} }, "pod-label"},
		{"bad toleration", func(c *train.StageConfig) { c.Job.Tolerations = []string{"gpu:Sometimes"} }, "toleration"},
		{"nodes on kubernetes", func(c *train.StageConfig) {
			c.Trainer, c.Command, c.Backend, c.Job.Nodes = "command", "torchrun train.py", "kubernetes", 4
		}, ""},
		{"nodes on the host", func(c *train.StageConfig) {
			c.Trainer, c.Command, c.Backend, c.Job.Nodes = "command", "torchrun train.py", "host", 2
		}, "nodes"},
		{"nodes with builtin", func(c *train.StageConfig) { c.Job.Nodes = 2 }, "nodes"},
		{"negative nodes", func(c *train.StageConfig) { c.Job.Nodes = -1 }, "nodes"},
		{"search trials on kubernetes", func(c *train.StageConfig) { c.Backend, c.Builtin.Search.Enabled = "kubernetes", true }, ""},
		{"auto's trials on kubernetes", func(c *train.StageConfig) { c.Backend, c.Builtin.Algorithm = "kubernetes", "auto" }, ""},
		{"builtin on kubernetes without a search", func(c *train.StageConfig) { c.Backend = "kubernetes" }, "backend"},
		{"builtin on docker", func(c *train.StageConfig) { c.Backend, c.Builtin.Search.Enabled = "docker", true }, "backend"},
		{"builtin trials in an image of the team's", func(c *train.StageConfig) {
			c.Backend, c.Builtin.Search.Enabled, c.Image = "kubernetes", true, "shop/trainer:1"
		}, "image"},
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

package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/gpu"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/templates/report"
)

// StageConfig is the train stage's: ferry's own trainers (Builtin), or the
// team's command (Trainer "command") on a backend; on a pull request,
// nothing at all when it changes no file under Paths. A front end fills
// it; its errors name parameters by their declared names.
type StageConfig struct {
	Trainer string // "builtin" or "command"
	// Builtin is the run: the data, how to read it, the output; for the
	// command trainer its data, output, seed and name too.
	Builtin Config
	// The command trainer.
	Command      string
	Backend      string // host, docker or kubernetes
	Image        string // the docker and kubernetes backends' training image
	GPUs         string // "all", a count or device=0,1; "" for none
	MinGPUMemory int    // MiB
	Job          Job    // the kubernetes backend's
	Timeout      time.Duration
	// InAction is true inside the action's own container, where the host
	// backend has no shell, Python or GPU driver.
	InAction bool

	// On a pull request (Event), train only when it changes a file that
	// matches one of Paths; Token lists its files.
	Paths []string
	Token string
	Event *actionio.Event

	nodeSelector, podLabels map[string]string // Job's, parsed by Validate
	tolerations             []corev1.Toleration
}

// Job is the kubernetes backend's settings.
type Job struct {
	Namespace, Kubeconfig, Artifact, CollectorImage, RegistrySecret string
	NodeSelector, PodLabels, Tolerations                            []string // as written
	UnschedulableGrace                                              time.Duration
	RunAsRoot                                                       bool
	Nodes                                                           int // pods to train across; 0 or 1: one Job pod
}

// Validate checks what can be checked before anything runs.
func (c *StageConfig) Validate() error {
	if len(c.Paths) > 0 && c.Token == "" {
		return &input.Error{Name: "github-token", Missing: true,
			Want: "a token to list the pull request's files for paths: it is empty (github-token: '', or a secret that is not set); leave it out to use the job's token"}
	}
	for _, p := range c.Paths {
		if !doublestar.ValidatePattern(p) {
			return &input.Error{Name: "paths", Value: p, Want: "globs such as data/** or *.py"}
		}
	}
	var err error
	if c.nodeSelector, err = kube.ParseLabels(c.Job.NodeSelector); err != nil {
		return &input.Error{Name: "node-selector", Value: strings.Join(c.Job.NodeSelector, ","), Want: err.Error()}
	}
	if c.podLabels, err = kube.ParseLabels(c.Job.PodLabels); err != nil {
		return &input.Error{Name: "pod-label", Value: strings.Join(c.Job.PodLabels, ","), Want: err.Error()}
	}
	c.tolerations = nil
	for _, s := range c.Job.Tolerations {
		t, err := kube.ParseToleration(s)
		if err != nil {
			return &input.Error{Name: "toleration", Value: s, Want: err.Error()}
		}
		c.tolerations = append(c.tolerations, t)
	}
	switch {
	case c.Job.Nodes < 0:
		return &input.Error{Name: "nodes", Value: strconv.Itoa(c.Job.Nodes), Want: "1 or more pods"}
	case c.Job.Nodes > 1 && (c.Trainer != "command" || c.Backend != "kubernetes"):
		return &input.Error{Name: "nodes", Value: strconv.Itoa(c.Job.Nodes), Want: "1, or more with trainer command and backend kubernetes: training across nodes runs your command as a Kubernetes Indexed Job"}
	}
	if c.Trainer != "command" {
		if err := c.validateBuiltinBackend(); err != nil {
			return err
		}
		if c.Command != "" {
			return &input.Error{Name: "run", Value: c.Command, Want: "nothing with the builtin trainer: a command runs with the command trainer"}
		}
		if c.GPUs != "" {
			return &input.Error{Name: "gpus", Value: c.GPUs, Want: "nothing with the builtin trainer, which trains on the CPU"}
		}
	}
	return nil
}

// validateBuiltinBackend checks where ferry's own trainers run: here, or
// with a search (or auto) their trials on Kubernetes; the refit is here.
func (c *StageConfig) validateBuiltinBackend() error {
	switch {
	case c.Backend == "host" || c.Backend == "":
		return nil
	case c.Backend != "kubernetes":
		return &input.Error{Name: "backend", Value: c.Backend, Want: "host with the builtin trainer (it trains here), or kubernetes to run a search's trials on the cluster"}
	case !c.Builtin.Search.Enabled && c.Builtin.Algorithm != "auto":
		return &input.Error{Name: "backend", Value: c.Backend, Want: "host without a search: the builtin trainer trains here; with search (or algorithm auto) kubernetes runs the trials on the cluster"}
	case c.Image != "":
		return &input.Error{Name: "image", Value: c.Image, Want: "nothing with the builtin trainer: its trials run ferry's own image (collector-image)"}
	}
	return nil
}

// StageDeps are what RunStage uses of the outside world.
type StageDeps struct {
	Log io.Writer // progress and results, for people
	// Group, in an action, folds what is logged until the returned func
	// is called; nil on the command line.
	Group func(title string) func()
	// Getenv reads the runner's environment (GITHUB_WORKSPACE).
	Getenv func(string) string
	Auth   remote.Option // registry credentials for the kubernetes backend's artifact
}

// StageResult is what a train stage reports.
type StageResult struct {
	Outputs map[string]string
	Summary string
}

// RunStage trains; cfg must have passed Validate.
func RunStage(ctx context.Context, cfg StageConfig, deps StageDeps) (*StageResult, error) {
	if len(cfg.Paths) > 0 && cfg.Event != nil && cfg.Event.PullRequest != 0 {
		ev := cfg.Event
		fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
		if err != nil {
			return nil, err
		}
		files, err := fc.ChangedFiles(ctx, ev.PullRequest)
		if err != nil {
			return nil, fmt.Errorf("%w (paths needs the pull request's files: permissions: pull-requests: read)", err)
		}
		if !anyMatch(cfg.Paths, files) {
			summary := fmt.Sprintf("### No model change\n\nPull request #%d changes %d files, none of them under paths (%s): nothing was trained.\n",
				ev.PullRequest, len(files), strings.Join(cfg.Paths, ", "))
			fmt.Fprint(deps.Log, summary)
			return &StageResult{Outputs: map[string]string{"changed": "false", "model-dir": "", "metrics": "{}"}, Summary: summary}, nil
		}
	}
	group := deps.Group
	if group == nil {
		group = func(string) func() { return func() {} }
	}
	if cfg.Trainer == "command" {
		return runCommand(ctx, cfg, deps, group)
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	b := cfg.Builtin
	if cfg.Backend == "kubernetes" {
		k, err := kubernetesBackend(ctx, cfg, deps.Auth)
		if err != nil {
			return nil, err
		}
		b.Remote = k
	}
	end := group(fmt.Sprintf("Train %s (%s) on %s", b.Algorithm, b.Objective, b.Data))
	every, last := 0, 0
	res, err := Run(ctx, b, deps.Log, func(p Progress) {
		if every == 0 {
			every = max(1, p.Steps/20)
		}
		// About 20 lines: the first, the last, and every so often a step
		// whose training metric was computed.
		if p.Step == 1 || p.Step == p.Steps || p.Stopped || (!math.IsNaN(p.Train) && p.Step-last >= every) {
			fmt.Fprintln(deps.Log, p)
			last = p.Step
		}
	})
	end()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("training ran past its timeout %s: %w", cfg.Timeout, err)
		}
		return nil, err
	}
	return stageResult(deps.Log, res.Dir, res.Manifest)
}

// runCommand trains with the team's command on its backend.
func runCommand(ctx context.Context, cfg StageConfig, deps StageDeps, group func(string) func()) (*StageResult, error) {
	b := cfg.Builtin
	ec := external.Config{
		Command: cfg.Command, Out: b.Out, Name: b.Name, Data: b.Data, Valid: b.Valid, Read: b.Read, Seed: b.Seed,
		GPUs: cfg.GPUs, MinGPUMemory: cfg.MinGPUMemory, Timeout: cfg.Timeout, GitSHA: b.GitSHA, Backend: cfg.Backend,
		Task: taskOf(b.Objective),
	}
	var backend external.Backend
	preflight := gpu.NvidiaSMI // on the host, where the host backend trains
	switch cfg.Backend {
	case "host":
		if cfg.InAction {
			// The action runs in ferry's own image: no shell, no Python, no
			// GPU driver. The team's code runs beside it, or on the host.
			return nil, &input.Error{Name: "backend", Value: "host",
				Want: "docker with image: YOUR-TRAINING-IMAGE (your code runs in a sibling container through the runner's Docker socket, with the GPUs), or kubernetes; " +
					"to train in the runner's own environment, install ferry with the ferry-ml/ferry/actions/setup action and run `ferry train --trainer command --backend host` in a run: step " +
					"(the train action runs in ferry's own container, which has no shell, Python or GPU driver)"}
		}
		if cfg.Image != "" {
			return nil, &input.Error{Name: "image", Value: cfg.Image, Want: "nothing with the host backend: the image is for the docker and kubernetes backends"}
		}
		backend = external.Host{}
	case "docker":
		api, err := external.NewDockerClient()
		if err != nil {
			return nil, err
		}
		defer api.Close()
		ws := deps.Getenv("GITHUB_WORKSPACE")
		if ws == "" {
			if ws, err = os.Getwd(); err != nil {
				return nil, err
			}
		}
		ec.Image = cfg.Image
		d := external.Docker{API: api, Image: cfg.Image, Workspace: ws}
		backend, preflight = d, d.NvidiaSMI(ec.GPUs) // in the training image, with the same GPU request
	case "kubernetes":
		k, err := kubernetesBackend(ctx, cfg, deps.Auth)
		if err != nil {
			return nil, err
		}
		ec.Image = cfg.Image
		backend = k
	default:
		return nil, &input.Error{Name: "backend", Value: cfg.Backend, Want: "host, docker or kubernetes"}
	}
	ed := external.Deps{Backend: backend, GPU: preflight}
	if b.Search.Enabled {
		cs, err := newCommandSearch(b.Search, b.Seed, b.Objective, ec, ed)
		if err != nil {
			return nil, err
		}
		end := group("Search: " + cfg.Command)
		res, err := cs.run(ctx, deps.Log)
		end()
		if err != nil {
			return nil, err
		}
		return stageResult(deps.Log, res.Dir, res.Manifest)
	}
	end := group("Train: " + cfg.Command)
	res, err := external.Train(ctx, ec, ed, deps.Log)
	end()
	if err != nil {
		return nil, err
	}
	return stageResult(deps.Log, res.Dir, res.Manifest)
}

// kubernetesBackend connects to the cluster and sets up the Job.
func kubernetesBackend(ctx context.Context, cfg StageConfig, auth remote.Option) (external.Kubernetes, error) {
	j := cfg.Job
	n := 0
	if cfg.GPUs != "" {
		var err error
		if n, err = strconv.Atoi(cfg.GPUs); err != nil || n < 1 {
			return external.Kubernetes{}, &input.Error{Name: "gpus", Value: cfg.GPUs,
				Want: "a count of GPUs such as 1 with the kubernetes backend (the cluster picks the devices)"}
		}
	}
	if j.Artifact == "" {
		return external.Kubernetes{}, &input.Error{Name: "artifact", Missing: true,
			Want: "a repository with the kubernetes backend: the Job pushes its output there and ferry pulls it back"}
	}
	rc, err := kube.Config(j.Kubeconfig)
	if err != nil {
		return external.Kubernetes{}, err
	}
	cs, err := kube.Connect(ctx, rc)
	if err != nil {
		return external.Kubernetes{}, err
	}
	if err := kube.EnsureNamespace(ctx, cs, j.Namespace, false); err != nil {
		return external.Kubernetes{}, err
	}
	return external.Kubernetes{Client: cs, Namespace: j.Namespace, Image: cfg.Image, CollectorImage: j.CollectorImage,
		Artifact: j.Artifact, GPUs: n, NodeSelector: cfg.nodeSelector, Tolerations: cfg.tolerations, Labels: cfg.podLabels, RegistrySecret: j.RegistrySecret,
		UnschedulableGrace: j.UnschedulableGrace, RunAsRoot: j.RunAsRoot, Nodes: j.Nodes, Remote: []remote.Option{auth}}, nil
}

// stageResult reports a trained model: its summary lines, outputs and job
// summary.
func stageResult(log io.Writer, dir string, m model.Manifest) (*StageResult, error) {
	fmt.Fprintf(log, "model: %s (%s, %s), trained in %.2fs\n", dir, m.Format, m.Task, m.Run.Seconds.Train)
	for _, split := range slices.Sorted(maps.Keys(m.Metrics)) {
		fmt.Fprintf(log, "%s: %s\n", split, report.MetricsLine(m.Metrics[split]))
	}
	metricsJSON, err := json.Marshal(m.Metrics)
	if err != nil {
		return nil, fmt.Errorf("encode metrics: %w", err)
	}
	summary, err := report.TrainSummary(report.TrainReport{Manifest: m, Dir: dir})
	if err != nil {
		return nil, err
	}
	return &StageResult{
		Outputs: map[string]string{"model-dir": dir, "metrics": string(metricsJSON), "changed": "true"},
		Summary: summary,
	}, nil
}

// anyMatch reports whether any file matches any of the globs (** crosses
// directories, as in a workflow's paths:).
func anyMatch(globs, files []string) bool {
	for _, f := range files {
		for _, g := range globs {
			if ok, _ := doublestar.Match(g, f); ok {
				return true
			}
		}
	}
	return false
}

// taskOf maps a training objective to the task of a model file that does not
// say (ONNX).
func taskOf(objective string) string {
	switch objective {
	case "regression":
		return "regression"
	case "lambdarank":
		return "ranking"
	}
	return "binary"
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-ml/ferry/internal/external"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/gpu"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/templates/report"
)

// runTrain is `ferry train` and the train action with ferry's own trainers.
func runTrain(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	read, rerr := readOptions(in)
	cfg := train.Config{
		Data:      in.String("data"),
		Valid:     in.String("valid"),
		Read:      read,
		Algorithm: in.Enum("algorithm"),
		Objective: in.Enum("objective"),
		Params:    in.List("param"),
		Seed:      int64(in.Int("seed")),
		Out:       in.String("out"),
	}
	trainer := in.Enum("trainer")
	configPath := in.String("config")
	command, backend, image, gpus := in.String("run"), in.Enum("backend"), in.String("image"), in.String("gpus")
	minGPUMemory := in.Int("min-gpu-memory")
	timeout := in.Duration("timeout")
	kj := kubeJob{namespace: in.String("namespace"), kubeconfig: in.String("kubeconfig"), artifact: in.String("artifact"),
		collector: in.String("collector-image"), secret: in.String("registry-secret"), grace: in.Duration("unschedulable-grace"),
		asRoot: in.Bool("run-as-root")}
	selectorList, labelList, tolerationList := in.List("node-selector"), in.List("pod-label"), in.List("toleration")
	var paths []string
	var token string
	if env.Action != nil {
		paths, token = in.List("paths"), in.String("github-token")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if len(paths) > 0 && token == "" {
		return nil, &input.Error{Param: in.Describe("github-token"), Missing: true,
			Want: "a token to list the pull request's files for paths: it is empty (github-token: '', or a secret that is not set); leave it out to use the job's token"}
	}
	for _, p := range paths {
		if !doublestar.ValidatePattern(p) {
			return nil, &input.Error{Param: in.Describe("paths"), Value: p, Want: "globs such as data/** or *.py"}
		}
	}
	if len(paths) > 0 && env.Event != nil && env.Event.PullRequest != 0 {
		files, err := changedFiles(ctx, env, token)
		if err != nil {
			return nil, err
		}
		if !anyMatch(paths, files) {
			summary := fmt.Sprintf("### No model change\n\nPull request #%d changes %d files, none of them under paths (%s): nothing was trained.\n",
				env.Event.PullRequest, len(files), strings.Join(paths, ", "))
			fmt.Fprint(env.Stdout, summary)
			return &Result{Outputs: map[string]string{"changed": "false", "model-dir": "", "metrics": "{}"}, Summary: summary}, nil
		}
	}
	var err error
	if kj.nodeSelector, err = kube.ParseLabels(selectorList); err != nil {
		return nil, &input.Error{Param: in.Describe("node-selector"), Value: strings.Join(selectorList, ","), Want: err.Error()}
	}
	if kj.labels, err = kube.ParseLabels(labelList); err != nil {
		return nil, &input.Error{Param: in.Describe("pod-label"), Value: strings.Join(labelList, ","), Want: err.Error()}
	}
	for _, s := range tolerationList {
		t, err := kube.ParseToleration(s)
		if err != nil {
			return nil, &input.Error{Param: in.Describe("toleration"), Value: s, Want: err.Error()}
		}
		kj.tolerations = append(kj.tolerations, t)
	}
	if rerr != nil {
		return nil, rerr
	}
	file, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if file != nil {
		o := overlay{in}
		if cfg.Read, err = o.dataOptions(cfg.Read, file.Data); err != nil {
			return nil, err
		}
		cfg.Data = o.str("data", cfg.Data, file.Data.Train)
		cfg.Valid = o.str("valid", cfg.Valid, file.Data.Valid)
		cfg.Algorithm = o.str("algorithm", cfg.Algorithm, file.Train.Algorithm)
		cfg.Objective = o.str("objective", cfg.Objective, file.Train.Objective)
		cfg.Out = o.str("out", cfg.Out, file.Train.Out)
		trainer = o.str("trainer", trainer, file.Train.Trainer)
		if file.Train.Seed != nil && !in.Given("seed") {
			cfg.Seed = int64(*file.Train.Seed)
		}
		// ferry.yaml's parameters first, so a --param of the same name wins;
		// they belong to ferry.yaml's algorithm and are dropped when a flag
		// picks another one.
		if file.Train.Algorithm == "" || file.Train.Algorithm == cfg.Algorithm {
			cfg.Params = append(file.Train.ParamList(), cfg.Params...)
		}
		cfg.Name = file.Name
	}
	cfg.GitSHA = gitSHA(ctx, env)
	if trainer == "command" {
		return runExternal(ctx, env, external.Config{
			Command: command, Out: cfg.Out, Name: cfg.Name, Data: cfg.Data, Valid: cfg.Valid, Read: cfg.Read, Seed: cfg.Seed,
			GPUs: gpus, MinGPUMemory: minGPUMemory, Timeout: timeout, GitSHA: cfg.GitSHA, Backend: backend,
			Task: taskOf(cfg.Objective),
		}, image, kj)
	}
	if command != "" {
		return nil, &input.Error{Param: in.Describe("run"), Value: command, Want: "nothing with --trainer builtin: a command runs with --trainer command"}
	}
	if gpus != "" {
		return nil, &input.Error{Param: in.Describe("gpus"), Value: gpus, Want: "nothing with --trainer builtin, which trains on the CPU"}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	log := env.Stdout
	var end func()
	if env.Action != nil {
		end = env.Action.Group(fmt.Sprintf("Train %s (%s) on %s", cfg.Algorithm, cfg.Objective, cfg.Data))
	}
	every, last := 0, 0
	res, err := train.Run(ctx, cfg, log, func(p train.Progress) {
		if every == 0 {
			every = max(1, p.Steps/20)
		}
		// About 20 lines: the first, the last, and every so often a step
		// whose training metric was computed.
		if p.Step == 1 || p.Step == p.Steps || p.Stopped || (!math.IsNaN(p.Train) && p.Step-last >= every) {
			fmt.Fprintln(log, p)
			last = p.Step
		}
	})
	if end != nil {
		end()
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("training ran past --timeout %s: %w", timeout, err)
		}
		return nil, err
	}
	return trainResult(log, res.Dir, res.Manifest)
}

// runExternal trains with the user's command.
func runExternal(ctx context.Context, env *Env, cfg external.Config, image string, kj kubeJob) (*Result, error) {
	var backend external.Backend
	preflight := gpu.NvidiaSMI // on the host, where the host backend trains
	switch cfg.Backend {
	case "host":
		if env.Action != nil {
			// The action runs in ferry's own image: no shell, no Python, no
			// GPU driver. The team's code runs beside it, or on the host.
			return nil, &input.Error{Param: `input "backend"`, Value: "host",
				Want: "docker with image: YOUR-TRAINING-IMAGE (your code runs in a sibling container through the runner's Docker socket, with the GPUs), or kubernetes; " +
					"to train in the runner's own environment, install ferry with the ferry-ml/ferry/actions/setup action and run `ferry train --trainer command --backend host` in a run: step " +
					"(the train action runs in ferry's own container, which has no shell, Python or GPU driver)"}
		}
		if image != "" {
			return nil, &input.Error{Param: "--image", Value: image, Want: "nothing with --backend host: the image is for the docker and kubernetes backends"}
		}
		backend = external.Host{}
	case "docker":
		api, err := external.NewDockerClient()
		if err != nil {
			return nil, err
		}
		defer api.Close()
		ws := env.Getenv("GITHUB_WORKSPACE")
		if ws == "" {
			if ws, err = os.Getwd(); err != nil {
				return nil, err
			}
		}
		cfg.Image = image
		d := external.Docker{API: api, Image: image, Workspace: ws}
		backend, preflight = d, d.NvidiaSMI(cfg.GPUs) // in the training image, with the same GPU request

	case "kubernetes":
		k, err := kj.backend(ctx, image, cfg.GPUs)
		if err != nil {
			return nil, err
		}
		cfg.Image = image
		backend = k
	default:
		return nil, notYet("ferry train --backend " + cfg.Backend)
	}
	log := env.Stdout
	var end func()
	if env.Action != nil {
		end = env.Action.Group("Train: " + cfg.Command)
	}
	res, err := external.Train(ctx, cfg, external.Deps{Backend: backend, GPU: preflight}, log)
	if end != nil {
		end()
	}
	if err != nil {
		return nil, err
	}
	return trainResult(log, res.Dir, res.Manifest)
}

// kubeJob is the kubernetes backend's parameters.
type kubeJob struct {
	namespace, kubeconfig, artifact, collector, secret string
	nodeSelector, labels                               map[string]string
	tolerations                                        []corev1.Toleration
	grace                                              time.Duration
	asRoot                                             bool
}

func (kj kubeJob) backend(ctx context.Context, image, gpus string) (external.Kubernetes, error) {
	n := 0
	if gpus != "" {
		var err error
		if n, err = strconv.Atoi(gpus); err != nil || n < 1 {
			return external.Kubernetes{}, &input.Error{Param: "--gpus", Value: gpus,
				Want: "a count of GPUs such as 1 with --backend kubernetes (the cluster picks the devices)"}
		}
	}
	if kj.artifact == "" {
		return external.Kubernetes{}, usageErrorf("--backend kubernetes needs --artifact REPO: the Job pushes its output there and ferry pulls it back")
	}
	cfg, err := kube.Config(kj.kubeconfig)
	if err != nil {
		return external.Kubernetes{}, err
	}
	cs, err := kube.Connect(ctx, cfg)
	if err != nil {
		return external.Kubernetes{}, err
	}
	if err := kube.EnsureNamespace(ctx, cs, kj.namespace, false); err != nil {
		return external.Kubernetes{}, err
	}
	return external.Kubernetes{Client: cs, Namespace: kj.namespace, Image: image, CollectorImage: kj.collector,
		Artifact: kj.artifact, GPUs: n, NodeSelector: kj.nodeSelector, Tolerations: kj.tolerations, Labels: kj.labels, RegistrySecret: kj.secret,
		UnschedulableGrace: kj.grace, RunAsRoot: kj.asRoot, Remote: []remote.Option{registryAuth("", "")}}, nil
}

// trainResult reports a trained model: its summary lines, outputs and job
// summary.
func trainResult(log io.Writer, dir string, m model.Manifest) (*Result, error) {
	fmt.Fprintf(log, "model: %s (%s, %s), trained in %.2fs\n", dir, m.Format, m.Task, m.Run.Seconds.Train)
	for _, split := range slices.Sorted(maps.Keys(m.Metrics)) {
		fmt.Fprintf(log, "%s: %s\n", split, formatMetrics(m.Metrics[split]))
	}
	metricsJSON, err := json.Marshal(m.Metrics)
	if err != nil {
		return nil, fmt.Errorf("encode metrics: %w", err)
	}
	summary, err := report.TrainSummary(report.TrainReport{Manifest: m, Dir: dir})
	if err != nil {
		return nil, err
	}
	return &Result{
		Outputs: map[string]string{"model-dir": dir, "metrics": string(metricsJSON), "changed": "true"},
		Summary: summary,
	}, nil
}

func formatMetrics(ms map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		parts = append(parts, fmt.Sprintf("%s %.5f", k, ms[k]))
	}
	return strings.Join(parts, ", ")
}

// changedFiles lists the files the run's pull request changes.
func changedFiles(ctx context.Context, env *Env, token string) ([]string, error) {
	fc, err := forge.ForRepository(token, env.Event.APIURL, env.Event.Repository)
	if err != nil {
		return nil, err
	}
	files, err := fc.ChangedFiles(ctx, env.Event.PullRequest)
	if err != nil {
		return nil, fmt.Errorf("%w (paths needs the pull request's files: permissions: pull-requests: read)", err)
	}
	return files, nil
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

// gitSHA is the commit being trained: GITHUB_SHA's head inside Actions, else
// the working directory's HEAD, else empty.
func gitSHA(ctx context.Context, env *Env) string {
	if env.Event != nil && env.Event.HeadSHA != "" {
		return env.Event.HeadSHA
	}
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
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

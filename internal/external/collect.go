package external

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gpu"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/version"
)

// Config is a training run with the user's command.
type Config struct {
	Command string
	Dir     string // working directory
	Out     string // the model directory to write
	Name    string // default: the base name of Out
	Data    string // training data, for FERRY_DATA_TRAIN, lineage and the feature schema
	Valid   string
	Read    data.Options // how to read Data for the schema
	Seed    int64
	// GPUs is the request ("all", a count, "device=0,1"); "" for none.
	GPUs         string
	MinGPUMemory int // MiB
	Timeout      time.Duration
	Grace        time.Duration
	GitSHA       string
	Backend      string // host, docker or kubernetes
	Task         string // for a model file that does not say (ONNX): binary, regression or ranking
	Image        string // the docker and kubernetes backends' training image
	// Params are a search trial's parameters, given to the command as
	// FERRY_PARAM_<NAME> (ParamEnv), and Trial its number (FERRY_TRIAL).
	Params map[string]string
	Trial  int
}

// Deps are what Train needs from the outside.
type Deps struct {
	Backend Backend
	GPU     gpu.Runner // nvidia-smi
}

// Result is the model directory a run wrote and what its command reported.
type Result struct {
	Dir      string
	Manifest model.Manifest
}

// Train runs the command and turns its output into a model directory at
// cfg.Out. Nothing is written at cfg.Out unless the whole run succeeds.
func Train(ctx context.Context, cfg Config, deps Deps, log io.Writer) (*Result, error) {
	r, err := Prepare(ctx, cfg, deps, log)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fmt.Fprintf(log, "running: %s\n", cfg.Command)
	runStart := time.Now()
	if err := deps.Backend.Run(ctx, r.Job, log); err != nil {
		return nil, err
	}
	return r.Finish(ctx, time.Since(runStart))
}

// Prepared is a training run up to its command: the Job to run, whose
// FERRY_OUTPUT is a staging directory, and what turns that output into the
// model directory (Finish). A search's batch prepares its trials' runs and
// gives their Jobs to one Indexed Job (Kubernetes.RunIndexed).
type Prepared struct {
	Job     Job
	Output  string // the staging directory, FERRY_OUTPUT
	cfg     Config
	started time.Time
	facts   *gpu.Facts
}

// Prepare checks the run, picks its GPUs and makes its staging directory;
// Close removes that.
func Prepare(ctx context.Context, cfg Config, deps Deps, log io.Writer) (*Prepared, error) {
	if strings.TrimSpace(cfg.Command) == "" && cfg.Backend != "docker" {
		return nil, input.Paramf("run", "no training command: give it with %s, such as python train.py")
	}
	if cfg.Out == "" {
		return nil, input.Paramf("out", "no output directory: give one with %s")
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(filepath.Clean(cfg.Out))
	}
	started := time.Now()
	facts, visible, picked, err := preflight(ctx, cfg, deps, log)
	if err != nil {
		return nil, err
	}
	output, err := stagingDir(cfg.Out)
	if err != nil {
		return nil, err
	}
	env, err := jobEnv(output, cfg.Data, cfg.Valid, cfg.Read.Label, cfg.Read.Group, cfg.Seed, visible)
	if err != nil {
		os.RemoveAll(output)
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Params)) {
		env = append(env, ParamEnv(k)+"="+cfg.Params[k])
	}
	if cfg.Trial > 0 {
		env = append(env, "FERRY_TRIAL="+strconv.Itoa(cfg.Trial))
	}
	job := Job{Command: cfg.Command, Dir: cfg.Dir, Env: env, Timeout: cfg.Timeout, Grace: cfg.Grace, GPURequest: cfg.GPUs, GPUDevices: picked}
	return &Prepared{Job: job, Output: output, cfg: cfg, started: started, facts: facts}, nil
}

// Close removes the staging directory.
func (r *Prepared) Close() { os.RemoveAll(r.Output) }

// Finish turns the command's output into the model directory at the
// run's Out: what it reported, the model file found, the data's lineage
// and profile. trained is how long the command ran.
func (r *Prepared) Finish(ctx context.Context, trained time.Duration) (*Result, error) {
	cfg, output := r.cfg, r.Output
	reported, err := readMetrics(filepath.Join(output, "metrics.json"))
	if err != nil {
		return nil, err
	}
	found, err := detect(output)
	if err != nil {
		return nil, err
	}
	m := model.Manifest{
		Name: cfg.Name, Seed: cfg.Seed, Metrics: reported,
		Lineage: model.Lineage{
			GitSHA: cfg.GitSHA, Command: cfg.Command, Backend: cfg.Backend, Image: cfg.Image,
			FerryVersion: version.Version,
		},
		Run: model.Run{Started: r.started.UTC().Truncate(time.Second), Hardware: model.ThisHardware(), GPU: r.facts},
	}
	train, err := recordData(ctx, cfg, &m)
	if err != nil {
		return nil, err
	}
	payload, err := describe(cfg, found, output, train, &m)
	if err != nil {
		return nil, err
	}
	m.Run.Seconds = model.Timings{Train: trained.Seconds(), Total: time.Since(r.started).Seconds()}
	if err := model.Save(cfg.Out, m, payload); err != nil {
		return nil, err
	}
	saved, err := model.Load(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("check the model: %w", err)
	}
	if cfg.Data != "" {
		if err := saved.WriteProfile(ctx, cfg.Data, cfg.Read); err != nil {
			return nil, err
		}
	}
	return &Result{Dir: cfg.Out, Manifest: saved.Manifest}, nil
}

// stagingDir makes the directory the command writes to, beside out so that
// the finished model moves into place; its absolute path.
func stagingDir(out string) (string, error) {
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	staging, err := os.MkdirTemp(parent, ".ferry-output-")
	if err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	abs, err := filepath.Abs(staging)
	if err != nil {
		os.RemoveAll(staging)
		return "", err
	}
	return abs, nil
}

// recordData reads the training data, when given, for the model's schema
// and records it and the validation file in m's lineage and input.
func recordData(ctx context.Context, cfg Config, m *model.Manifest) (*data.Dataset, error) {
	var train *data.Dataset
	var err error
	if cfg.Data != "" {
		if train, err = data.Read(ctx, cfg.Data, cfg.Read); err != nil {
			return nil, err
		}
		m.Lineage.Data, m.Lineage.DataSHA256, m.Lineage.DataSources = cfg.Data, train.SHA256, train.Sources
		m.Input = model.Input{Format: string(train.Format), Header: cfg.Read.Header, Label: cfg.Read.Label, Group: cfg.Read.Group}
		if train.Delimiter != 0 {
			m.Input.Delimiter = string(train.Delimiter)
		}
	}
	if cfg.Valid != "" {
		if sum, err := data.HashFile(cfg.Valid); err == nil {
			m.Lineage.Valid, m.Lineage.ValidSHA256 = cfg.Valid, sum
		}
	}
	return train, nil
}

// describe fills the manifest in from the model the command wrote in
// output (found), with the schema of the training data train when given,
// and returns the payload to save.
func describe(cfg Config, found foundModel, output string, train *data.Dataset, m *model.Manifest) (any, error) {
	switch found.format {
	case formatNative:
		native, err := model.Load(output)
		if err != nil {
			return nil, fmt.Errorf("the command wrote a ferry model that does not load: %w", err)
		}
		nm := native.Manifest
		m.Format, m.Task, m.Objective, m.Algorithm, m.Features, m.Params, m.Curve = nm.Format, nm.Task, nm.Objective, nm.Algorithm, nm.Features, nm.Params, nm.Curve
		if m.Input.Format == "" {
			m.Input = nm.Input
		}
		for k, v := range nm.Metrics {
			if _, ok := m.Metrics[k]; !ok {
				m.Metrics[k] = v
			}
		}
		m.Lineage.Trainer = "command (ferry native)"
		raw, err := os.ReadFile(filepath.Join(output, nm.Payload))
		if err != nil {
			return nil, err
		}
		return raw, nil
	case formatXGBoost, formatLightGBM, formatONNX:
		raw, err := os.ReadFile(found.path)
		if err != nil {
			return nil, err
		}
		from := map[string]string{formatXGBoost: "xgboost", formatLightGBM: "lightgbm", formatONNX: "onnx"}[found.format]
		fm, err := model.ForeignManifest(from, raw, cfg.Task, train, cfg.Read)
		switch {
		case errors.Is(err, model.ErrNeedsSchema):
			return nil, input.Paramf("data", "the command wrote "+strings.ReplaceAll(filepath.Base(found.path), "%", "%%")+", whose inputs need the training data's schema: give the data with %s")
		case err != nil:
			return nil, fmt.Errorf("the command wrote %s: %w", filepath.Base(found.path), err)
		}
		m.Format, m.Task, m.Objective, m.Algorithm, m.Params, m.Features = fm.Format, fm.Task, fm.Objective, fm.Algorithm, fm.Params, fm.Features
		m.Lineage.Trainer = "command (" + fm.Lineage.Trainer + ")"
		return raw, nil
	default:
		return nil, fmt.Errorf("the command wrote %s (%s): ferry %s cannot score that format yet; it scores ferry models, XGBoost JSON, LightGBM text and ONNX",
			filepath.Base(found.path), found.format, version.Version)
	}
}

// preflight checks the GPUs the run asks for (not for the kubernetes
// backend, whose scheduler places the Job on a node that has them) and says
// which it picked: their facts, CUDA_VISIBLE_DEVICES for the host backend,
// and their UUIDs for Docker's request.
func preflight(ctx context.Context, cfg Config, deps Deps, log io.Writer) (facts *gpu.Facts, visible string, picked []string, err error) {
	if cfg.GPUs != "" && cfg.Backend == "kubernetes" {
		// The scheduler places the Job on a node with the GPUs; nvidia-smi
		// here would describe the runner, not that node.
		fmt.Fprintf(log, "gpu: the Job asks the cluster for %s nvidia.com/gpu\n", cfg.GPUs)
	} else if cfg.GPUs != "" {
		f, err := gpu.Query(ctx, deps.GPU)
		switch {
		case err != nil:
			return nil, "", nil, fmt.Errorf("GPU preflight (gpus: %s): %w", cfg.GPUs, err)
		default:
			devices, err := gpu.Select(f, cfg.GPUs, cfg.MinGPUMemory)
			if err != nil {
				return nil, "", nil, fmt.Errorf("GPU preflight: %w", err)
			}
			facts = f
			for _, d := range devices {
				if d.UUID != "" {
					picked = append(picked, d.UUID)
				}
			}
			if len(picked) != len(devices) {
				picked = nil // without every UUID, Docker gets the request as the user wrote it
			}
			if cfg.Backend != "docker" {
				visible = gpu.Visible(devices) // a container numbers its GPUs from 0
			}
			for _, d := range devices {
				fmt.Fprintf(log, "gpu %d: %s, %d of %d MiB free, %d %% busy (driver %s, CUDA %s)\n",
					d.Index, d.Name, d.FreeMiB(), d.MemoryTotalMiB, d.UtilizationPercent, f.Driver, f.CUDA)
			}
		}
	}
	return facts, visible, picked, nil
}

// Model formats a command may write.
const (
	formatNative   = "ferry"
	formatXGBoost  = "XGBoost JSON"
	formatLightGBM = "LightGBM text"
	formatONNX     = "ONNX"
)

type foundModel struct{ format, path string }

// detect finds the one model a command wrote in dir.
func detect(dir string) (foundModel, error) {
	if _, err := os.Stat(filepath.Join(dir, model.ManifestFile)); err == nil {
		return foundModel{formatNative, dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return foundModel{}, fmt.Errorf("read FERRY_OUTPUT: %w", err)
	}
	var found []foundModel
	for _, e := range entries {
		if e.IsDir() || e.Name() == "metrics.json" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if f := sniff(p); f != "" {
			found = append(found, foundModel{f, p})
		}
	}
	switch len(found) {
	case 0:
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return foundModel{}, fmt.Errorf("the command wrote no model to FERRY_OUTPUT (it holds: %s): write a ferry model directory, an XGBoost .json (save_model), a LightGBM .txt or an .onnx file", orNothing(names))
	case 1:
		return found[0], nil
	}
	var names []string
	for _, f := range found {
		names = append(names, filepath.Base(f.path)+" ("+f.format+")")
	}
	sort.Strings(names)
	return foundModel{}, fmt.Errorf("the command wrote %d models to FERRY_OUTPUT (%s): write exactly one", len(found), strings.Join(names, ", "))
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// sniff recognises a model file by its content.
func sniff(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	trimmed := bytes.TrimSpace(head)
	switch {
	case strings.HasSuffix(path, ".onnx"):
		return formatONNX
	case bytes.HasPrefix(trimmed, []byte("{")) && bytes.Contains(head, []byte(`"learner"`)):
		return formatXGBoost
	case bytes.HasPrefix(trimmed, []byte("tree\n")) || bytes.HasPrefix(trimmed, []byte("tree\r\n")):
		sc := bufio.NewScanner(bytes.NewReader(head))
		sc.Scan()
		if sc.Scan() && strings.HasPrefix(sc.Text(), "version=") {
			return formatLightGBM
		}
	}
	return ""
}

// readMetrics reads metrics.json: numbers, flat or nested. Top-level numbers
// go under "reported"; a nested object's numbers go under its key, with
// deeper keys joined by dots. A missing file is no metrics; a file that is
// not JSON is an error.
func readMetrics(path string) (map[string]map[string]float64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]map[string]float64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics.json: %w", err)
	}
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("the command's metrics.json is not a JSON object: %w", err)
	}
	out := map[string]map[string]float64{}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		switch v := top[k].(type) {
		case float64:
			if out["reported"] == nil {
				out["reported"] = map[string]float64{}
			}
			out["reported"][k] = v
		case map[string]any:
			flat := map[string]float64{}
			flatten("", v, flat)
			if len(flat) > 0 {
				out[k] = flat
			}
		}
	}
	return out, nil
}

func flatten(prefix string, m map[string]any, out map[string]float64) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case float64:
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				out[key] = v
			}
		case map[string]any:
			flatten(key, v, out)
		}
	}
}

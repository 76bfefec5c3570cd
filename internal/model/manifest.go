package model

import (
	"runtime"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gpu"
	"github.com/ferry-ml/ferry/internal/profile"
	"github.com/ferry-ml/ferry/internal/search"
)

// FormatVersion is the version of model.json this ferry writes and the
// newest it reads.
const FormatVersion = 1

// ManifestFile is the manifest's name inside a model directory.
const ManifestFile = "model.json"

// RunFile is the run record's name inside a model directory: what changes
// between two runs that make the same model. It is not part of the model:
// `ferry package` leaves it out of the image.
const RunFile = "run.json"

// Formats of the payload.
const (
	FormatGBDT   = "ferry-gbdt"   // gbdt.json: package gbdt's trees
	FormatLinear = "ferry-linear" // linear.json: package linear's weights
	FormatMLP    = "ferry-mlp"    // mlp.json: package mlp's network
	// FormatXGBoost is a model saved by XGBoost in its JSON format, kept as
	// it was written (xgboost.json) and scored by package xgboost.
	FormatXGBoost = "xgboost-json"
	// FormatLightGBM is a model saved by LightGBM in its text format, kept as
	// it was written (lightgbm.txt) and scored by package lightgbm.
	FormatLightGBM = "lightgbm-text"
	// FormatONNX is an ONNX network, kept as written (model.onnx) and scored
	// by package onnx.
	FormatONNX = "onnx"
)

// Tasks, which decide the metrics that apply.
const (
	TaskBinary     = "binary"
	TaskRegression = "regression"
	TaskRanking    = "ranking"
)

// Manifest is model.json.
type Manifest struct {
	// Profile, when set, is saved beside model.json as profile.json: what
	// the model saw in training, for drift monitoring. Load leaves it nil;
	// profile.Load reads it.
	Profile *profile.Profile `json:"-"`

	FormatVersion int    `json:"format_version"`
	Name          string `json:"name"`
	Format        string `json:"format"`
	Task          string `json:"task"`
	Objective     string `json:"objective"`
	Algorithm     string `json:"algorithm"`
	// Payload is the weights file, beside model.json.
	Payload string `json:"payload"`
	// Input says how the training data was read; predict reads new data the
	// same way unless told otherwise.
	Input Input `json:"input"`
	// Features is the feature schema, in the order the model takes them, with
	// the categories seen in training.
	Features []data.Feature    `json:"features"`
	Params   map[string]string `json:"params"`
	Seed     int64             `json:"seed"`
	// Metrics holds the final training and validation metrics, by split.
	Metrics map[string]map[string]float64 `json:"metrics"`
	// Curve is the loss (or metric) per round or epoch.
	Curve   Curve   `json:"curve"`
	Lineage Lineage `json:"lineage"`
	// Search is the parameter search that chose Params (ferry train
	// --search, or --algorithm auto): every trial, its folds' scores, and
	// the choice. Its timings are in run.json.
	Search *search.Result `json:"search,omitempty"`
	// Run is the run that trained the model, kept in run.json, not here:
	// model.json and the payload are the same bytes for the same data,
	// parameters and seed, and so is the image built from them.
	Run Run `json:"-"`
}

// Run is run.json: when and how long a training ran, on what. Two runs of
// the same training differ only here.
type Run struct {
	Started  time.Time `json:"started"`
	Seconds  Timings   `json:"seconds"`
	Hardware Hardware  `json:"hardware"`
	// GPU is what the preflight saw, when GPUs were requested.
	GPU *gpu.Facts `json:"gpu,omitempty"`
	// Search is how long the parameter search and each trial took.
	Search *SearchRun `json:"search,omitempty"`
}

// SearchRun is the timing of a parameter search, in run.json because it
// differs between two runs of the same search.
type SearchRun struct {
	Seconds float64   `json:"seconds"`
	Trials  []float64 `json:"trials"` // seconds per trial, by number
}

// Input records how data files were read.
type Input struct {
	Format    string `json:"format"`
	Delimiter string `json:"delimiter,omitempty"`
	Header    string `json:"header,omitempty"`
	Label     string `json:"label,omitempty"`
	Group     string `json:"group,omitempty"`
}

// Curve is a metric over training, at the rounds or epochs in Steps.
type Curve struct {
	Metric         string    `json:"metric"`
	HigherIsBetter bool      `json:"higher_is_better"`
	Steps          []int     `json:"steps"`
	Train          []float64 `json:"train"`
	Valid          []float64 `json:"valid,omitempty"`
	Best           int       `json:"best"` // 1-based round or epoch kept
}

// Lineage says where the model came from.
type Lineage struct {
	GitSHA      string `json:"git_sha,omitempty"`
	Data        string `json:"data"`
	DataSHA256  string `json:"data_sha256"`
	Valid       string `json:"valid,omitempty"`
	ValidSHA256 string `json:"valid_sha256,omitempty"`
	// DataSources and ValidSources pin each file or object the data was
	// read from: its URL, version or ETag, size and sha256.
	DataSources  []data.Source `json:"data_sources,omitempty"`
	ValidSources []data.Source `json:"valid_sources,omitempty"`
	FerryVersion string        `json:"ferry_version"`
	Trainer      string        `json:"trainer"`
	// Command, Backend and Image describe a run of the user's own command.
	Command string `json:"command,omitempty"`
	Backend string `json:"backend,omitempty"`
	Image   string `json:"image,omitempty"`
}

// Timings are wall-clock seconds per phase.
type Timings struct {
	Read  float64 `json:"read"`
	Train float64 `json:"train"`
	Total float64 `json:"total"`
}

// Hardware is what the model was trained on.
type Hardware struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	CPUs   int    `json:"cpus"`
	Thread int    `json:"threads"`
}

// ThisHardware describes the machine and the threads this process trains on.
func ThisHardware() Hardware {
	return Hardware{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Thread: runtime.GOMAXPROCS(0)}
}

// Faithful returns o set so that data read with it is scored as the
// model's producer scores it: a LightGBM model compares doubles and reads
// a feature a LibSVM row leaves out as 0 (XGBoost's float32 comparisons
// and ferry's own models need nothing more than float32 values).
func (m Manifest) Faithful(o data.Options) data.Options {
	if m.Format == FormatLightGBM {
		o.Exact, o.AbsentIsZero = true, true
	}
	return o
}

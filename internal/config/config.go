package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry/internal/search"
)

// DefaultPath is where stages look for the file when not told.
const DefaultPath = "ferry.yaml"

// File is ferry.yaml.
type File struct {
	// Name is the model's name, used for images and reports.
	Name     string   `yaml:"name" doc:"The model's name, used for its image, its Kubernetes objects and reports."`
	Data     Data     `yaml:"data" doc:"Where the data is and how to read it."`
	Train    Train    `yaml:"train" doc:"How to train the candidate."`
	Evaluate Evaluate `yaml:"evaluate" doc:"How a candidate is judged against the champion."`
	Monitor  Monitor  `yaml:"monitor" doc:"When the traffic a deployed model sees has drifted from what it saw in training (ferry monitor)."`
}

// Monitor holds the drift thresholds of ferry monitor.
type Monitor struct {
	PSI      *float64           `yaml:"psi" doc:"A feature or the score has drifted when its population stability index reaches this (default 0.2) and the chi-square test agrees. (--psi)"`
	PValue   *float64           `yaml:"p-value" doc:"The chi-square test agrees when its p-value is under this (default 0.01): a shift too small to tell from chance is not drift. (--p-value)"`
	MinRows  *int               `yaml:"min-rows" doc:"Below this many live rows (default 200) ferry monitor says it cannot tell yet, and does not judge. (--min-rows)"`
	Features map[string]float64 `yaml:"features" doc:"Per-feature PSI thresholds, such as price: 0.3, over the default; a name the model does not have is an error."`
}

// Evaluate says how candidates are judged.
type Evaluate struct {
	// Gates, such as "auc >= 0.8" or "ndcg@10 max-drop 1%".
	Gates      []string `yaml:"gates" doc:"Gates such as 'auc >= 0.8', 'logloss <= 0.5', 'ndcg@10 max-drop 1%' (percent of the champion's value), 'logloss max-increase 0.01 abs' (in the metric's units; max-drop where higher is better, max-increase where lower is), with significant at the end to fail only when the change's confidence interval lies wholly past the allowance; a failed gate fails the check run. (--gate)"`
	Bootstrap  *int     `yaml:"bootstrap" doc:"Paired bootstrap resamples, 0 to 100000 (default 1000). (--bootstrap)"`
	Confidence *float64 `yaml:"confidence" doc:"Confidence level of the intervals, between 0 and 1 (default 0.95). (--confidence)"`
	Slice      string   `yaml:"slice" doc:"A column to report metrics by segment. (--slice)"`
	// FirstModel states that no champion exists yet, so a champion reference
	// that does not resolve is not an error.
	FirstModel bool `yaml:"first-model" doc:"true while no champion exists yet (the first model): a champion image that is not found is then judged as no champion; without it that is an error, as a mistyped tag or host would be. Remove it once a model is deployed. (--champion none for one run)"`
	// AllowDataChange compares on test data that changed since the
	// candidate was evaluated on it.
	AllowDataChange bool `yaml:"allow-data-change" doc:"true to compare on test data whose bytes changed since the candidate was evaluated on it (its evaluations.json, which travels in its image to the recheck before a rollout); without it that is an error, as the comparison would not be on the rows the pull request showed. The report names the change. (--allow-data-change)"`
}

// Data says where the data is and how to read it.
type Data struct {
	Train       string   `yaml:"train" doc:"Training data: CSV/TSV with a header, LibSVM, or Parquet (a file, a directory or a glob of files). (train --data)"`
	Valid       string   `yaml:"valid" doc:"Validation data for early stopping, in the same format. (--valid)"`
	Test        string   `yaml:"test" doc:"Evaluation data: the rows both the candidate and the champion are scored on. (evaluate --data)"`
	Format      string   `yaml:"format" doc:"csv, tsv, libsvm or parquet; default: from the file name. (--format)"`
	Delimiter   string   `yaml:"delimiter" doc:"Field delimiter of CSV/TSV; default: detected. (--delimiter)"`
	Header      string   `yaml:"header" doc:"auto, true or false: whether the first line names the columns. (--header)"`
	Label       string   `yaml:"label" doc:"The label column: 0/1, true/false, a number, or a graded relevance. (--label)"`
	Group       string   `yaml:"group" doc:"The query column, for ranking metrics and LambdaMART. (--group)"`
	Categorical []string `yaml:"categorical" doc:"Columns to treat as categories (string columns are anyway). (--categorical)"`
	Drop        []string `yaml:"drop" doc:"Columns to ignore. (--drop)"`
	Partitions  bool     `yaml:"partitions" doc:"Read the Hive partition keys of a Parquet set's directories (dt=2026-12-01/) as columns. (--partitions)"`
}

// Train says how to train.
type Train struct {
	Trainer   string `yaml:"trainer" doc:"builtin (ferry's own trainers) or command (your code). (--trainer)"`
	Algorithm string `yaml:"algorithm" doc:"gbdt, mlp, logistic, or auto: the best of them by cross-validation (builtin trainer; ferry init writes auto). (--algorithm)"`
	Objective string `yaml:"objective" doc:"binary, regression or lambdarank. (--objective)"`
	// Params are trainer parameters; values may be written as numbers.
	Params map[string]Scalar `yaml:"params" doc:"Trainer parameters, such as trees: 300 or learning-rate: 0.05; a --param of the same name wins. (--param)"`
	Seed   *int              `yaml:"seed" doc:"Random seed: the same data, parameters and seed give the same model. (--seed)"`
	Out    string            `yaml:"out" doc:"Directory to write the model to. (--out)"`
	Search Search            `yaml:"search" doc:"The parameter search of ferry train --search and --algorithm auto: cross-validation on the training rows, never the test file."`
}

// Search is train.search: how ferry train searches parameters.
type Search struct {
	Enabled    bool                      `yaml:"enabled" doc:"true searches on every ferry train run, as --search does. (--search)"`
	Strategy   string                    `yaml:"strategy" doc:"tpe (default: a tree-structured Parzen estimator after 10 random trials), random, or grid (3 points per range). (--strategy)"`
	Trials     *int                      `yaml:"trials" doc:"The budget of trials (default 20), shared among the candidates of algorithm auto. (--trials)"`
	Time       string                    `yaml:"time" doc:"Start no trial after the search has run this long, such as 30m (default: no limit). (--search-time)"`
	Folds      *int                      `yaml:"folds" doc:"Cross-validation folds per trial (default 5), by query for ranking and stratified for binary; 0 scores every trial on data.valid instead. (--folds)"`
	Parallel   *int                      `yaml:"parallel" doc:"Trials at once (default 4 for ferry's trainers, 1 for the command trainer, whose trials share the GPUs), sharing the cores; the results depend on it and the seed, not on the machine. (--parallel)"`
	Metric     string                    `yaml:"metric" doc:"What the search optimises, as ferry metrics names it: default auc (binary), rmse (regression), ndcg@10 (lambdarank). For the command trainer, the key of its metrics.json that holds the validation metric: auc, or under a section, valid.auc."`
	Algorithms []string                  `yaml:"algorithms" doc:"The candidates of algorithm auto; default every built-in trainer that fits the objective (gbdt, logistic, mlp; gbdt for lambdarank)."`
	Space      map[string]search.DimSpec `yaml:"space" doc:"The searched parameters of train.algorithm: per parameter a list of values, such as max-depth: [4, 6, 8], or a range, such as learning-rate: {min: 0.01, max: 0.3, scale: log} (add type: int or float to say; default: what the trainer takes). Default: the algorithm's own space (README, Parameter search). The command trainer has no default: its command reads each value from FERRY_PARAM_<NAME> (learning-rate as FERRY_PARAM_LEARNING_RATE)."`
}

// Scalar is a YAML scalar kept as the text it was written as.
type Scalar string

// UnmarshalYAML accepts any scalar (a number, a word, true) and refuses lists
// and maps.
func (s *Scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a parameter's value is a single number or word, not a list or map", n.Line)
	}
	*s = Scalar(n.Value)
	return nil
}

// ParamList returns the parameters as key=value, sorted by key.
func (t Train) ParamList() []string {
	var out []string
	for k, v := range t.Params {
		out = append(out, k+"="+string(v))
	}
	slices.Sort(out)
	return out
}

// Load reads and checks a ferry.yaml.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes ferry.yaml's content strictly and validates it.
func Parse(b []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return &f, nil // an empty file sets nothing
		}
		return nil, cleanError(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("a second YAML document: ferry.yaml holds one")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

var fieldNotFound = regexp.MustCompile(`field (\S+) not found in type (?:config|search)\.(\w+)`)

// cleanError rewords yaml.v3's messages for people: "line 3: field lable
// not found in type config.Data" becomes "line 3: unknown key "lable" in
// data: valid keys are ...".
func cleanError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var lines []string
	for _, e := range te.Errors {
		if m := fieldNotFound.FindStringSubmatch(e); m != nil {
			section, keys := sectionKeys(m[2])
			e = strings.Replace(e, m[0], fmt.Sprintf("unknown key %q in %s: valid keys are %s", m[1], section, keys), 1)
		}
		e = strings.ReplaceAll(e, "!!str", "text")
		e = strings.ReplaceAll(e, "!!int", "a number")
		e = strings.ReplaceAll(e, "!!seq", "a list")
		e = strings.ReplaceAll(e, "!!map", "a map")
		lines = append(lines, e)
	}
	return errors.New(strings.Join(lines, "; "))
}

func sectionKeys(typ string) (string, string) {
	switch typ {
	case "Data":
		return "data", "train, valid, test, format, delimiter, header, label, group, categorical, drop, partitions"
	case "Train":
		return "train", "trainer, algorithm, objective, params, seed, out, search"
	case "Search":
		return "train.search", "enabled, strategy, trials, time, folds, parallel, metric, algorithms, space"
	case "plain":
		return "a range in train.search.space", "min, max, scale, type"
	case "Evaluate":
		return "evaluate", "gates, bootstrap, confidence, slice, first-model, allow-data-change"
	case "Monitor":
		return "monitor", "psi, p-value, min-rows, features"
	}
	return "the top level", "name, data, train, evaluate, monitor"
}

// Validate checks values that YAML's types cannot.
func (f *File) Validate() error {
	check := func(key, value string, valid ...string) error {
		if value == "" {
			return nil
		}
		for _, v := range valid {
			if value == v {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not valid: want one of %s", key, value, strings.Join(valid, ", "))
	}
	return errors.Join(
		check("data.format", f.Data.Format, "csv", "tsv", "libsvm", "parquet"),
		check("data.header", f.Data.Header, "auto", "true", "false"),
		check("train.trainer", f.Train.Trainer, "builtin", "command"),
		check("train.algorithm", f.Train.Algorithm, "gbdt", "mlp", "logistic", "auto"),
		check("train.search.strategy", f.Train.Search.Strategy, search.Strategies...),
		check("train.objective", f.Train.Objective, "binary", "regression", "lambdarank"),
	)
}

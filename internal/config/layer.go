package config

import (
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/input"
)

// key is one ferry.yaml key that stands under a stage parameter.
type key struct {
	path string // as written in ferry.yaml, such as "data.label"
	get  func(*File) string
}

// dataKeys are the reading options every stage that reads data shares.
var dataKeys = map[string]key{
	"format":      {"data.format", func(f *File) string { return f.Data.Format }},
	"delimiter":   {"data.delimiter", func(f *File) string { return f.Data.Delimiter }},
	"header":      {"data.header", func(f *File) string { return f.Data.Header }},
	"label":       {"data.label", func(f *File) string { return f.Data.Label }},
	"group":       {"data.group", func(f *File) string { return f.Data.Group }},
	"categorical": {"data.categorical", func(f *File) string { return strings.Join(f.Data.Categorical, "\n") }},
	"drop":        {"data.drop", func(f *File) string { return strings.Join(f.Data.Drop, "\n") }},
	"partitions": {"data.partitions", func(f *File) string {
		if f.Data.Partitions {
			return "true"
		}
		return ""
	}},
}

// stageKeys maps, per stage, a parameter's name to the ferry.yaml key under
// it. A stage not listed takes nothing from the file as a parameter.
var stageKeys = map[string]map[string]key{
	"train": with(dataKeys, map[string]key{
		"data":      {"data.train", func(f *File) string { return f.Data.Train }},
		"valid":     {"data.valid", func(f *File) string { return f.Data.Valid }},
		"trainer":   {"train.trainer", func(f *File) string { return f.Train.Trainer }},
		"algorithm": {"train.algorithm", func(f *File) string { return f.Train.Algorithm }},
		"objective": {"train.objective", func(f *File) string { return f.Train.Objective }},
		"seed":      {"train.seed", func(f *File) string { return itoa(f.Train.Seed) }},
		"out":       {"train.out", func(f *File) string { return f.Train.Out }},
		"search": {"train.search.enabled", func(f *File) string {
			if f.Train.Search.Enabled {
				return "true"
			}
			return ""
		}},
		"strategy":    {"train.search.strategy", func(f *File) string { return f.Train.Search.Strategy }},
		"trials":      {"train.search.trials", func(f *File) string { return itoa(f.Train.Search.Trials) }},
		"search-time": {"train.search.time", func(f *File) string { return f.Train.Search.Time }},
		"folds":       {"train.search.folds", func(f *File) string { return itoa(f.Train.Search.Folds) }},
		"parallel":    {"train.search.parallel", func(f *File) string { return itoa(f.Train.Search.Parallel) }},
	}),
	"evaluate": with(dataKeys, map[string]key{
		"data":       {"data.test", func(f *File) string { return f.Data.Test }},
		"gate":       {"evaluate.gates", func(f *File) string { return strings.Join(f.Evaluate.Gates, "\n") }},
		"slice":      {"evaluate.slice", func(f *File) string { return f.Evaluate.Slice }},
		"bootstrap":  {"evaluate.bootstrap", func(f *File) string { return itoa(f.Evaluate.Bootstrap) }},
		"confidence": {"evaluate.confidence", func(f *File) string { return ftoa(f.Evaluate.Confidence) }},
		"allow-data-change": {"evaluate.allow-data-change", func(f *File) string {
			if f.Evaluate.AllowDataChange {
				return "true"
			}
			return ""
		}},
	}),
	"monitor": {
		"psi":      {"monitor.psi", func(f *File) string { return ftoa(f.Monitor.PSI) }},
		"p-value":  {"monitor.p-value", func(f *File) string { return ftoa(f.Monitor.PValue) }},
		"min-rows": {"monitor.min-rows", func(f *File) string { return itoa(f.Monitor.MinRows) }},
	},
}

func with(base, more map[string]key) map[string]key {
	out := make(map[string]key, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func itoa(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func ftoa(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// Layer lays the ferry.yaml f, read from path, under src for the named
// stage: a parameter the user gave (a flag, an input) wins; else the file's
// key under it, when set; else the parameter's default, as the Reader applies
// it. This is the one place where ferry.yaml meets flags and inputs.
//
// A value taken from the file is described as the file's key ("ferry.yaml
// data.label"), so an error about it names what the user wrote. Trainer
// parameters are the one key that adds rather than yields: ferry.yaml's
// train.params come first and a --param of the same name, read later, wins;
// they belong to ferry.yaml's algorithm and are dropped when the parameters
// pick another one. A nil f returns src.
func Layer(src input.Source, f *File, path, stage string) input.Source {
	if f == nil {
		return src
	}
	return layered{src: src, f: f, path: path, keys: stageKeys[stage], params: stage == "train"}
}

type layered struct {
	src    input.Source
	f      *File
	path   string
	keys   map[string]key
	params bool // the stage takes train.params under --param
}

func (l layered) given(name string) (string, bool) {
	v, ok := l.src.Lookup(name)
	return v, ok && strings.TrimSpace(v) != ""
}

func (l layered) Lookup(name string) (string, bool) {
	if name == "param" && l.params {
		return l.trainParams()
	}
	if v, ok := l.given(name); ok {
		return v, true
	}
	if k, ok := l.keys[name]; ok {
		if v := k.get(l.f); v != "" {
			return v, true
		}
	}
	return l.src.Lookup(name)
}

// trainParams is ferry.yaml's train.params followed by the given ones, when
// the algorithm in effect is the file's.
func (l layered) trainParams() (string, bool) {
	given, ok := l.src.Lookup("param")
	alg, picked := l.given("algorithm")
	if len(l.f.Train.Params) == 0 || (picked && l.f.Train.Algorithm != "" && alg != l.f.Train.Algorithm) {
		return given, ok
	}
	file := strings.Join(l.f.Train.ParamList(), "\n")
	if strings.TrimSpace(given) == "" {
		return file, true
	}
	return file + "\n" + given, true
}

func (l layered) Describe(name string) string {
	if _, ok := l.given(name); ok || name == "param" {
		return l.src.Describe(name)
	}
	if k, ok := l.keys[name]; ok && k.get(l.f) != "" {
		return l.path + " " + k.path
	}
	return l.src.Describe(name)
}

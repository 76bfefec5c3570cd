package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/metrics"
)

// runMetrics is `ferry metrics`: the metrics of a predictions file.
func runMetrics(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	path := in.String("predictions")
	labelCol, scoreCol, groupCol, weightCol := in.String("label"), in.String("score"), in.String("group"), in.String("weight")
	kText := in.List("k")
	asJSON := in.Bool("json")
	if err := in.Err(); err != nil {
		return nil, err
	}
	var ks []int
	for _, s := range kText {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			return nil, &input.Error{Param: in.Describe("k"), Value: s, Want: "whole numbers from 1, such as 1,3,5,10"}
		}
		ks = append(ks, k)
	}
	p, err := readPredictions(path, labelCol, scoreCol, groupCol, weightCol)
	if err != nil {
		return nil, err
	}
	task := metrics.TaskOf(p.labels, p.groups != nil)
	ms, err := metrics.AllWeighted(task, p.labels, p.scores, p.weights, p.groups, ks)
	if err != nil {
		return nil, err
	}
	ms["rows"] = float64(len(p.labels))
	if p.groups != nil {
		ms["groups"] = float64(len(p.groups))
	}
	if asJSON {
		b, err := json.Marshal(ms)
		if err != nil {
			return nil, fmt.Errorf("encode metrics: %w", err)
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return &Result{}, nil
	}
	fmt.Fprintf(env.Stdout, "%s: %d rows, %s metrics\n", path, len(p.labels), task)
	if task == metrics.Binary && !metrics.Probabilities(p.scores) {
		fmt.Fprintln(env.Stdout, "(scores outside [0, 1] are not probabilities: log-loss, Brier and ECE are left out)")
	}
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		if k != "rows" && k != "groups" {
			fmt.Fprintf(env.Stdout, "%-14s %.6f\n", k, ms[k])
		}
	}
	return &Result{}, nil
}

// predictions are the columns of a predictions file.
type predictions struct {
	labels, scores []float64
	weights        []float64 // nil without a weight column
	groups         [][]int
}

// readPredictions reads a CSV such as `ferry predict` writes. The group column
// is optional: when it is absent or empty, there are no groups. The weight
// column, when named, must be there.
func readPredictions(path, labelCol, scoreCol, groupCol, weightCol string) (*predictions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, &data.Error{Path: path, Line: 1, Msg: "no header line: want a CSV with label and score columns, as ferry predict writes"}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	li, lok := col[labelCol]
	si, sok := col[scoreCol]
	if !lok || !sok {
		return nil, &data.Error{Path: path, Line: 1, Msg: fmt.Sprintf("want columns %q and %q (--label, --score); the header has %s", labelCol, scoreCol, strings.Join(header, ", "))}
	}
	gi, gok := col[groupCol]
	wi, wok := col[weightCol]
	if weightCol != "" && !wok {
		return nil, &data.Error{Path: path, Line: 1, Msg: fmt.Sprintf("no weight column %q (--weight); the header has %s", weightCol, strings.Join(header, ", "))}
	}
	p := &predictions{}
	groupIndex := map[string]int{}
	anyGroup := false
	var keys []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, &data.Error{Path: path, Line: line, Msg: err.Error()}
		}
		y, err := data.ParseLabel(rec[li])
		if err != nil {
			return nil, &data.Error{Path: path, Line: line, Column: labelCol, Msg: err.Error()}
		}
		s, err := strconv.ParseFloat(strings.TrimSpace(rec[si]), 64)
		if err != nil || s != s || math.IsInf(s, 0) {
			return nil, &data.Error{Path: path, Line: line, Column: scoreCol, Msg: fmt.Sprintf("%q is not a finite number", rec[si])}
		}
		p.labels, p.scores = append(p.labels, y), append(p.scores, s)
		if wok {
			w, err := parseWeight(rec[wi])
			if err != nil {
				return nil, &data.Error{Path: path, Line: line, Column: weightCol, Msg: err.Error()}
			}
			p.weights = append(p.weights, w)
		}
		if gok {
			k := rec[gi]
			anyGroup = anyGroup || k != ""
			keys = append(keys, k)
		}
	}
	if len(p.labels) == 0 {
		return nil, &data.Error{Path: path, Msg: "no rows"}
	}
	if anyGroup {
		for row, k := range keys {
			g, ok := groupIndex[k]
			if !ok {
				g = len(p.groups)
				groupIndex[k] = g
				p.groups = append(p.groups, nil)
			}
			p.groups[g] = append(p.groups[g], row)
		}
	}
	return p, nil
}

// parseWeight reads a sample weight: a finite number, 0 or more.
func parseWeight(s string) (float64, error) {
	w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || w < 0 || math.IsInf(w, 0) || w != w {
		return 0, fmt.Errorf("%q is not a weight: want a finite number, 0 or more", s)
	}
	return w, nil
}

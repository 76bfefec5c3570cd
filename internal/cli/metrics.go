package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/metrics"
	"github.com/ferry-ml/ferry/templates/report"
)

// runMetrics is `ferry metrics`: the metrics of a predictions file.
func runMetrics(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	// Millions of rows are read into a few large slices that live to the
	// end: collecting garbage less often saves a fifth of the time.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
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
	p, err := data.ReadPredictions(ctx, path, labelCol, scoreCol, groupCol, weightCol)
	if err != nil {
		return nil, err
	}
	task := metrics.TaskOf(p.Labels, p.Groups != nil)
	ms, err := metrics.AllWeighted(task, p.Labels, p.Scores, p.Weights, p.Groups, ks)
	if err != nil {
		return nil, err
	}
	ms["rows"] = float64(len(p.Labels))
	if p.Groups != nil {
		ms["groups"] = float64(len(p.Groups))
	}
	if asJSON {
		return printJSON(env.Stdout, ms, false)
	}
	fmt.Fprint(env.Stdout, report.MetricsText(path, task, len(p.Labels), !metrics.Probabilities(p.Scores), ms))
	return &Result{}, nil
}

package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/templates/report"
)

// runModelShow is `ferry model`: it loads a model directory and describes it.
func runModelShow(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	dir := in.String("model")
	asJSON := in.Bool("json")
	if err := in.Err(); err != nil {
		return nil, err
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	mf := m.Manifest
	if asJSON {
		return printJSON(env.Stdout, mf, true)
	}
	fmt.Fprint(env.Stdout, report.ModelText(dir, mf))
	return &Result{}, nil
}

// runModelImport is `ferry model import`: it checks a foreign model file and
// writes a model directory around it.
func runModelImport(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	from := in.Enum("from")
	file := in.String("file")
	out := in.String("out")
	name := in.String("name")
	task := in.Enum("task")
	dataPath := in.String("data")
	read, rerr := readOptions(in)
	if err := in.Err(); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if !model.Scorable(from) {
		return nil, notYet("ferry model import --from " + from)
	}
	var train *data.Dataset
	if dataPath != "" {
		var err error
		if train, err = data.Read(ctx, dataPath, read); err != nil {
			return nil, err
		}
	}
	m, err := model.Import(ctx, from, file, out, name, task, train, dataPath, read)
	if errors.Is(err, model.ErrNeedsSchema) {
		return nil, &input.Error{Param: in.Describe("data"), Missing: true, Want: "the data the model was trained on: an " + from + " model does not name its features"}
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "imported %s (%s, %s, %d features) into %s\n", file, m.Lineage.Trainer, cmp.Or(m.Objective, "-"), len(m.Features), out)
	return &Result{}, nil
}

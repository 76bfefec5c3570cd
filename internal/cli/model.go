package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/version"
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
		b, err := json.MarshalIndent(mf, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode model.json: %w", err)
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return &Result{}, nil
	}
	w := env.Stdout
	fmt.Fprintf(w, "model:     %s (%s)\n", mf.Name, dir)
	fmt.Fprintf(w, "format:    %s, task %s, objective %s\n", mf.Format, mf.Task, mf.Objective)
	var names []string
	for _, f := range mf.Features {
		n := f.Name
		if f.Categorical {
			n += fmt.Sprintf(" (%d categories)", len(f.Categories))
		}
		names = append(names, n)
	}
	fmt.Fprintf(w, "features:  %d: %s\n", len(names), abbreviate(names, 12))
	for _, split := range []string{"train", "valid"} {
		if ms, ok := mf.Metrics[split]; ok {
			fmt.Fprintf(w, "%-10s %s\n", split+":", report.MetricsLine(ms))
		}
	}
	l := mf.Lineage
	fmt.Fprintf(w, "trained:   by %s (ferry %s) on %s, sha256 %s\n", l.Trainer, l.FerryVersion, cmp.Or(l.Data, "-"), short(l.DataSHA256, 12))
	if l.GitSHA != "" {
		fmt.Fprintf(w, "commit:    %s\n", l.GitSHA)
	}
	return &Result{}, nil
}

func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(items)-n)
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return cmp.Or(s, "-")
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
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("import model: %w", err)
	}
	var train *data.Dataset
	if dataPath != "" {
		if train, err = data.Read(dataPath, read); err != nil {
			return nil, err
		}
	}
	m, err := model.ForeignManifest(from, raw, task, train, read)
	if errors.Is(err, model.ErrNeedsSchema) {
		return nil, &input.Error{Param: in.Describe("data"), Missing: true, Want: "the data the model was trained on: an " + from + " model does not name its features"}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.Name = cmp.Or(name, filepath.Base(filepath.Clean(out)))
	m.Lineage.FerryVersion = version.Version
	if train != nil {
		m.Lineage.Data, m.Lineage.DataSHA256 = dataPath, train.SHA256
	}
	if err := model.Save(out, m, raw); err != nil {
		return nil, err
	}
	if _, err := model.Load(out); err != nil {
		return nil, fmt.Errorf("check the imported model: %w", err)
	}
	fmt.Fprintf(env.Stdout, "imported %s (%s, %s, %d features) into %s\n", file, m.Lineage.Trainer, cmp.Or(m.Objective, "-"), len(m.Features), out)
	return &Result{}, nil
}

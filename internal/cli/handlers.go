package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/internal/version"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Action is set when the command runs as a GitHub Action; Event with it.
	Action *actionio.Action
	Event  *actionio.Event
	// ActionOptions configure the Action that `ferry action` creates (tests
	// fix its random source).
	ActionOptions []actionio.Option
	// File is the ferry.yaml laid under this command's parameters, nil when
	// there is none; set per command by the front end.
	File     *config.File
	FilePath string // where File was read from
}

// Result is what a command hands back for the action's outputs and summary.
type Result struct {
	Outputs map[string]string
	Summary string // Markdown for the job summary
	// Err, when set, fails the command after the outputs and summary are
	// written: a failed gate still reports.
	Err error
}

// handler runs one command: it reads its parameters into a typed config,
// validates them, does the work and returns the result.
type handler func(ctx context.Context, env *Env, in *input.Reader) (*Result, error)

// handlers lists the commands this build implements. A declared command
// without a handler parses its parameters and then stops with
// NotAvailableError.
var handlers map[string]handler

func init() {
	// Assigned here because runDemo reads the map to see what it can run.
	handlers = map[string]handler{
		"version":       runVersion,
		"demo":          runDemo,
		"train":         runTrain,
		"predict":       runPredict,
		"model":         runModelShow,
		"metrics":       runMetrics,
		"evaluate":      runEvaluate,
		"serve":         runServe,
		"package":       runPackage,
		"model import":  runModelImport,
		"deploy":        runDeploy,
		"init":          runInit,
		"monitor":       runMonitor,
		"model history": runModelHistory,
		"model gc":      runModelGC,
		"search-trial":  runSearchTrial,
	}
}

func handlerFor(c stage.Command, key string) handler {
	if h, ok := handlers[key]; ok {
		return h
	}
	return func(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
		readAll(in, c.Params, env.Action != nil)
		if err := in.Err(); err != nil {
			return nil, err
		}
		return nil, &NotAvailableError{Command: "ferry " + key}
	}
}

// readAll reads every parameter the front end shows, so that a stage this build
// does not run still reports every bad value it was given.
func readAll(in *input.Reader, specs []input.Spec, action bool) {
	for _, s := range specs {
		if (action && !s.Input()) || (!action && !s.Flag()) {
			continue
		}
		switch s.Kind {
		case input.String:
			in.String(s.Name)
		case input.Enum:
			in.Enum(s.Name)
		case input.Bool:
			in.Bool(s.Name)
		case input.Int:
			in.Int(s.Name)
		case input.Float:
			in.Float(s.Name)
		case input.Duration:
			in.Duration(s.Name)
		case input.List:
			in.List(s.Name)
		}
	}
}

func runVersion(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	asJSON := env.Action == nil && in.Bool("json")
	if err := in.Err(); err != nil {
		return nil, err
	}
	info := version.Get()
	if asJSON {
		if _, err := printJSON(env.Stdout, info, true); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintln(env.Stdout, info.String())
	}
	return &Result{
		Outputs: map[string]string{"version": info.Version, "commit": info.Commit},
		Summary: fmt.Sprintf("### ferry\n\n`%s`\n", info.String()),
	}, nil
}

// printJSON prints v as JSON, indented or on one line, for a command's
// --json.
func printJSON(w io.Writer, v any, indent bool) (*Result, error) {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	fmt.Fprintf(w, "%s\n", b)
	return &Result{}, nil
}

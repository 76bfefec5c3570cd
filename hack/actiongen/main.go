// Command actiongen writes the action.yml files and the actions' README
// reference from the declarations in internal/stage. Run it through
// `make generate`; `make verify` fails when its output differs from the tree.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/stage"
)

const (
	beginMarker = "<!-- BEGIN GENERATED ACTIONS -->\n"
	endMarker   = "<!-- END GENERATED ACTIONS -->\n"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "actiongen:", err)
		os.Exit(1)
	}
}

func run() error {
	if err := os.MkdirAll("docs", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join("docs", "configuration.md"), []byte(config.Reference()), 0o644); err != nil {
		return err
	}
	files, err := stage.ActionFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := f.Render()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.Path, b, 0o644); err != nil {
			return err
		}
	}
	var ref bytes.Buffer
	ref.WriteString(beginMarker)
	for _, st := range stage.Stages() {
		ref.WriteString("\n" + stage.ReadmeSection(st) + "\n")
	}
	ref.WriteString(endMarker)
	return replaceBetween("actions/README.md", ref.Bytes())
}

// replaceBetween replaces the generated part of a hand-written file, or
// creates the file with just that part.
func replaceBetween(path string, generated []byte) error {
	old, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return os.WriteFile(path, generated, 0o644)
	}
	if err != nil {
		return err
	}
	i := bytes.Index(old, []byte(beginMarker))
	j := bytes.Index(old, []byte(endMarker))
	if i < 0 || j < i {
		return fmt.Errorf("%s: the markers %q and %q are missing", path, beginMarker, endMarker)
	}
	out := append(append(append([]byte{}, old[:i]...), generated...), old[j+len(endMarker):]...)
	return os.WriteFile(path, out, 0o644)
}

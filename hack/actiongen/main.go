// Command actiongen writes the action.yml files and the actions' README
// reference from the declarations in internal/stage. Run it through
// `make generate`; `make verify` fails when its output differs from the tree.
//
// The release workflow runs it with -image-digest sha256:..., the digest of
// the action image it just pushed: the release commit's action.yml files
// then run ghcr.io/ferry-ml/ferry:vX.Y.Z@sha256:..., never a mutable tag.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/internal/version"
)

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

const (
	beginMarker = "<!-- BEGIN GENERATED ACTIONS -->\n"
	endMarker   = "<!-- END GENERATED ACTIONS -->\n"
)

func main() {
	digest := flag.String("image-digest", "", "pin the action image by this digest (sha256:...) in the action.yml files")
	flag.Parse()
	if *digest != "" && !digestRE.MatchString(*digest) {
		fmt.Fprintf(os.Stderr, "actiongen: -image-digest %q: want sha256: and 64 lowercase hex digits\n", *digest)
		os.Exit(2)
	}
	version.ImageDigest = *digest
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

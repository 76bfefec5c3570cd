package workflows

import (
	"bytes"
	"embed"
	"fmt"
	"sync"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// workflows is parsed at its first use, not at start-up.
var workflows = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Delims("[[", "]]").ParseFS(files, "*.tmpl"))
})

// Workflow is what the example workflows need.
type Workflow struct {
	Version string // ferry's version, without "v"
	Trainer string // builtin, command or kubernetes
	RunsOn  string // a runs-on value, such as ubuntu-latest or [self-hosted, gpu]
}

// Workflows lists the workflow templates by the file they become.
var Workflows = map[string]string{
	".github/workflows/model.yml":         "pull-request.yml.tmpl",
	".github/workflows/deploy.yml":        "merge.yml.tmpl",
	".github/workflows/fork-report.yml":   "fork-report.yml.tmpl",
	".github/workflows/train-comment.yml": "train-comment.yml.tmpl",
	".github/workflows/monitor.yml":       "monitor.yml.tmpl",
	".github/workflows/retrain.yml":       "retrain.yml.tmpl",
	".github/workflows/gc.yml":            "gc.yml.tmpl",
}

// ConfigTemplate is the commented ferry.yaml that `ferry init` writes,
// rendered with Render.
const ConfigTemplate = "ferry.yaml.tmpl"

// Render renders one workflow template.
func Render(name string, w Workflow) (string, error) { return execute(workflows(), name, w) }

func execute(t *template.Template, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.String(), nil
}

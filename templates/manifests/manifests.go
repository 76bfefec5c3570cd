package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// kube is parsed at its first use, not at start-up: every command of
// ferry links it, few render manifests.
var kube = sync.OnceValue(parse)

// parse parses the manifests with an `include` that renders a named
// template to a string, so that it can be piped to `indent`.
func parse() *template.Template {
	t := template.New("").Funcs(template.FuncMap{
		"sortedKeys": func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
		"quote":      strconv.Quote,
		"indent":     indent,
	})
	t.Funcs(template.FuncMap{"include": func(name string, data any) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}})
	return template.Must(t.ParseFS(files, "*.tmpl"))
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// Deploy is what the Kubernetes manifests need.
type Deploy struct {
	Name, Namespace         string
	Service                 string // the Service's name, shared by stable and canary
	Model                   string
	Image                   string // always IMAGE@DIGEST
	Replicas, MaxReplicas   int    // MaxReplicas > 0 adds a HorizontalPodAutoscaler and leaves replicas to it
	TargetCPUPercent        int
	Port                    int
	CPU, Memory             string
	GPUs                    int
	NodeSelector            map[string]string
	Tolerations             []Toleration
	GitSHA                  string
	PullRequest             int
	Track                   string            // stable or canary
	Labels                  map[string]string // extra labels on the objects and pods (never in the selector)
	ProgressDeadlineSeconds int
}

// Toleration lets the pods onto nodes with a taint: KEY (any value) or
// KEY=VALUE, for one effect or, when Effect is empty, all.
type Toleration struct{ Key, Value, Effect string }

// Manifests lists the manifest templates, in the order they are applied.
var Manifests = []string{"deployment.yaml.tmpl", "service.yaml.tmpl", "pdb.yaml.tmpl", "hpa.yaml.tmpl"}

// Render renders one Kubernetes manifest.
func Render(name string, d Deploy) (string, error) { return execute(kube(), name, d) }

func execute(t *template.Template, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.String(), nil
}

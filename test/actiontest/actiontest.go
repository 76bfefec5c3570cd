package actiontest

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry/internal/stage"
)

// Env is a strict getenv: reading a key that is not in it fails the test.
type Env struct {
	t    testing.TB
	mu   sync.Mutex
	vars map[string]string
	read map[string]bool
}

// NewEnv returns a strict environment holding vars.
func NewEnv(t testing.TB, vars map[string]string) *Env {
	return &Env{t: t, vars: vars, read: map[string]bool{}}
}

// Getenv returns the value of key, failing the test when key is not declared.
func (e *Env) Getenv(key string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.vars[key]
	if !ok {
		e.t.Errorf("getenv(%q): not set by the runner in this test; the code reads a variable it should not", key)
		return ""
	}
	e.read[key] = true
	return v
}

// Read returns the keys read so far that start with prefix, sorted.
func (e *Env) Read(prefix string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var keys []string
	for k := range e.read {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Runner is a temporary directory laid out like a runner's: the output and
// summary files, an event payload, and a workspace.
type Runner struct {
	Dir       string
	Output    string // GITHUB_OUTPUT
	Summary   string // GITHUB_STEP_SUMMARY
	EventPath string // GITHUB_EVENT_PATH
	Workspace string // GITHUB_WORKSPACE
}

// NewRunner creates the runner's files; event is the webhook payload (JSON).
func NewRunner(t testing.TB, event string) *Runner {
	t.Helper()
	dir := t.TempDir()
	r := &Runner{
		Dir:       dir,
		Output:    filepath.Join(dir, "set_output"),
		Summary:   filepath.Join(dir, "step_summary"),
		EventPath: filepath.Join(dir, "event.json"),
		Workspace: filepath.Join(dir, "workspace"),
	}
	for _, f := range []string{r.Output, r.Summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.EventPath, []byte(event), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.Workspace, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// Vars returns the variables the runner sets for a container action on the
// given event, plus the inputs (by input name, as action.yml spells them).
func (r *Runner) Vars(eventName string, inputs map[string]string) map[string]string {
	vars := map[string]string{
		"GITHUB_ACTIONS":           "true",
		"GITHUB_ACTION":            "__run",
		"GITHUB_ACTION_PATH":       "",
		"GITHUB_ACTION_REPOSITORY": "",
		"GITHUB_ACTOR":             "octocat",
		"GITHUB_ACTOR_ID":          "1",
		"GITHUB_API_URL":           "https://api.github.com",
		"GITHUB_BASE_REF":          "",
		"GITHUB_ENV":               filepath.Join(r.Dir, "set_env"),
		"GITHUB_EVENT_NAME":        eventName,
		"GITHUB_EVENT_PATH":        r.EventPath,
		"GITHUB_GRAPHQL_URL":       "https://api.github.com/graphql",
		"GITHUB_HEAD_REF":          "",
		"GITHUB_JOB":               "model",
		"GITHUB_OUTPUT":            r.Output,
		"GITHUB_PATH":              filepath.Join(r.Dir, "add_path"),
		"GITHUB_REF":               "refs/heads/main",
		"GITHUB_REF_NAME":          "main",
		"GITHUB_REF_PROTECTED":     "false",
		"GITHUB_REF_TYPE":          "branch",
		"GITHUB_REPOSITORY":        "shop/ranker",
		"GITHUB_REPOSITORY_OWNER":  "shop",
		"GITHUB_RETENTION_DAYS":    "90",
		"GITHUB_RUN_ATTEMPT":       "1",
		"GITHUB_RUN_ID":            "42",
		"GITHUB_RUN_NUMBER":        "7",
		"GITHUB_SERVER_URL":        "https://github.com",
		"GITHUB_SHA":               "0000000000000000000000000000000000000001",
		"GITHUB_STEP_SUMMARY":      r.Summary,
		"GITHUB_WORKFLOW":          "model",
		"GITHUB_WORKSPACE":         r.Workspace,
	}
	for name, v := range inputs {
		vars["INPUT_"+strings.ToUpper(strings.ReplaceAll(name, " ", "_"))] = v
	}
	return vars
}

// ReadFile returns a file's content, failing the test when it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ParseOutputs reads a GITHUB_OUTPUT file the way the runner does: NAME=VALUE
// lines and NAME<<DELIM blocks. A later value of a name replaces an earlier.
func ParseOutputs(t testing.TB, content string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(content))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		eq, heredoc := strings.Index(line, "="), strings.Index(line, "<<")
		if heredoc > 0 && (eq < 0 || heredoc < eq) {
			name, delim := line[:heredoc], line[heredoc+2:]
			var value []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				value = append(value, sc.Text())
			}
			if !closed {
				t.Fatalf("output %q: delimiter %q never closes", name, delim)
			}
			out[name] = strings.Join(value, "\n")
			continue
		}
		if eq <= 0 {
			t.Fatalf("output line %q is neither NAME=VALUE nor NAME<<DELIM", line)
		}
		out[line[:eq]] = line[eq+1:]
	}
	return out
}

// StageInputs is what the runner passes a stage's action: every declared
// input, empty unless set (action.yml declares defaults only for
// expressions, which the runner would have evaluated).
func StageInputs(name string, set map[string]string) map[string]string {
	st, _ := stage.Lookup(name)
	out := map[string]string{}
	for _, s := range st.InputParams() {
		out[s.Name] = ""
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

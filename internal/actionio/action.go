package actionio

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/ferry-ml/ferry/internal/input"
)

// MaxSummaryBytes is GitHub's limit on one step's job summary (1 MiB).
const MaxSummaryBytes = 1 << 20

// ErrSummaryTooLarge is returned when a summary would pass MaxSummaryBytes.
var ErrSummaryTooLarge = errors.New("job summary would exceed GitHub's 1 MiB limit")

// Action talks to the Actions runner: it reads inputs and the environment
// through getenv, writes workflow commands (masks, groups, annotations) to the
// log, and writes outputs and the summary to the runner's files.
type Action struct {
	gha    *githubactions.Action
	getenv func(string) string
	rand   io.Reader
}

// Option configures an Action.
type Option func(*Action)

// WithRandom sets the source of output delimiters (default crypto/rand). Tests
// pass a fixed reader to compare files byte for byte.
func WithRandom(r io.Reader) Option { return func(a *Action) { a.rand = r } }

// New returns an Action that reads the environment through getenv (os.Getenv
// in production) and writes workflow commands to log (standard output). Writes
// to log are best effort: a failing log never stops a stage.
func New(getenv func(string) string, log io.Writer, opts ...Option) *Action {
	a := &Action{getenv: getenv, rand: rand.Reader}
	for _, o := range opts {
		o(a)
	}
	a.gha = githubactions.New(
		githubactions.WithGetenv(getenv),
		githubactions.WithWriter(bestEffort{log}),
	)
	return a
}

// Running reports whether the process runs inside a GitHub Actions job.
func (a *Action) Running() bool { return a.getenv("GITHUB_ACTIONS") == "true" }

// Inputs returns a reader of the given specs from the action's inputs
// (INPUT_<NAME> variables). Every secret input is masked in the log as soon as
// it is read.
func (a *Action) Inputs(specs []input.Spec) *input.Reader {
	return input.NewReader(a.InputSource(), specs, a.Mask)
}

// InputSource is the action's inputs as an input.Source, for a caller that
// lays another source under them.
func (a *Action) InputSource() input.Source { return inputSource{a.gha} }

type inputSource struct{ gha *githubactions.Action }

func (s inputSource) Lookup(name string) (string, bool) {
	v := s.gha.GetInput(name)
	return v, v != ""
}

func (s inputSource) Describe(name string) string { return fmt.Sprintf("input %q", name) }

// Mask hides secret in every later line of the job's log.
func (a *Action) Mask(secret string) {
	if secret != "" {
		a.gha.AddMask(secret)
	}
}

// Group opens a collapsible section of the log titled title; call the
// returned function to close it.
func (a *Action) Group(title string) (end func()) {
	a.gha.Group(title)
	return a.gha.EndGroup
}

// Annotation is a message attached to the run and, when File is set, to a line
// of a file in the pull request's diff.
type Annotation struct {
	Title   string
	File    string // relative to the repository root
	Line    int    // 1-based; 0 when unknown
	EndLine int
	Col     int
	Message string
}

func (an Annotation) fields() map[string]string {
	m := map[string]string{}
	if an.Title != "" {
		m["title"] = an.Title
	}
	if an.File != "" {
		m["file"] = an.File
	}
	for k, v := range map[string]int{"line": an.Line, "endLine": an.EndLine, "col": an.Col} {
		if v > 0 {
			m[k] = strconv.Itoa(v)
		}
	}
	return m
}

// Debug writes a line that the log shows only when step debug logging is on.
func (a *Action) Debug(msg string) { a.gha.Debugf("%s", msg) }

// Error writes an error annotation.
func (a *Action) Error(an Annotation) { a.gha.WithFieldsMap(an.fields()).Errorf("%s", an.Message) }

// Warning writes a warning annotation.
func (a *Action) Warning(an Annotation) { a.gha.WithFieldsMap(an.fields()).Warningf("%s", an.Message) }

// Notice writes a notice annotation.
func (a *Action) Notice(an Annotation) { a.gha.WithFieldsMap(an.fields()).Noticef("%s", an.Message) }

var outputNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// SetOutput appends one output to the runner's GITHUB_OUTPUT file, as
// NAME<<DELIM, the value, DELIM, where DELIM is fresh and random for every
// value, so no value can end its own block early and forge another output.
func (a *Action) SetOutput(name, value string) error {
	if !outputNameRE.MatchString(name) {
		return fmt.Errorf("set output %q: a name is letters, digits, '_' and '-'", name)
	}
	delim, err := a.delimiter()
	if err != nil {
		return fmt.Errorf("set output %q: %w", name, err)
	}
	if strings.Contains(value, delim) {
		return fmt.Errorf("set output %q: the value contains its own delimiter", name)
	}
	entry := name + "<<" + delim + "\n" + value + "\n" + delim + "\n"
	if err := a.appendFile("GITHUB_OUTPUT", []byte(entry), 0); err != nil {
		return fmt.Errorf("set output %q: %w", name, err)
	}
	return nil
}

// AddSummary appends Markdown to the job summary. It fails with
// ErrSummaryTooLarge, writing nothing, when the summary would pass GitHub's
// limit: callers fold sections rather than cut text.
func (a *Action) AddSummary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	if err := a.appendFile("GITHUB_STEP_SUMMARY", []byte(markdown), MaxSummaryBytes); err != nil {
		return fmt.Errorf("write job summary: %w", err)
	}
	return nil
}

func (a *Action) delimiter() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return "", fmt.Errorf("random delimiter: %w", err)
	}
	return "ghadelimiter_" + hex.EncodeToString(b), nil
}

// appendFile appends data to the file named by the environment variable env,
// refusing when the file would grow past limit bytes (0: no limit).
func (a *Action) appendFile(env string, data []byte, limit int64) error {
	path := a.getenv(env)
	if path == "" {
		return fmt.Errorf("%s is not set: this runs only inside a GitHub Actions job", env)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if limit > 0 {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		if fi.Size()+int64(len(data)) > limit {
			f.Close()
			return ErrSummaryTooLarge
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bestEffort drops write errors: the log is for people, and a closed standard
// output must not turn into a panic inside go-githubactions.
type bestEffort struct{ w io.Writer }

func (b bestEffort) Write(p []byte) (int, error) {
	_, _ = b.w.Write(p) // see the type comment
	return len(p), nil
}

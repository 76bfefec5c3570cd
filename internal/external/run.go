package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Job is one run of a training command.
type Job struct {
	Command string
	Dir     string   // working directory; "" for the current one
	Env     []string // KEY=VALUE added to the inherited environment
	Timeout time.Duration
	Grace   time.Duration // between SIGTERM and SIGKILL
	// GPURequest is the run's GPU request (all, a count, device=0,1), and
	// GPUDevices the devices the preflight picked for it, when it ran: their
	// UUIDs, which mean the same GPU on the host and in any container. The
	// host backend gets them through CUDA_VISIBLE_DEVICES in Env; the docker
	// backend turns them into a device request.
	GPURequest string
	GPUDevices []string
}

// Backend runs a Job, streaming its output to log.
type Backend interface {
	Run(ctx context.Context, job Job, log io.Writer) error
}

// ExitError is a command that exited non-zero, or was stopped.
type ExitError struct {
	Code     int    // exit status; -1 when killed by a signal
	Signal   string // the signal that ended it, if any
	TimedOut bool
	Tail     []string // the last lines of its output
}

func (e *ExitError) Error() string {
	var b strings.Builder
	switch {
	case e.TimedOut:
		b.WriteString("the training command ran past its timeout and was stopped")
	case e.Signal != "":
		fmt.Fprintf(&b, "the training command was killed by %s", e.Signal)
	default:
		fmt.Fprintf(&b, "the training command exited with status %d", e.Code)
	}
	if len(e.Tail) > 0 {
		fmt.Fprintf(&b, "; its last lines:\n    %s", strings.Join(e.Tail, "\n    "))
	}
	return b.String()
}

// Host runs the command with sh -c on this machine.
type Host struct{}

// tailLines is how many lines of output an error keeps.
const tailLines = 20

// Run implements Backend.
func (Host) Run(ctx context.Context, job Job, log io.Writer) error {
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Timeout)
		defer cancel()
	}
	grace := job.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	tail := &tailWriter{max: tailLines}
	out := &LockedWriter{W: io.MultiWriter(log, tail)}
	cmd := exec.Command("/bin/sh", "-c", job.Command)
	cmd.Dir = job.Dir
	cmd.Env = append(os.Environ(), job.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the training command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	stopped := false
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		stopped = true
		// The whole process group: the shell and what it started.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case waitErr = <-done:
		case <-time.After(grace):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			waitErr = <-done
		}
	}
	tail.flush()
	if waitErr == nil && !stopped {
		return nil
	}
	ee := &ExitError{Code: -1, Tail: tail.lines, TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded)}
	var xe *exec.ExitError
	if errors.As(waitErr, &xe) {
		ee.Code = xe.ExitCode()
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ee.Signal = ws.Signal().String()
		}
	}
	if stopped && !ee.TimedOut {
		return fmt.Errorf("training cancelled: %w", ctx.Err())
	}
	return ee
}

// LockedWriter serialises writes to W: a command's two streams, or
// parallel search trials writing to one log.
type LockedWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W, one writer at a time.
func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}

// tailOf flushes t and returns a copy of its lines under the writer's lock:
// a log stream that is still writing (the docker backend stops waiting for
// it after a few seconds) cannot race with the read.
func (l *LockedWriter) tailOf(t *tailWriter) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	t.flush()
	return slices.Clone(t.lines)
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max     int
	lines   []string
	partial []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.partial = append(t.partial, p...)
	for {
		i := strings.IndexByte(string(t.partial), '\n')
		if i < 0 {
			break
		}
		t.add(strings.TrimRight(string(t.partial[:i]), "\r"))
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

func (t *tailWriter) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailWriter) flush() {
	if len(t.partial) > 0 {
		t.add(string(t.partial))
		t.partial = nil
	}
}

// jobEnv is the environment a training command gets.
func jobEnv(output, train, valid, label, group string, seed int64, visible string) ([]string, error) {
	env := []string{"FERRY_OUTPUT=" + output, "FERRY_SEED=" + strconv.FormatInt(seed, 10)}
	if label != "" {
		env = append(env, "FERRY_LABEL="+label)
	}
	if group != "" {
		env = append(env, "FERRY_GROUP="+group)
	}
	for name, p := range map[string]string{"FERRY_DATA_TRAIN": train, "FERRY_DATA_VALID": valid} {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		env = append(env, name+"="+abs)
	}
	if visible != "" {
		env = append(env, "CUDA_VISIBLE_DEVICES="+visible, "NVIDIA_VISIBLE_DEVICES="+visible)
	}
	return env, nil
}

// ParamEnv is the environment variable a searched parameter reaches the
// command in: FERRY_PARAM_ and the name in upper case, each character that
// is not a letter or digit an underscore (learning-rate is
// FERRY_PARAM_LEARNING_RATE), as Kubernetes and shells accept names.
func ParamEnv(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return "FERRY_PARAM_" + string(b)
}

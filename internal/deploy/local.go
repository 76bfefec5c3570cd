package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/oip"
)

// Local runs an image's own ferry-serve as a process on this machine: the
// image's layers are unpacked into Dir/NAME/rootfs and its entrypoint runs
// from there, with the model path inside the image mapped to the unpacked
// one. State (PID, URL, log) lives in Dir/NAME so that StopLocal finds it.
type Local struct {
	Dir  string // state root, for example ./ferry-deploy
	Name string // the deployment's and the served model's name
	Addr string // listen address; default 127.0.0.1 on a free port
	Log  func(format string, args ...any)
}

// LocalResult is a running local deployment.
type LocalResult struct {
	URL string // http://HOST:PORT
	PID int
	Dir string
}

// Deploy unpacks img, starts its server, waits until it is ready and
// answers one infer request, then stops the previous local deployment of
// the same name. On failure the new process is stopped and the previous
// one keeps serving.
func (l *Local) Deploy(ctx context.Context, img v1.Image) (LocalResult, error) {
	if runtime.GOOS != "linux" {
		return LocalResult{}, fmt.Errorf("--target local runs the image's Linux server binary; this machine runs %s", runtime.GOOS)
	}
	base := filepath.Join(l.Dir, l.Name)
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return LocalResult{}, fmt.Errorf("local deployment directory: %w", err)
	}
	work, err := os.MkdirTemp(l.Dir, "."+l.Name+"-")
	if err != nil {
		return LocalResult{}, err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(work)
		}
	}()
	argv, err := unpackEntrypoint(img, filepath.Join(work, "rootfs"))
	if err != nil {
		return LocalResult{}, err
	}
	addr := l.Addr
	if addr == "" {
		if addr, err = freeAddr(); err != nil {
			return LocalResult{}, err
		}
	}
	// The flags given last win: serve on this machine's address, under the
	// deployment's name.
	argv = append(argv, "--addr", addr, "--name", l.Name)
	logFile, err := os.Create(filepath.Join(work, "serve.log"))
	if err != nil {
		return LocalResult{}, err
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return LocalResult{}, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url := "http://" + addr
	if err := smokeTest(ctx, url, l.Name, exited); err != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		return LocalResult{}, fmt.Errorf("%w; the server logged:\n%s", err, lastLines(filepath.Join(work, "serve.log"), 10))
	}
	for file, content := range map[string]string{"pid": strconv.Itoa(cmd.Process.Pid), "url": url} {
		if err := os.WriteFile(filepath.Join(work, file), []byte(content+"\n"), 0o644); err != nil {
			return LocalResult{}, err
		}
	}
	if err := StopLocal(l.Dir, l.Name); err != nil {
		l.logf("stop the previous local deployment: %v", err)
	}
	if err := os.RemoveAll(base); err != nil {
		return LocalResult{}, err
	}
	if err := os.Rename(work, base); err != nil {
		return LocalResult{}, err
	}
	keep = true
	return LocalResult{URL: url, PID: cmd.Process.Pid, Dir: base}, nil
}

// unpackEntrypoint unpacks img into rootfs and returns its entrypoint and
// command with the program, and any argument that names a file of the
// image, resolved inside rootfs.
func unpackEntrypoint(img v1.Image, rootfs string) ([]string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config: %w", err)
	}
	argv := append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...)
	if len(argv) == 0 {
		return nil, errors.New("the image has no entrypoint: it is not a ferry model image")
	}
	if err := oci.Unpack(img, rootfs); err != nil {
		return nil, fmt.Errorf("unpack the image: %w", err)
	}
	// Only a program from the image's own layers runs: the entrypoint must
	// be an absolute path to a regular file in the unpacked image, never a
	// program of this machine's (an image whose entrypoint is /bin/sh -c
	// would otherwise run the host's shell).
	prog := argv[0]
	fi, err := os.Lstat(filepath.Join(rootfs, prog))
	if !strings.HasPrefix(prog, "/") || err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the image's entrypoint %q is not a program in the image's own layers: --target local runs only what the image holds (a ferry model image's entrypoint is /ferry-serve)", prog)
	}
	argv[0] = filepath.Join(rootfs, prog)
	for i, a := range argv[1:] {
		if strings.HasPrefix(a, "/") {
			if _, err := os.Stat(filepath.Join(rootfs, a)); err == nil {
				argv[i+1] = filepath.Join(rootfs, a)
			}
		}
	}
	return argv, nil
}

func (l *Local) logf(format string, args ...any) {
	if l.Log != nil {
		l.Log(format, args...)
	}
}

// StopLocal stops the local deployment NAME under dir (SIGTERM, which
// ferry-serve answers by draining, then SIGKILL after ten seconds). No
// deployment is not an error.
func StopLocal(dir, name string) error {
	b, err := os.ReadFile(filepath.Join(dir, name, "pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, name, "pid"), err)
	}
	defer os.Remove(filepath.Join(dir, name, "pid"))
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || !strings.HasPrefix(exe, mustAbs(filepath.Join(dir, name))) && !strings.Contains(exe, "/."+name+"-") {
		return nil // gone, or the PID now belongs to another program
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil
		}
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// LocalURL returns the URL of a running local deployment.
func LocalURL(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name, "url"))
	if err != nil {
		return "", fmt.Errorf("no local deployment %s in %s", name, dir)
	}
	return strings.TrimSpace(string(b)), nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// smokeTest waits for the server to be ready, then sends one infer request
// built from the model's metadata (a row of zeros, empty categories) and
// checks that it returns a score.
func smokeTest(ctx context.Context, url, model string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := oip.Client{URL: url, HTTP: &http.Client{Timeout: 5 * time.Second}}
	for !client.Ready(ctx) {
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited before it was ready (%v)", err)
		case <-ctx.Done():
			return fmt.Errorf("the server was not ready within 30s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	meta, err := client.Metadata(ctx, model)
	if err != nil {
		return fmt.Errorf("smoke test: %w", err)
	}
	var req oip.InferRequest
	for _, in := range meta.Inputs {
		var v any = 0
		if in.Datatype == oip.Bytes {
			v = ""
		}
		req.Inputs = append(req.Inputs, oip.InferTensor(in.Name, in.Datatype, []any{v}))
	}
	if _, err := client.Infer(ctx, model, req); err != nil {
		return fmt.Errorf("smoke test: %w", err)
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

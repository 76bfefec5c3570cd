package external

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/mattn/go-shellwords"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/ferry-ml/ferry/internal/gpu"
)

// DockerAPI is the part of the Docker Engine API client the docker backend
// uses; *client.Client implements it.
type DockerAPI interface {
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerWait(ctx context.Context, id string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// NewDockerClient connects to the Docker Engine API named by DOCKER_HOST (by
// default the local socket, which GitHub mounts into container actions).
// The client negotiates the API version, so podman's compatible socket works
// too.
func NewDockerClient() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker Engine API: %w", err)
	}
	return c, nil
}

// Docker runs the command in the user's training image as a sibling
// container: a container action cannot pass --gpus, so ferry asks the
// runner's Docker for a new container with a GPU device request instead.
//
// The workspace is bind-mounted at the same path it has for ferry, so the
// FERRY_* paths mean the same inside; when ferry itself runs in a container
// (the action), the host's path of the workspace is found by inspecting
// ferry's own container. The container runs as the workspace's owner, gets
// only the job's environment, and is removed on every path out, cancellation
// included.
type Docker struct {
	API       DockerAPI
	Image     string
	Workspace string // the directory to mount, as ferry sees it
	// Self is ferry's own container ID when it runs in one (default: the
	// host name, which Docker sets to the short container ID).
	Self string
}

// Run implements Backend.
func (d Docker) Run(ctx context.Context, job Job, log io.Writer) error {
	if d.Image == "" {
		return fmt.Errorf("the docker backend needs --image: the training image to run")
	}
	opts, err := d.createOptions(ctx, job)
	if err != nil {
		return err
	}
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Timeout)
		defer cancel()
	}
	created, err := d.API.ContainerCreate(ctx, opts)
	if err != nil {
		return fmt.Errorf("create the training container from %s: %w", d.Image, err)
	}
	id := created.ID
	// Remove the container whatever happens, with a context of its own: the
	// run's may be cancelled already.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = d.API.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
	}()
	wait := d.API.ContainerWait(context.WithoutCancel(ctx), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := d.API.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start the training container: %w", err)
	}
	tail := &tailWriter{max: tailLines}
	out := &LockedWriter{W: io.MultiWriter(log, tail)}
	logsDone := d.follow(ctx, id, out)
	settle := func() { // the last lines, which may still be in flight
		select {
		case <-logsDone:
		case <-time.After(5 * time.Second):
		}
	}
	select {
	case r := <-wait.Result:
		settle()
		if r.StatusCode != 0 {
			return &ExitError{Code: int(r.StatusCode), Tail: out.tailOf(tail)}
		}
		return nil
	case err := <-wait.Error:
		return fmt.Errorf("wait for the training container: %w", err)
	case <-ctx.Done():
		d.stop(ctx, id, job.Grace)
		settle()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &ExitError{Code: -1, TimedOut: true, Tail: out.tailOf(tail)}
		}
		return fmt.Errorf("training cancelled: %w", ctx.Err())
	}
}

// createOptions is the training container: the image with --run as its
// command, the workspace mounted at the same path and owned by the same
// user, the GPU request.
func (d Docker) createOptions(ctx context.Context, job Job) (client.ContainerCreateOptions, error) {
	var none client.ContainerCreateOptions
	ws, err := filepath.Abs(d.Workspace)
	if err != nil {
		return none, err
	}
	hostWS, err := d.hostPath(ctx, ws)
	if err != nil {
		return none, err
	}
	// --run replaces the image's entry point and command, as "run this in
	// the image" reads; without it the image runs as built.
	var entrypoint, cmd []string
	if strings.TrimSpace(job.Command) != "" {
		argv, err := shellwords.Parse(job.Command)
		if err != nil {
			return none, fmt.Errorf("--run %q: %w", job.Command, err)
		}
		entrypoint, cmd = argv[:1], argv[1:]
		if len(cmd) == 0 {
			cmd = []string{}
		}
	}
	requests, err := deviceRequests(job.GPURequest, job.GPUDevices)
	if err != nil {
		return none, err
	}
	for _, kv := range job.Env {
		if p, ok := strings.CutPrefix(kv, "FERRY_OUTPUT="); ok && p != ws && !strings.HasPrefix(p, ws+"/") {
			return none, fmt.Errorf("the output directory %s is outside the workspace %s, which is all the training container sees: choose an --out inside it", p, ws)
		}
	}
	user := ""
	if fi, err := os.Stat(ws); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			user = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		}
	}
	workdir := cmp.Or(job.Dir, ws)
	return client.ContainerCreateOptions{
		Config: &container.Config{
			Image: d.Image, Entrypoint: entrypoint, Cmd: cmd, Env: job.Env, User: user, WorkingDir: workdir,
			Labels: map[string]string{"dev.ferry.run": "train"},
		},
		HostConfig: &container.HostConfig{
			Mounts:    []mount.Mount{{Type: mount.TypeBind, Source: hostWS, Target: ws}},
			Resources: container.Resources{DeviceRequests: requests},
		},
	}, nil
}

// follow copies the container's log to out until it ends; the channel
// closes then.
func (d Docker) follow(ctx context.Context, id string, out io.Writer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		logs, err := d.API.ContainerLogs(context.WithoutCancel(ctx), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
		if err != nil {
			fmt.Fprintf(out, "ferry: cannot follow the container's log: %v\n", err)
			return
		}
		defer logs.Close()
		_, _ = stdcopy.StdCopy(out, out, logs)
	}()
	return done
}

// stop stops the container with SIGTERM and grace (default 10 s) before
// SIGKILL, with a context of its own: the run's is done.
func (d Docker) stop(ctx context.Context, id string, grace time.Duration) {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	secs := int(grace.Round(time.Second) / time.Second)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+30*time.Second)
	defer cancel()
	_, _ = d.API.ContainerStop(sctx, id, client.ContainerStopOptions{Timeout: &secs})
}

// NvidiaSMI is the GPU preflight where the docker backend trains: nvidia-smi
// in a short-lived container of the training image with the run's GPU
// request, which the NVIDIA Container Toolkit answers with the driver's
// nvidia-smi. ferry's own container has no driver, and what it would see
// is not what the training container gets.
func (d Docker) NvidiaSMI(gpus string) gpu.Runner {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		requests, err := deviceRequests(gpus, nil)
		if err != nil {
			return nil, err
		}
		created, err := d.API.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: d.Image, Entrypoint: []string{"nvidia-smi"}, Cmd: args,
				Labels: map[string]string{"dev.ferry.run": "gpu-preflight"}},
			HostConfig: &container.HostConfig{Resources: container.Resources{DeviceRequests: requests}},
		})
		if err != nil {
			return nil, fmt.Errorf("in the training image %s: %w", d.Image, err)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = d.API.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
		}()
		wait := d.API.ContainerWait(context.WithoutCancel(ctx), created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
		if _, err := d.API.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
			return nil, fmt.Errorf("in the training image %s with GPUs %s: %w (the runner's Docker needs the NVIDIA Container Toolkit, "+
				"which gives a container that asks for GPUs the driver and nvidia-smi)", d.Image, gpus, err)
		}
		var status int64
		select {
		case r := <-wait.Result:
			status = r.StatusCode
		case err := <-wait.Error:
			return nil, fmt.Errorf("wait for nvidia-smi in %s: %w", d.Image, err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		logs, err := d.API.ContainerLogs(context.WithoutCancel(ctx), created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			return nil, fmt.Errorf("read nvidia-smi's output in %s: %w", d.Image, err)
		}
		defer logs.Close()
		var stdout, stderr strings.Builder
		if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
			return nil, fmt.Errorf("read nvidia-smi's output in %s: %w", d.Image, err)
		}
		if status != 0 {
			return nil, fmt.Errorf("nvidia-smi in the training image %s exited %d: %s", d.Image, status, strings.TrimSpace(stderr.String()+stdout.String()))
		}
		return []byte(stdout.String()), nil
	}
}

// hostPath maps a path of ferry's to the Docker host's: through the mounts of
// ferry's own container when it runs in one that this Docker knows (as a
// container action does), unchanged otherwise.
func (d Docker) hostPath(ctx context.Context, path string) (string, error) {
	self := d.Self
	if self == "" {
		if _, err := os.Stat("/.dockerenv"); err != nil {
			if _, err := os.Stat("/run/.containerenv"); err != nil {
				return path, nil // not in a container
			}
		}
		self, _ = os.Hostname()
	}
	info, err := d.API.ContainerInspect(ctx, self, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		// A container this Docker did not start (a development machine's
		// own sandbox, say): it shares the host's paths or none at all.
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("find the workspace's path on the Docker host (inspecting ferry's container %s): %w", self, err)
	}
	best := ""
	host := ""
	for _, m := range info.Container.Mounts {
		if (path == m.Destination || strings.HasPrefix(path, m.Destination+"/")) && len(m.Destination) > len(best) {
			best, host = m.Destination, m.Source+strings.TrimPrefix(path, m.Destination)
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s is not on a volume of ferry's container, so a sibling container cannot see it: keep data and output in the workspace", path)
	}
	return host, nil
}

// deviceRequests turns a GPU request into Docker's device requests, as the
// docker CLI's --gpus does; devices picked by the preflight win.
func deviceRequests(gpus string, picked []string) ([]container.DeviceRequest, error) {
	gpus = strings.TrimSpace(gpus)
	gpu := [][]string{{"gpu"}}
	if len(picked) > 0 {
		return []container.DeviceRequest{{DeviceIDs: picked, Capabilities: gpu}}, nil
	}
	switch {
	case gpus == "":
		return nil, nil
	case gpus == "all":
		return []container.DeviceRequest{{Count: -1, Capabilities: gpu}}, nil
	case strings.HasPrefix(gpus, "device="):
		return []container.DeviceRequest{{DeviceIDs: strings.Split(strings.TrimPrefix(gpus, "device="), ","), Capabilities: gpu}}, nil
	}
	n, err := strconv.Atoi(gpus)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("--gpus %q: want all, a count such as 2, or device=0,1", gpus)
	}
	return []container.DeviceRequest{{Count: n, Capabilities: gpu}}, nil
}

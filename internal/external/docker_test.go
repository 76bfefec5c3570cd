package external

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-ml/ferry/internal/gpu"
)

// fakeDocker answers the preflight's calls with a container whose output is
// what nvidia-smi prints in it, and records what was asked.
type fakeDocker struct {
	DockerAPI
	stdout, stderr string
	status         int64
	created        []client.ContainerCreateOptions
	removed        int
}

func (f *fakeDocker) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.created = append(f.created, o)
	return client.ContainerCreateResult{ID: "c1"}, nil
}

func (f *fakeDocker) ContainerStart(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
	return client.ContainerStartResult{}, nil
}

func (f *fakeDocker) ContainerWait(context.Context, string, client.ContainerWaitOptions) client.ContainerWaitResult {
	res := make(chan container.WaitResponse, 1)
	res <- container.WaitResponse{StatusCode: f.status}
	return client.ContainerWaitResult{Result: res, Error: make(chan error)}
}

func (f *fakeDocker) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	// Docker's multiplexed log stream: per frame, the stream's number, three
	// zero bytes, the payload's length (big-endian) and the payload.
	var b bytes.Buffer
	for _, frame := range []struct {
		stream stdcopy.StdType
		text   string
	}{{stdcopy.Stdout, f.stdout}, {stdcopy.Stderr, f.stderr}} {
		if frame.text == "" {
			continue
		}
		n := len(frame.text)
		b.Write([]byte{byte(frame.stream), 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		b.WriteString(frame.text)
	}
	return io.NopCloser(&b), nil
}

func (f *fakeDocker) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.removed++
	return client.ContainerRemoveResult{}, nil
}

// The docker backend's preflight runs nvidia-smi in the training image with
// the run's GPU request, reads its output as the host's nvidia-smi would
// be read, and removes the container; a failing nvidia-smi is an error
// that names the image and says what it printed.
func TestDockerNvidiaSMIRunsInTheTrainingImage(t *testing.T) {
	f := &fakeDocker{stdout: "0, NVIDIA H200, GPU-a, 143771, 512, 0, 560.35.03\n"}
	d := Docker{API: f, Image: "ghcr.io/shop/trainer:1"}
	facts, err := gpu.Query(context.Background(), d.NvidiaSMI("device=0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.Devices) != 1 || facts.Devices[0].UUID != "GPU-a" || facts.Driver != "560.35.03" {
		t.Errorf("facts %+v", facts)
	}
	c := f.created[0]
	if c.Config.Image != "ghcr.io/shop/trainer:1" || c.Config.Entrypoint[0] != "nvidia-smi" ||
		len(c.HostConfig.Resources.DeviceRequests) != 1 || c.HostConfig.Resources.DeviceRequests[0].DeviceIDs[0] != "0" {
		t.Errorf("created %+v / %+v", c.Config, c.HostConfig.Resources)
	}
	if f.removed != len(f.created) {
		t.Errorf("%d containers created, %d removed", len(f.created), f.removed)
	}

	bad := &fakeDocker{status: 9, stderr: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"}
	_, err = Docker{API: bad, Image: "ghcr.io/shop/trainer:1"}.NvidiaSMI("all")(context.Background(), "-L")
	if err == nil || !strings.Contains(err.Error(), "nvidia-smi in the training image ghcr.io/shop/trainer:1 exited 9: NVIDIA-SMI has failed") {
		t.Errorf("failing nvidia-smi: %v", err)
	}
}

// The preflight's picks reach Docker by UUID: an index means another GPU
// inside a container that sees only some of them.
func TestDeviceRequestsUsePickedUUIDs(t *testing.T) {
	got, err := deviceRequests("2", []string{"GPU-a", "GPU-c"})
	if err != nil || len(got) != 1 || strings.Join(got[0].DeviceIDs, ",") != "GPU-a,GPU-c" {
		t.Errorf("device requests %+v, %v", got, err)
	}
}

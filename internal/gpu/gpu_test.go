package gpu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/gpu"
)

// fakeSMI puts an nvidia-smi on PATH that prints the query CSV for the query
// and the header otherwise, from testdata.
func fakeSMI(t *testing.T, csvFile string) {
	t.Helper()
	dir := t.TempDir()
	wd, _ := os.Getwd()
	script := "#!/bin/sh\nif [ \"$1\" = \"" + gpu.QueryArgs[0] + "\" ]; then cat '" + filepath.Join(wd, "testdata", csvFile) +
		"'; else cat '" + filepath.Join(wd, "testdata", "two-h200-header.txt") + "'; fi\n"
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestQuery(t *testing.T) {
	fakeSMI(t, "two-h200.csv")
	f, err := gpu.Query(context.Background(), gpu.NvidiaSMI)
	if err != nil {
		t.Fatal(err)
	}
	want := &gpu.Facts{Driver: "560.35.03", CUDA: "12.6", Devices: []gpu.Device{
		{Index: 0, Name: "NVIDIA H200", UUID: "GPU-5c1a0f9e-3b7d-4c2e-9a51-0d8e2f6b7a11", MemoryTotalMiB: 143771, MemoryUsedMiB: 512},
		{Index: 1, Name: "NVIDIA H200", UUID: "GPU-9e2b4d71-6a0c-4f3e-8b12-7c5d9a3e0f42", MemoryTotalMiB: 143771, MemoryUsedMiB: 120340, UtilizationPercent: 97},
	}}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNoDriver(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := gpu.Query(context.Background(), gpu.NvidiaSMI); !errors.Is(err, gpu.ErrNoDriver) {
		t.Errorf("err = %v, want ErrNoDriver", err)
	}
}

func TestSelect(t *testing.T) {
	fakeSMI(t, "two-h200.csv")
	f, err := gpu.Query(context.Background(), gpu.NvidiaSMI)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		request string
		minFree int
		want    string // CUDA_VISIBLE_DEVICES, or the error's text
	}{
		{"all", 0, "0,1"},
		{"1", 0, "0"}, // the GPU with the most free memory
		{"1,0", 0, "1,0"},
		{"2", 0, "0,1"},
		{"device=0", 100000, "0"},
		{"device=1", 0, "1"},
		{"0", 0, `GPU request "0": want all, a count such as 2, or indexes such as device=0 or device=0,1`},
		{"3", 0, "3 GPUs were requested and this machine has 2 (GPUs 0 (NVIDIA H200), 1 (NVIDIA H200))"},
		{"0,4", 0, "GPU 4 was requested; this machine has GPUs 0 (NVIDIA H200), 1 (NVIDIA H200)"},
		{"all", 40000, "GPU 1 (NVIDIA H200) has 23431 MiB free, under the 40000 MiB asked for: 120340 MiB are in use by other processes"},
		{"many", 0, `GPU request "many": want all, a count such as 2, or indexes such as device=0 or device=0,1`},
	} {
		got, err := gpu.Select(f, tc.request, tc.minFree)
		text := gpu.Visible(got)
		if err != nil {
			text = err.Error()
		}
		if text != tc.want {
			t.Errorf("Select(%q, %d) = %q, want %q", tc.request, tc.minFree, text, tc.want)
		}
	}
}

func TestNoGPUs(t *testing.T) {
	fakeSMI(t, "no-gpu.csv")
	f, err := gpu.Query(context.Background(), gpu.NvidiaSMI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gpu.Select(f, "all", 0); err == nil || !strings.Contains(err.Error(), "nvidia-smi lists none") {
		t.Errorf("err = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"0, H200, GPU-x, lots, 1, 0, 560\n", "0, H200\n"} {
		if _, _, err := gpu.ParseQuery([]byte(in)); err == nil {
			t.Errorf("ParseQuery(%q) accepted", in)
		}
	}
}

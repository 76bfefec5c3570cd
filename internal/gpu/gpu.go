package gpu

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Device is one GPU as nvidia-smi reports it.
type Device struct {
	Index              int    `json:"index"`
	Name               string `json:"name"`
	UUID               string `json:"uuid"`
	MemoryTotalMiB     int    `json:"memory_total_mib"`
	MemoryUsedMiB      int    `json:"memory_used_mib"`
	UtilizationPercent int    `json:"utilization_percent"`
}

// FreeMiB is the memory no process holds.
func (d Device) FreeMiB() int { return d.MemoryTotalMiB - d.MemoryUsedMiB }

// Facts are what a run records about the machine's GPUs.
type Facts struct {
	Driver  string   `json:"driver"`
	CUDA    string   `json:"cuda"`
	Devices []Device `json:"devices"`
}

// QueryArgs are the arguments of the CSV query Query runs.
var QueryArgs = []string{"--query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,driver_version", "--format=csv,noheader,nounits"}

// Runner runs nvidia-smi with arguments and returns its standard output.
type Runner func(ctx context.Context, args ...string) ([]byte, error)

// NvidiaSMI runs the nvidia-smi found on PATH.
func NvidiaSMI(ctx context.Context, args ...string) ([]byte, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, ErrNoDriver
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ErrNoDriver says nvidia-smi is not on PATH.
var ErrNoDriver = errors.New("nvidia-smi is not on PATH: is this a GPU machine with the NVIDIA driver installed?")

// Query asks nvidia-smi for the machine's GPUs and driver and CUDA versions.
func Query(ctx context.Context, run Runner) (*Facts, error) {
	out, err := run(ctx, QueryArgs...)
	if err != nil {
		return nil, err
	}
	devices, driver, err := ParseQuery(out)
	if err != nil {
		return nil, err
	}
	f := &Facts{Driver: driver, Devices: devices}
	// The CUDA version only shows in nvidia-smi's own header.
	if header, err := run(ctx); err == nil {
		f.CUDA = ParseCUDAVersion(header)
	}
	return f, nil
}

// ParseQuery reads the CSV of QueryArgs: one line per GPU.
func ParseQuery(b []byte) (devices []Device, driver string, err error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, "", fmt.Errorf("read nvidia-smi's output: %w", err)
	}
	for i, row := range rows {
		if len(row) != 7 {
			return nil, "", fmt.Errorf("nvidia-smi line %d has %d fields, want 7: %q", i+1, len(row), strings.Join(row, ", "))
		}
		num := func(k int) (int, error) {
			s := strings.TrimSpace(row[k])
			if s == "[N/A]" || s == "N/A" || s == "[Not Supported]" {
				return 0, nil
			}
			return strconv.Atoi(s)
		}
		var d Device
		var errs [4]error
		d.Index, errs[0] = num(0)
		d.MemoryTotalMiB, errs[1] = num(3)
		d.MemoryUsedMiB, errs[2] = num(4)
		d.UtilizationPercent, errs[3] = num(5)
		if e := errors.Join(errs[:]...); e != nil {
			return nil, "", fmt.Errorf("nvidia-smi line %d: %w", i+1, e)
		}
		d.Name, d.UUID = strings.TrimSpace(row[1]), strings.TrimSpace(row[2])
		driver = strings.TrimSpace(row[6])
		devices = append(devices, d)
	}
	return devices, driver, nil
}

var cudaRE = regexp.MustCompile(`CUDA Version:\s*([0-9.]+)`)

// ParseCUDAVersion finds "CUDA Version: 12.4" in nvidia-smi's header.
func ParseCUDAVersion(b []byte) string {
	if m := cudaRE.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// Select picks the GPUs a run asked for, as Docker's --gpus reads them:
// "all", a count such as "2", or indexes as "device=0,1" (or just "0,1"). It fails when the machine has none, when an index
// does not exist, when fewer GPUs exist than the count asks, or when a
// picked GPU has less than minFreeMiB free. With a count it takes the GPUs
// with the most free memory.
func Select(f *Facts, request string, minFreeMiB int) ([]Device, error) {
	request = strings.TrimSpace(request)
	indexes, isIndexes := strings.CutPrefix(request, "device=")
	if len(f.Devices) == 0 {
		return nil, fmt.Errorf("GPUs were requested (%q) but nvidia-smi lists none", request)
	}
	var picked []Device
	switch {
	case request == "all":
		picked = f.Devices
	case !isIndexes && !strings.Contains(request, ","):
		n, err := strconv.Atoi(request)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("GPU request %q: want all, a count such as 2, or indexes such as device=0 or device=0,1", request)
		}
		if n > len(f.Devices) {
			return nil, fmt.Errorf("%d GPUs were requested and this machine has %d (%s)", n, len(f.Devices), list(f.Devices))
		}
		byFree := append([]Device(nil), f.Devices...)
		for i := 1; i < len(byFree); i++ {
			for j := i; j > 0 && byFree[j].FreeMiB() > byFree[j-1].FreeMiB(); j-- {
				byFree[j], byFree[j-1] = byFree[j-1], byFree[j]
			}
		}
		picked = byFree[:n]
	default:
		for _, s := range strings.Split(indexes, ",") {
			idx, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("GPU request %q: %q is not an index", request, s)
			}
			found := false
			for _, d := range f.Devices {
				if d.Index == idx {
					picked, found = append(picked, d), true
				}
			}
			if !found {
				return nil, fmt.Errorf("GPU %d was requested; this machine has %s", idx, list(f.Devices))
			}
		}
	}
	for _, d := range picked {
		if d.FreeMiB() < minFreeMiB {
			return nil, fmt.Errorf("GPU %d (%s) has %d MiB free, under the %d MiB asked for: %d MiB are in use by other processes",
				d.Index, d.Name, d.FreeMiB(), minFreeMiB, d.MemoryUsedMiB)
		}
	}
	return picked, nil
}

// Visible is the value of CUDA_VISIBLE_DEVICES for the picked GPUs.
func Visible(devices []Device) string {
	var s []string
	for _, d := range devices {
		s = append(s, strconv.Itoa(d.Index))
	}
	return strings.Join(s, ",")
}

func list(ds []Device) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%d (%s)", d.Index, d.Name))
	}
	return "GPUs " + strings.Join(s, ", ")
}

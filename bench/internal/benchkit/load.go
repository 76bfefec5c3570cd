package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// WrkResult is what one wrk run measured: requests per second and the
// median and 99th percentile latency in milliseconds.
type WrkResult struct{ RPS, P50, P99 float64 }

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latRE = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)`)
)

// Wrk POSTs body as JSON to url under wrk (args such as -t2 -c16 -d10s;
// cmd prefixes the command, such as taskset -c 0), and fails when the
// server answered anything but 2xx.
func Wrk(url, body string, cmd []string, args ...string) (WrkResult, error) {
	script, err := os.CreateTemp("", "wrk-*.lua")
	if err != nil {
		return WrkResult{}, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, "wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body)
	script.Close()
	argv := append(append(append(cmd, "wrk"), args...), "--latency", "-s", script.Name(), url)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	var r WrkResult
	if m := rpsRE.FindSubmatch(out); m != nil {
		fmt.Sscan(string(m[1]), &r.RPS)
	}
	for _, m := range latRE.FindAllSubmatch(out, -1) {
		var v float64
		fmt.Sscan(string(m[2]), &v)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			r.P50 = v
		} else {
			r.P99 = v
		}
	}
	if strings.Contains(string(out), "Non-2xx") || r.RPS == 0 {
		return r, fmt.Errorf("%s answered errors or nothing under load:\n%s", url, out)
	}
	return r, nil
}

// ProcStatus reads a size field of /proc/PID/status (VmRSS, VmHWM), in
// bytes.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

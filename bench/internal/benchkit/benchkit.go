package benchkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/version"
)

// Build compiles the package pkg (such as ./cmd/ferry) of the module in
// the working directory into out, statically (CGO_ENABLED=0), so that the
// binary can also go into an image, with ferry's build tags.
func Build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-tags", version.BuildTags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Median returns the median of ds (the upper one of an even count), 0 for
// none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// WriteCSV writes a data set's numeric columns and its label (last, as y)
// as a plain CSV, for the Python references.
func WriteCSV(path string, d *data.Dataset) error {
	var b strings.Builder
	for _, c := range d.Columns {
		b.WriteString(c.Name + ",")
	}
	b.WriteString("y\n")
	for i := 0; i < d.Rows; i++ {
		for _, c := range d.Columns {
			fmt.Fprintf(&b, "%g,", c.Values[i])
		}
		fmt.Fprintf(&b, "%g\n", d.Label[i])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// FreePort returns a loopback address no one listens on now.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartServer starts cmd (a server of the Open Inference Protocol listening
// on addr) and waits until it answers GET /v2/health/ready, for at most
// wait. stop kills it.
func StartServer(cmd *exec.Cmd, addr string, wait time.Duration) (stop func(), err error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("%s did not get ready on %s within %s", cmd.Path, addr, wait)
}

// Split cuts d into its training and test rows, isTest saying which.
func Split(d *data.Dataset, isTest func(int) bool) [2]*data.Dataset {
	var tr, te []int
	for i := 0; i < d.Rows; i++ {
		if isTest(i) {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	return [2]*data.Dataset{d.Subset(tr), d.Subset(te)}
}

// BinarySets reads online shoppers and HIGGS from the shared data sets in
// dir, with their splits (../shared/datasets/README.md): train and test
// rows by name.
func BinarySets(dir string) (map[string][2]*data.Dataset, error) {
	shop, err := data.Read(context.Background(), dir+"/online-shoppers-intention/online_shoppers_intention.csv", data.Options{Label: "Revenue"})
	if err != nil {
		return nil, err
	}
	higgsTrain, err := data.Read(context.Background(), dir+"/lightgbm-binary/binary.train", data.Options{Format: data.TSV, Label: "0"})
	if err != nil {
		return nil, err
	}
	higgsTest, err := data.Read(context.Background(), dir+"/lightgbm-binary/binary.test", data.Options{Format: data.TSV, Label: "0", Schema: higgsTrain.Schema()})
	if err != nil {
		return nil, err
	}
	return map[string][2]*data.Dataset{
		"shoppers": Split(shop, func(i int) bool { return i%5 == 0 }),
		"higgs":    {higgsTrain, higgsTest},
	}, nil
}

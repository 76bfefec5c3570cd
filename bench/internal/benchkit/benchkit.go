// Package benchkit holds what ferry's benchmark commands share: building
// ferry's binaries and taking the median of repeated timings.
package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

// Build compiles the package pkg (such as ./cmd/ferry) of the module in
// the working directory into out, statically (CGO_ENABLED=0), so that the
// binary can also go into an image.
func Build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
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

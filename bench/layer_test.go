package bench

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/oci"
)

// weights writes size bytes of random data: model weights do not compress.
func weights(b *testing.B, size int64) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "weights.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

const layerSize = 64 << 20

// BenchmarkLayer builds a reproducible gzip layer of a 64 MiB file and reads
// its digest, as a push does.
func BenchmarkLayer(b *testing.B) {
	src := weights(b, layerSize)
	b.SetBytes(layerSize)
	b.ResetTimer()
	for b.Loop() {
		l, err := oci.Layer([]oci.File{{Path: "/model/weights.bin", Mode: 0o644, Source: src}}, time.Unix(0, 0))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGNUTarGzip is the reference: the usual reproducible tarball recipe,
// GNU tar with sorted names, a fixed mtime and numeric owners, piped to gzip -n
// at level 1 (go-containerregistry's default, gzip.BestSpeed)
// and to sha256sum.
func BenchmarkGNUTarGzip(b *testing.B) {
	src := weights(b, layerSize)
	for _, tool := range []string{"tar", "gzip", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed", tool)
		}
	}
	b.SetBytes(layerSize)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command("bash", "-c",
			`tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - weights.bin | gzip -n -1 | sha256sum >/dev/null`,
			"bench", filepath.Dir(src))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

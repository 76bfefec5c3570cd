package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/version"
	"github.com/ferry-ml/ferry/test/testenv"
)

// A platform ferry has no binary for is served by the release's
// ferry-serve, downloaded once, checked against checksums.txt, and cached;
// a download that does not match is refused and not kept.
func TestServeBinaryFromTheRelease(t *testing.T) {
	arch := "arm64" // a platform other than the host's, so that ferry itself is no candidate
	if runtime.GOARCH == "arm64" {
		arch = "amd64"
	}
	bin := testenv.StaticBinary(t, arch)
	file := "ferry-serve_linux_" + arch
	sum := sha256.Sum256(bin)
	checksums := hex.EncodeToString(sum[:]) + "  " + file + "\n"
	served := bin
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets++
		switch r.URL.Path {
		case "/v" + version.Version + "/checksums.txt":
			io.WriteString(w, checksums)
		case "/v" + version.Version + "/" + file:
			w.Write(served)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	vars := map[string]string{"FERRY_DOWNLOAD_URL": srv.URL, "XDG_CACHE_HOME": cache}
	env := Env{Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}

	// A tampered download: refused, nothing cached.
	served = append(append([]byte{}, bin...), 0)
	if _, err := serveBinary(context.Background(), env, "linux", arch); err == nil || !strings.Contains(err.Error(), "but checksums.txt says") {
		t.Fatalf("tampered download: %v, want a checksum refusal", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(cache, "ferry", "v"+version.Version)); len(entries) != 0 {
		t.Fatalf("a refused download left %d files in the cache", len(entries))
	}

	served = bin
	got, err := serveBinary(context.Background(), env, "linux", arch)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); string(b) != string(bin) || !strings.HasPrefix(got, cache) {
		t.Fatalf("got %s, not the released binary in the cache", got)
	}
	// Cached: the release is not asked again.
	gets = 0
	if again, err := serveBinary(context.Background(), env, "linux", arch); err != nil || again != got || gets != 0 {
		t.Fatalf("second lookup: %s, %v, %d downloads; want the cached %s and none", again, err, gets, got)
	}

	// A release without the platform says what it tried.
	if _, err := serveBinary(context.Background(), env, "linux", "s390x"); err == nil || !strings.Contains(err.Error(), "lists no ferry-serve_linux_s390x") || !strings.Contains(err.Error(), "FERRY_SERVE_LINUX_S390X") {
		t.Fatalf("missing platform: %v", err)
	}
}

// A binary given by FERRY_SERVE_<OS>_<ARCH> is used as given, and refused
// when it is dynamically linked (model images have no libc).
func TestServeBinaryFromTheEnvironment(t *testing.T) {
	static := filepath.Join(t.TempDir(), "ferry-serve")
	if err := os.WriteFile(static, testenv.StaticBinary(t, "amd64"), 0o755); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FERRY_SERVE_LINUX_AMD64": static, "FERRY_DOWNLOAD_URL": "http://127.0.0.1:1"}
	env := Env{Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
	if got, err := serveBinary(context.Background(), env, "linux", "amd64"); err != nil || got != static {
		t.Fatalf("got %s, %v; want %s", got, err, static)
	}
	vars["FERRY_SERVE_LINUX_AMD64"] = "/bin/ls" // dynamically linked on Debian and most distributions
	if _, err := serveBinary(context.Background(), env, "linux", "amd64"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("dynamic binary: %v", err)
	}
}

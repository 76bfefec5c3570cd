package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/internal/version"
)

// releaseURL is where the release workflow publishes ferry's binaries and
// their checksums.txt, one directory per tag; FERRY_DOWNLOAD_URL replaces
// it (a mirror, or a test's server), as it does for actions/setup.
const releaseURL = "https://github.com/ferry-ml/ferry/releases/download"

// Env is what the serve binary lookup reads of its environment.
type Env struct {
	Getenv func(string) string
	Stderr io.Writer // says when a released binary is used
}

// serveBinaries finds a static ferry-serve for each platform an image is
// built for. For each, the first of:
//  1. FERRY_SERVE_<OS>_<ARCH>, which must be static;
//  2. serve/OS-ARCH beside ferry (the action image's layout);
//  3. for the platform ferry runs on: ferry-serve beside ferry (make build,
//     or go install of both commands), else ferry itself (it serves when
//     called ferry-serve), whichever is static;
//  4. the ferry-serve this version of ferry was released with, downloaded
//     once into the user's cache and checked against the release's
//     checksums.txt: so a ferry built with cgo, or running on a Mac, still
//     packages Linux images.
//
// A platform none of these gives is an error that says what was tried.
func serveBinaries(ctx context.Context, env Env, platforms []v1.Platform) (map[string]string, error) {
	bins := map[string]string{}
	for _, p := range platforms {
		bin, err := serveBinary(ctx, env, p.OS, p.Architecture)
		if err != nil {
			return nil, err
		}
		bins[p.OS+"/"+p.Architecture] = bin
	}
	return bins, nil
}

func serveBinary(ctx context.Context, env Env, goos, arch string) (string, error) {
	key := "FERRY_SERVE_" + strings.ToUpper(goos) + "_" + strings.ToUpper(arch)
	if b := env.Getenv(key); b != "" {
		if err := oci.CheckStatic(b); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return b, nil
	}
	var tried []string
	if self, err := os.Executable(); err == nil {
		candidates := []string{filepath.Join(filepath.Dir(self), "serve", goos+"-"+arch)}
		if goos == runtime.GOOS && arch == runtime.GOARCH {
			// cmd/ferry-serve links only the server: images a third of the size.
			candidates = append(candidates, filepath.Join(filepath.Dir(self), "ferry-serve"), self)
		}
		for _, c := range candidates {
			if !isFile(c) {
				continue
			}
			if err := oci.CheckStatic(c); err != nil {
				tried = append(tried, err.Error())
				continue
			}
			return c, nil
		}
	}
	b, err := releasedServe(ctx, env, goos, arch)
	if err != nil {
		tried = append(tried, err.Error())
		return "", fmt.Errorf("no static ferry-serve for %s/%s: %s; build one with `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build ./cmd/ferry-serve` and give it as %s",
			goos, arch, strings.Join(tried, "; "), goos, arch, key)
	}
	return b, nil
}

// releasedServe returns the released ferry-serve of this version for the
// platform from the user's cache, downloading it first if needed. The
// download is checked against the release's checksums.txt before it is
// kept; nothing unverified is ever cached or packaged.
func releasedServe(ctx context.Context, env Env, goos, arch string) (string, error) {
	file := fmt.Sprintf("ferry-serve_%s_%s", goos, arch)
	cache := env.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home := env.Getenv("HOME")
		if home == "" {
			return "", errors.New("no cache directory for a downloaded ferry-serve (HOME and XDG_CACHE_HOME are unset)")
		}
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "ferry", "v"+version.Version)
	path := filepath.Join(dir, file)
	if isFile(path) {
		return path, oci.CheckStatic(path)
	}
	base := strings.TrimSuffix(env.Getenv("FERRY_DOWNLOAD_URL"), "/")
	if base == "" {
		base = releaseURL
	}
	base += "/v" + version.Version
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sums, err := download(ctx, base+"/checksums.txt", 1<<20)
	if err != nil {
		return "", fmt.Errorf("the release v%s of ferry-serve: %w", version.Version, err)
	}
	want := ""
	for _, line := range strings.Split(string(sums), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.TrimPrefix(f[1], "*") == file {
			want = f[0]
		}
	}
	if want == "" {
		return "", fmt.Errorf("%s/checksums.txt lists no %s", base, file)
	}
	bin, err := download(ctx, base+"/"+file, 256<<20)
	if err != nil {
		return "", fmt.Errorf("the release v%s of ferry-serve: %w", version.Version, err)
	}
	sum := sha256.Sum256(bin)
	if got := hex.EncodeToString(sum[:]); got != want {
		return "", fmt.Errorf("%s/%s has sha256 %s, but checksums.txt says %s: not used", base, file, got, want)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, file+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(bin); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := oci.CheckStatic(tmp.Name()); err != nil {
		return "", fmt.Errorf("%s/%s: %w", base, file, err)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	fmt.Fprintf(env.Stderr, "ferry: using the released ferry-serve v%s for %s/%s (%s, sha256 %s)\n", version.Version, goos, arch, path, want)
	return path, nil
}

// download GETs url, refusing an answer other than 200 or over limit bytes.
func download(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("download %s: over %d bytes", url, limit)
	}
	return b, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

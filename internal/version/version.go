package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version without a leading "v". Release builds may
// override it with -ldflags "-X github.com/ferry-ml/ferry/internal/version.Version=...";
// the action.yml files pin the image of the version written here.
var Version = "0.1.0"

// Commit is the git commit the binary was built from, set with -ldflags
// "-X github.com/ferry-ml/ferry/internal/version.Commit=SHA" by `make build`
// and the image build. When empty, the Go toolchain's VCS stamp is used.
var Commit = ""

// BuildTags are the build tags ferry's binaries are built with (`make
// build`, the image, the release, the benchmarks). disable_grpc_modules is
// cloud.google.com/go/storage's documented opt-out of gRPC DirectPath:
// ferry reads gs:// over the JSON API, and without the tag the storage
// package links gRPC's xDS client and Envoy's protobufs, 20 MB of binary
// and a fifth of the process's start-up, paid by every command.
const BuildTags = "disable_grpc_modules"

// ImageRepository is where the action image is published.
const ImageRepository = "ghcr.io/ferry-ml/ferry"

// ImageDigest, when set, pins the action image by digest. The release
// workflow sets it (hack/actiongen -image-digest) to generate the action.yml
// files of the release commit, so that a tag of the actions always runs the
// image it was released with, whatever happens to the image's tag later.
var ImageDigest = ""

// ImageRef is the action image of this version: "REPOSITORY:vVERSION", with
// "@DIGEST" when ImageDigest is set.
func ImageRef() string {
	ref := ImageRepository + ":v" + Version
	if ImageDigest != "" {
		ref += "@" + ImageDigest
	}
	return ref
}

// ActionImage is the image reference every action.yml runs, in the form
// `runs.image` takes: "docker://" and ImageRef.
func ActionImage() string {
	return "docker://" + ImageRef()
}

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

// Get reads the build information embedded by the Go toolchain. Commit is
// empty when the binary was built outside a git checkout.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// String is the one-line form `ferry version` prints.
func (i Info) String() string {
	commit := i.Commit
	if commit == "" {
		commit = "unknown"
	} else if len(commit) > 12 {
		commit = commit[:12]
	}
	if i.Modified {
		commit += "-dirty"
	}
	return fmt.Sprintf("ferry %s (commit %s, %s, %s)", i.Version, commit, i.GoVersion, i.Platform)
}

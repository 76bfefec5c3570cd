package main

import (
	"os/exec"
	"strings"
	"testing"
)

// ferry-serve goes into every model image, so it links only the server and
// the model formats: not the clouds' SDKs that ferry reads data from object
// storage with (package objstore, 67 MB of the binary when it crept in
// through package data), nor the Kubernetes client, the registry client
// or the GitHub client.
func TestLinksOnlyTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/ferry-ml/ferry/internal/objstore", "gocloud.dev/", "github.com/aws/", "cloud.google.com/",
			"github.com/Azure/", "k8s.io/client-go/", "github.com/google/go-containerregistry/", "github.com/google/go-github/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("ferry-serve links %s", pkg)
			}
		}
	}
}

package deploy_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// --target local runs only a program from the image's own layers: an image
// whose entrypoint is not in it (/bin/sh -c id) is refused, never run with
// this machine's shell.
func TestLocalRunsOnlyTheImagesOwnProgram(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "model/model.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("{}"))
	tw.Close()
	raw := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, layer)
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/sh", "-c", "id"}})
	if err != nil {
		t.Fatal(err)
	}
	l := &deploy.Local{Dir: t.TempDir(), Name: "m", Log: func(string, ...any) {}}
	_, err = l.Deploy(context.Background(), img)
	if err == nil || !strings.Contains(err.Error(), `the image's entrypoint "/bin/sh" is not a program in the image's own layers`) {
		t.Errorf("err %v", err)
	}
}

package oci_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ferry-ml/ferry/internal/oci"
)

// imageOf builds a one-layer image from tar entries (a link when linkname
// is set, else a file holding its own name).
func imageOf(t *testing.T, entries ...[2]string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if e[1] != "" {
			tw.WriteHeader(&tar.Header{Name: e[0], Typeflag: tar.TypeSymlink, Linkname: e[1], Mode: 0o777})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: e[0], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e[0]))})
		tw.Write([]byte(e[0]))
	}
	tw.Close()
	raw := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// An unsafe entry fails the whole unpack, naming it, and leaves nothing:
// no half-extracted directory.
func TestUnpackFailsClosed(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries [][2]string
		want    string
	}{
		{"dot-dot", [][2]string{{"model/ok.json", ""}, {"../evil", ""}}, `"../evil"`},
		{"absolute", [][2]string{{"model/ok.json", ""}, {"/etc/evil", ""}}, `"/etc/evil"`},
		{"escaping link", [][2]string{{"model/ok.json", ""}, {"model/link", "../../../outside"}}, `model/link`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rootfs")
			err := oci.Unpack(imageOf(t, c.entries...), dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one naming %s", err, c.want)
			}
			if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
				t.Errorf("%s exists after a failed unpack", dir)
			}
			left, _ := os.ReadDir(filepath.Dir(dir))
			if len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := oci.Unpack(imageOf(t, [2]string{"ferry-serve", ""}, [2]string{"model/model.json", ""}, [2]string{"bin/sh", "/bin/busybox"}), dir); err != nil {
		t.Fatalf("a safe image: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "model", "model.json")); err != nil || string(b) != "model/model.json" {
		t.Errorf("model.json: %q %v", b, err)
	}
}

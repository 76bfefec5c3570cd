package oci_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/oci"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type entry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Uname    string
	ModTime  time.Time
	Size     int64
	Content  string
}

func entries(t *testing.T, files []oci.File, mtime time.Time) []entry {
	t.Helper()
	layer, err := oci.Layer(files, mtime)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.ModTime.UTC(), h.Size, string(b)})
	}
	return out
}

func TestLayerEntries(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Unix(1700000000, 0).UTC()
	files := []oci.File{
		{Path: "/model/weights.bin", Mode: 0o644, Source: write(t, dir, "w", "WEIGHTS")},
		{Path: "/ferry-serve", Mode: 0o755, Source: write(t, dir, "s", "ELF")},
		{Path: "/model/model.json", Mode: 0o644, Source: write(t, dir, "m", "{}")},
		{Path: "/tmp", Mode: 0o777 | os.ModeSticky, Dir: true},
	}
	want := []entry{
		{"ferry-serve", tar.TypeReg, 0o755, 0, 0, "", mtime, 3, "ELF"},
		{"model/", tar.TypeDir, 0o755, 0, 0, "", mtime, 0, ""},
		{"model/model.json", tar.TypeReg, 0o644, 0, 0, "", mtime, 2, "{}"},
		{"model/weights.bin", tar.TypeReg, 0o644, 0, 0, "", mtime, 7, "WEIGHTS"},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, "", mtime, 0, ""},
	}
	if diff := cmp.Diff(want, entries(t, files, mtime)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// The digest depends on paths, modes, contents and the timestamp only: not on
// the order files are listed in, nor on their times and owners on disk.
func TestLayerIsReproducible(t *testing.T) {
	dir := t.TempDir()
	a, b := write(t, dir, "a", "alpha"), write(t, dir, "b", "beta")
	mtime := time.Unix(0, 0)
	digest := func(files []oci.File, mt time.Time) string {
		l, err := oci.Layer(files, mt)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	first := digest([]oci.File{{Path: "/a", Mode: 0o644, Source: a}, {Path: "/x/b", Mode: 0o644, Source: b}}, mtime)
	if err := os.Chtimes(a, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := digest([]oci.File{{Path: "/x/b", Mode: 0o644, Source: b}, {Path: "a", Mode: 0o644, Source: a}}, mtime); got != first {
		t.Errorf("same files in another order, or touched: digest %s, want %s", got, first)
	}
	if got := digest([]oci.File{{Path: "/a", Mode: 0o755, Source: a}, {Path: "/x/b", Mode: 0o644, Source: b}}, mtime); got == first {
		t.Error("a different mode gave the same digest")
	}
	if got := digest([]oci.File{{Path: "/a", Mode: 0o644, Source: a}, {Path: "/x/b", Mode: 0o644, Source: b}}, mtime.Add(time.Second)); got == first {
		t.Error("a different timestamp gave the same digest")
	}
}

func TestLayerErrors(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "f", "x")
	for name, files := range map[string][]oci.File{
		"root":       {{Path: "/", Mode: 0o644, Source: f}},
		"escape":     {{Path: "/../etc/passwd", Mode: 0o644, Source: f}},
		"twice":      {{Path: "/a", Source: f}, {Path: "a", Source: f}},
		"missing":    {{Path: "/a", Source: filepath.Join(dir, "nope")}},
		"directory":  {{Path: "/a", Source: dir}},
		"dir source": {{Path: "/d", Dir: true, Source: f}},
	} {
		if _, err := oci.Layer(files, time.Unix(0, 0)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

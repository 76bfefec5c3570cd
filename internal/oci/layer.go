package oci

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one entry of a layer: a regular file read from Source on disk, or a
// directory when Dir is set.
type File struct {
	Path   string      // in the image, such as /ferry or /model/model.json
	Mode   fs.FileMode // permission bits only, such as 0o755
	Source string      // file on disk; empty for a directory
	Dir    bool
}

// Layer returns a layer holding files, built so that its digest depends only
// on the files' paths, modes and contents and on mtime:
//   - entries in path order, parent directories added (mode 0755) when not listed;
//   - owner and group 0 with no names, the modification time set to mtime
//     (PAX format, so no access or change times are written);
//   - files read when the layer is opened, so large ones are never held in memory.
//
// The layer is gzip-compressed, with the OCI media type (ferry's manifests
// are OCI; go-containerregistry's default is Docker's). Options such as tarball.WithCompressedCaching
// (keep the compressed bytes once made, so that the digest and the upload
// share one compression) pass through.
func Layer(files []File, mtime time.Time, opts ...tarball.LayerOption) (v1.Layer, error) {
	entries, err := normalize(files)
	if err != nil {
		return nil, err
	}
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, entries, mtime)) }()
		return pr, nil
	}
	layer, err := tarball.LayerFromOpener(opener, append([]tarball.LayerOption{tarball.WithMediaType(types.OCILayer)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	return plainLayer{layer}, nil
}

// plainLayer hides the tarball layer's Descriptor method, whose empty (not
// nil) annotations make a manifest's struct differ from its own bytes, which
// validate.Image rejects; the manifest's bytes and digest are the same.
type plainLayer struct{ v1.Layer }

func normalize(files []File) ([]File, error) {
	byPath := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" || strings.Contains(f.Path, "..") {
			return nil, fmt.Errorf("layer entry %q: want an absolute path inside the image", f.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("layer entry %q: listed twice", p)
		}
		if f.Dir && f.Source != "" {
			return nil, fmt.Errorf("layer entry %s: a directory has no source", p)
		}
		if !f.Dir {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, fmt.Errorf("layer entry %s: %w", p, err)
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("layer entry %s: %s is not a regular file", p, f.Source)
			}
		}
		f.Path = p
		byPath[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = File{Path: d, Mode: 0o755, Dir: true}
			}
		}
	}
	out := make([]File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func writeTar(w io.Writer, entries []File, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, f := range entries {
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(f.Path, "/"),
			Mode:    int64(f.Mode.Perm()),
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.Mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000 // tar's sticky bit, for /tmp
		}
		if f.Dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		if err := writeFile(tw, hdr, f.Source); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeFile(tw *tar.Writer, hdr *tar.Header, source string) error {
	src, err := os.Open(source)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, src); err != nil {
		return fmt.Errorf("add %s: %w", source, err)
	}
	return nil
}

package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// UncompressedLayer returns a layer of files stored as a plain tar
// (application/vnd.oci.image.layer.v1.tar): for weights that do not compress,
// where gzip only costs time at both ends. Like Layer, it is reproducible and
// streams its files; its digest is computed by one pass over them.
func UncompressedLayer(files []File, mtime time.Time) (v1.Layer, error) {
	entries, err := normalize(files)
	if err != nil {
		return nil, err
	}
	return &rawLayer{entries: entries, mtime: mtime}, nil
}

type rawLayer struct {
	entries []File
	mtime   time.Time
	once    sync.Once
	digest  v1.Hash
	size    int64
	err     error
}

func (l *rawLayer) open() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, l.entries, l.mtime)) }()
	return pr
}

// measure hashes and counts the tar once.
func (l *rawLayer) measure() error {
	l.once.Do(func() {
		rc := l.open()
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, rc)
		if err != nil {
			l.err = fmt.Errorf("hash layer: %w", err)
			return
		}
		l.size = n
		l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	})
	return l.err
}

func (l *rawLayer) Digest() (v1.Hash, error)             { return l.digest, l.measure() }
func (l *rawLayer) DiffID() (v1.Hash, error)             { return l.digest, l.measure() }
func (l *rawLayer) Size() (int64, error)                 { return l.size, l.measure() }
func (l *rawLayer) Compressed() (io.ReadCloser, error)   { return l.open(), nil }
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) { return l.open(), nil }
func (l *rawLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

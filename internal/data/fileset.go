package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// setFile is one file of a data set.
type setFile struct {
	name   string // as errors name it: the path, or the object's URL
	local  string // where its bytes are on this machine
	rel    string // its path below the set's root, with /: Hive partitions are read from it
	source Source // its pin, less the sha256
}

// localFiles makes the set's files of local paths below root.
func localFiles(root string, paths []string) []setFile {
	files := make([]setFile, len(paths))
	for i, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			rel = p
		}
		files[i] = setFile{name: p, local: p, rel: filepath.ToSlash(rel), source: Source{URL: p}}
	}
	return files
}

// parquetFiles expands a data path into the Parquet files it names, in
// name order: a file is itself; a directory, every .parquet and .pq file
// under it; a glob (*, ?, [...], and ** across directories), the files it
// matches.
func parquetFiles(path string) ([]setFile, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return localFiles(filepath.Dir(path), []string{path}), nil
	} else if err == nil {
		var files []string
		err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if f, _ := FormatOf(p); !e.IsDir() && f == Parquet {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read data: %w", err)
		}
		if len(files) == 0 {
			return nil, &Error{Path: path, Msg: "the directory has no .parquet or .pq file"}
		}
		return localFiles(path, files), nil
	}
	if !strings.ContainsAny(path, "*?[") {
		return nil, fmt.Errorf("read data: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	if !doublestar.ValidatePattern(filepath.ToSlash(path)) {
		return nil, &Error{Path: path, Msg: "not a valid glob: want * and ? within a name, ** across directories, [...] classes"}
	}
	files, err := doublestar.FilepathGlob(path, doublestar.WithFilesOnly())
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	if len(files) == 0 {
		return nil, &Error{Path: path, Msg: "no file matches the glob"}
	}
	slices.Sort(files)
	base, _ := doublestar.SplitPattern(filepath.ToSlash(path))
	return localFiles(filepath.FromSlash(base), files), nil
}

// partitionsOf reads the Hive partition keys and values (key=value
// directories, unescaped) of each file of the set. Every file must have
// the same keys, in the same order.
func partitionsOf(path string, files []setFile) ([]map[string]string, []string, error) {
	var keys []string
	parts := make([]map[string]string, len(files))
	for i, f := range files {
		var fk []string
		parts[i] = map[string]string{}
		for _, seg := range strings.Split(pathpkg.Dir(f.rel), "/") {
			k, v, ok := strings.Cut(seg, "=")
			if !ok || k == "" {
				continue
			}
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
			fk, parts[i][k] = append(fk, k), v
		}
		if i == 0 {
			keys = fk
		} else if !slices.Equal(fk, keys) {
			return nil, nil, &Error{Path: f.name, Msg: fmt.Sprintf("partition keys %v, and %s has %v: every file of %s needs the same", fk, files[0].name, keys, path)}
		}
	}
	if len(keys) == 0 {
		return nil, nil, &Error{Path: path, Msg: "no Hive partition (key=value directory) above the files: leave out partitions"}
	}
	return parts, keys, nil
}

// setSHA256 hashes the set's files and returns their sources, sha256 and
// size filled in, and the set's sha256: one file's, or for several the
// sha256 of their "SUM  NAME" lines (names below the set's root), as
// `sha256sum` prints them, in order. It only reads files, so it may run
// beside the decoding.
func setSHA256(files []setFile) (string, []Source, error) {
	sources := make([]Source, len(files))
	for i, f := range files {
		sum, err := HashFile(f.local)
		if err != nil {
			return "", nil, err
		}
		sources[i] = f.source
		sources[i].SHA256 = sum
		if st, err := os.Stat(f.local); err == nil {
			sources[i].Size = st.Size()
		}
	}
	if len(files) == 1 {
		return sources[0].SHA256, sources, nil
	}
	h := sha256.New()
	for i, f := range files {
		fmt.Fprintf(h, "%s  %s\n", sources[i].SHA256, f.rel)
	}
	return hex.EncodeToString(h.Sum(nil)), sources, nil
}

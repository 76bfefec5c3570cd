package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// parquetFiles expands a data path into the Parquet files it names, in
// name order, and the directory their names are relative to: a file is
// itself; a directory, every .parquet and .pq file under it; a glob
// (*, ?, [...], and ** across directories), the files it matches.
func parquetFiles(path string) ([]string, string, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return []string{path}, filepath.Dir(path), nil
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
			return nil, "", fmt.Errorf("read data: %w", err)
		}
		if len(files) == 0 {
			return nil, "", &Error{Path: path, Msg: "the directory has no .parquet or .pq file"}
		}
		return files, path, nil
	}
	if !strings.ContainsAny(path, "*?[") {
		return nil, "", fmt.Errorf("read data: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	if !doublestar.ValidatePattern(filepath.ToSlash(path)) {
		return nil, "", &Error{Path: path, Msg: "not a valid glob: want * and ? within a name, ** across directories, [...] classes"}
	}
	files, err := doublestar.FilepathGlob(path, doublestar.WithFilesOnly())
	if err != nil {
		return nil, "", fmt.Errorf("read data: %w", err)
	}
	if len(files) == 0 {
		return nil, "", &Error{Path: path, Msg: "no file matches the glob"}
	}
	slices.Sort(files)
	base, _ := doublestar.SplitPattern(filepath.ToSlash(path))
	return files, filepath.FromSlash(base), nil
}

// partitionsOf reads the Hive partition keys and values (key=value
// directories, unescaped) of each file below root. Every file must have the
// same keys, in the same order.
func partitionsOf(path, root string, files []string) ([]map[string]string, []string, error) {
	var keys []string
	parts := make([]map[string]string, len(files))
	for i, f := range files {
		rel, err := filepath.Rel(root, filepath.Dir(f))
		if err != nil {
			return nil, nil, fmt.Errorf("read data: %w", err)
		}
		var fk []string
		parts[i] = map[string]string{}
		for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
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
			return nil, nil, &Error{Path: f, Msg: fmt.Sprintf("partition keys %v, and %s has %v: every file of %s needs the same", fk, files[0], keys, path)}
		}
	}
	if len(keys) == 0 {
		return nil, nil, &Error{Path: path, Msg: "no Hive partition (key=value directory) above the files: leave out partitions"}
	}
	return parts, keys, nil
}

// setSHA256 is a data set's sha256: one file's, or for several the
// sha256 of their "SUM  NAME" lines (names relative to root), as
// `sha256sum` prints them, in order.
func setSHA256(root string, files []string) (string, error) {
	if len(files) == 1 {
		return HashFile(files[0])
	}
	h := sha256.New()
	for _, f := range files {
		sum, err := HashFile(f)
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			rel = f
		}
		fmt.Fprintf(h, "%s  %s\n", sum, filepath.ToSlash(rel))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

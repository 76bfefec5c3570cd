package data

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Object is a file of a data set in object storage: its pin, the copy on
// this machine that Read reads, and its path below the set's base (Hive
// partitions are read from it).
type Object struct {
	Source
	Rel, Local string
}

// Fetcher lists and fetches the objects a URL names (an object, a prefix
// ending in /, or a glob over keys) into local files, each pinned, in key
// order.
type Fetcher func(ctx context.Context, url string) ([]Object, error)

var fetchers sync.Map // scheme -> Fetcher

// RegisterFetcher makes Read and ReadPredictions take URLs of scheme
// (such as "s3") through f. Package objstore registers its schemes; a
// program that reads no data from object storage (ferry-serve) does not
// import it, and so links none of the clouds' SDKs.
func RegisterFetcher(scheme string, f Fetcher) { fetchers.Store(scheme, f) }

// urlScheme returns the scheme of a URL ("s3" for s3://b/k); "" for a
// local path.
func urlScheme(path string) string {
	scheme, _, ok := strings.Cut(path, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, `/\.`) {
		return ""
	}
	return scheme
}

// fetch fetches the objects of a URL through its scheme's Fetcher; nil,
// nil for a local path.
func fetch(ctx context.Context, path string) ([]Object, error) {
	scheme := urlScheme(path)
	if scheme == "" {
		return nil, nil
	}
	f, ok := fetchers.Load(scheme)
	if !ok {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("this program reads no %s:// URL: ferry reads s3://, gs:// and az:// ones, and local paths", scheme)}
	}
	objs, err := f.(Fetcher)(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	return objs, nil
}

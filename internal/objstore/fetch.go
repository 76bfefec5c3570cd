package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bmatcuk/doublestar/v4"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-ml/ferry/internal/data"
)

// Options say how to fetch a set of objects.
type Options struct {
	// CacheDir holds the fetched objects; "" means DefaultCacheDir().
	CacheDir string
	// Parallel is the number of ranged reads in flight, all objects
	// together; 0 means 8.
	Parallel int
	// ChunkSize is the bytes of one ranged read; 0 means 16 MiB.
	ChunkSize int64
	// Retries is how many times a range cut short is resumed where it
	// stopped before the read fails; 0 means 3, negative none.
	Retries int
}

func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 16 << 20
	}
	if o.Retries == 0 {
		o.Retries = 3
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	return o
}

// DefaultCacheDir is $FERRY_CACHE_DIR, or ferry/objects under the user's
// cache directory ($XDG_CACHE_HOME, ~/.cache), or under the temporary
// directory when there is none.
func DefaultCacheDir() string {
	if d := os.Getenv("FERRY_CACHE_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "ferry", "objects")
}

// Object is one object of a set, pinned when it was listed, and its copy
// on this machine.
type Object struct {
	data.Source        // its URL (scheme://bucket/key), version, ETag and size; the readers hash the copy
	Rel         string // the key below the set's base ("dt=2026-12-01/part-0.parquet"): Hive partitions are read from it
	Local       string // the cached copy
	Cached      bool   // true when no byte of it was read from the network
	key         string
}

func init() {
	for _, scheme := range Schemes {
		data.RegisterFetcher(scheme, func(ctx context.Context, url string) ([]data.Object, error) {
			objs, err := Fetch(ctx, url, Options{})
			out := make([]data.Object, len(objs))
			for i, o := range objs {
				out[i] = data.Object{Source: o.Source, Rel: o.Rel, Local: o.Local}
			}
			return out, err
		})
	}
}

// Fetch lists the objects raw names (one object, every .parquet/.pq object
// under a prefix ending in /, or a glob over keys), pins each, and makes
// sure each pinned object is in the cache, reading what is missing in
// parallel byte ranges. The objects come in key order.
func Fetch(ctx context.Context, raw string, opts Options) ([]Object, error) {
	loc, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	b, err := openBucket(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", loc.Scheme+"://"+loc.Bucket, err)
	}
	defer b.Close()
	f := &fetcher{b: b, loc: loc, opts: opts.withDefaults()}
	keys, err := f.list(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := f.pin(ctx, keys)
	if err != nil {
		return nil, err
	}
	if err := f.download(ctx, objs); err != nil {
		return nil, err
	}
	return objs, nil
}

type fetcher struct {
	b    *blob.Bucket
	loc  Location
	opts Options
}

// listed is a key and its path below the set's base.
type listed struct{ key, rel string }

// list expands the location into keys, in order.
func (f *fetcher) list(ctx context.Context) ([]listed, error) {
	key := f.loc.Key
	if strings.ContainsAny(key, "*?[") {
		if !doublestar.ValidatePattern(key) {
			return nil, &InputError{URL: f.loc.URL(), Msg: "not a valid glob: want * and ? within a name, ** across \"directories\", [...] classes"}
		}
		base, _ := doublestar.SplitPattern(key)
		prefix := strings.TrimPrefix(base+"/", "./")
		return f.listPrefix(ctx, prefix, func(k string) bool { ok, _ := doublestar.Match(key, k); return ok }, "no object matches the glob")
	}
	if key != "" && !strings.HasSuffix(key, "/") {
		_, err := f.b.Attributes(ctx, key)
		if err == nil {
			return []listed{{key: key, rel: path.Base(key)}}, nil
		}
		if gcerrors.Code(err) != gcerrors.NotFound {
			return nil, describe(f.b, f.loc.URL(), err, "look up")
		}
		key += "/"
	}
	return f.listPrefix(ctx, key, isParquet, "no such object, and no .parquet or .pq object under "+f.loc.object(key))
}

func isParquet(key string) bool {
	ext := strings.ToLower(path.Ext(key))
	return ext == ".parquet" || ext == ".pq"
}

// listPrefix lists the keys under prefix that keep accepts.
func (f *fetcher) listPrefix(ctx context.Context, prefix string, keep func(string) bool, none string) ([]listed, error) {
	var out []listed
	it := f.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, describe(f.b, f.loc.object(prefix), err, "list")
		}
		if !o.IsDir && keep(o.Key) && !strings.HasSuffix(o.Key, "/") {
			out = append(out, listed{key: o.Key, rel: strings.TrimPrefix(o.Key, prefix)})
		}
	}
	if len(out) == 0 {
		return nil, &InputError{URL: f.loc.URL(), Msg: none}
	}
	slices.SortFunc(out, func(a, b listed) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// pin reads each object's size, ETag and version, in parallel, and where
// its pinned copy would be in the cache.
func (f *fetcher) pin(ctx context.Context, keys []listed) ([]Object, error) {
	objs := make([]Object, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.opts.Parallel)
	for i, k := range keys {
		g.Go(func() error {
			url := f.loc.object(k.key)
			a, err := f.b.Attributes(gctx, k.key)
			if err != nil {
				return describe(f.b, url, err, "look up")
			}
			o := Object{Source: data.Source{URL: url, Size: a.Size, ETag: a.ETag}, Rel: k.rel, key: k.key}
			var head s3.HeadObjectOutput
			if a.As(&head) && head.VersionId != nil && *head.VersionId != "null" {
				o.Version = *head.VersionId
			}
			sum := sha256.Sum256([]byte(strings.Join([]string{o.URL, o.Version, o.ETag, fmt.Sprint(o.Size)}, "\x00")))
			name := hex.EncodeToString(sum[:])
			o.Local = filepath.Join(f.opts.CacheDir, name[:2], name)
			if st, err := os.Stat(o.Local); err == nil && st.Size() == o.Size {
				o.Cached = true
			}
			objs[i] = o
			return nil
		})
	}
	return objs, g.Wait()
}

// download reads the objects not in the cache, in ranges of ChunkSize with
// Parallel in flight, each into a temporary file that is renamed into the
// cache once whole and checked.
func (f *fetcher) download(ctx context.Context, objs []Object) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.opts.Parallel)
	var files []*os.File
	defer func() {
		for _, fl := range files {
			fl.Close()
			os.Remove(fl.Name())
		}
	}()
	for i := range objs {
		o := &objs[i]
		if o.Cached {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(o.Local), 0o755); err != nil {
			return fmt.Errorf("object cache: %w", err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(o.Local), filepath.Base(o.Local)+".part-*")
		if err != nil {
			return fmt.Errorf("object cache: %w", err)
		}
		files = append(files, tmp)
		for off := int64(0); off < o.Size; off += f.opts.ChunkSize {
			n := min(f.opts.ChunkSize, o.Size-off)
			g.Go(func() error { return f.readRange(gctx, o, tmp, off, n) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	k := 0
	for i := range objs {
		o := &objs[i]
		if o.Cached {
			continue
		}
		tmp := files[k]
		k++
		if err := f.recheck(ctx, o); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("object cache: %w", err)
		}
		if err := os.Rename(tmp.Name(), o.Local); err != nil {
			return fmt.Errorf("object cache: %w", err)
		}
	}
	files = nil
	return nil
}

// readRange copies n bytes of o from off into w at the same offset,
// resuming where a cut-short read stopped, up to Retries times. The read is
// pinned: to o's version where the bucket keeps versions, else to its ETag
// (If-Match), so a changed object fails instead of mixing two versions.
func (f *fetcher) readRange(ctx context.Context, o *Object, w io.WriterAt, off, n int64) error {
	end := off + n
	var last error
	for try := 0; try <= f.opts.Retries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(try*try) * 100 * time.Millisecond):
			}
		}
		r, err := f.b.NewRangeReader(ctx, o.key, off, end-off, &blob.ReaderOptions{BeforeRead: pinRead(o)})
		if err != nil {
			if c := gcerrors.Code(err); c == gcerrors.PermissionDenied || c == gcerrors.NotFound || c == gcerrors.FailedPrecondition || ctx.Err() != nil {
				return describe(f.b, o.URL, err, "read")
			}
			last = err
			continue
		}
		copied, err := io.Copy(io.NewOffsetWriter(w, off), r)
		r.Close()
		off += copied
		if err == nil && off == end {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("the server sent %d bytes of the range, %d short", copied, end-off)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
	}
	return &Error{URL: o.URL, Msg: fmt.Sprintf("reading bytes %d to %d failed %d times", off, end, f.opts.Retries+1), Err: last}
}

// pinRead sets a read to o's version (S3), or to its ETag (S3 and Azure:
// If-Match). Google Cloud Storage reads are checked by recheck.
func pinRead(o *Object) func(as func(any) bool) error {
	return func(as func(any) bool) error {
		var in *s3.GetObjectInput
		var az *azblob.DownloadStreamOptions
		switch {
		case as(&in) && o.Version != "":
			in.VersionId = &o.Version
		case in != nil && o.ETag != "":
			in.IfMatch = &o.ETag
		case as(&az) && o.ETag != "":
			etag := azcore.ETag(o.ETag)
			az.AccessConditions = &azblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: &etag}}
		}
		return nil
	}
}

// recheck looks o up again after its bytes were read: an object that is
// gone or has another ETag (read without a version) changed under the read,
// whether or not the service honoured the pin.
func (f *fetcher) recheck(ctx context.Context, o *Object) error {
	if o.Version != "" {
		return nil // the version's bytes do not change
	}
	a, err := f.b.Attributes(ctx, o.key)
	if err != nil {
		return describe(f.b, o.URL, err, "read")
	}
	if a.ETag != o.ETag || a.Size != o.Size {
		return &Error{URL: o.URL, Msg: changed, Err: fmt.Errorf("listed with ETag %s and %d bytes, now %s and %d", o.ETag, o.Size, a.ETag, a.Size)}
	}
	return nil
}

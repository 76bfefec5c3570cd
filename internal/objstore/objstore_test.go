package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/ferry-ml/ferry/internal/objstore"
	"github.com/ferry-ml/ferry/test/testenv"
)

// payload is n pseudo-random bytes, different for each seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func fetch(t *testing.T, raw string, opts objstore.Options) ([]objstore.Object, error) {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	return objstore.Fetch(context.Background(), raw, opts)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://lake/clicks/dt=*/part-*.parquet": "s3 lake clicks/dt=*/part-*.parquet",
		"gs://b/k.csv":                         "gs b k.csv",
		"az://container/dir/":                  "az container dir/",
		"s3://bucket":                          "s3 bucket ",
	} {
		loc, err := objstore.Parse(raw)
		if err != nil || fmt.Sprintf("%s %s %s", loc.Scheme, loc.Bucket, loc.Key) != want {
			t.Errorf("Parse(%q) = %+v, %v; want %s", raw, loc, err, want)
		}
	}
	for _, raw := range []string{"s3:///key", "s3://lake*/k", "http://x/y", "./local.csv"} {
		var ie *objstore.InputError
		if _, err := objstore.Parse(raw); !errors.As(err, &ie) || !strings.Contains(err.Error(), raw) {
			t.Errorf("Parse(%q) = %v, want an InputError naming it", raw, err)
		}
	}
}

// Globs, "directories" and single objects against versitygw, read in
// ranges smaller than the objects; a second read comes from the cache and
// a changed object is read again.
func TestFetchFromVersitygw(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.Bucket(t, "lake", false)
	srv.Setenv(t, srv.Root)
	want := map[string][]byte{
		"clicks/dt=2026-12-01/part-0.parquet": payload(1, 10_000),
		"clicks/dt=2026-12-01/part-1.parquet": payload(2, 3_000),
		"clicks/dt=2026-12-02/part-0.parquet": payload(3, 0),
	}
	for k, b := range want {
		srv.Put(t, "lake", k, b)
	}
	srv.Put(t, "lake", "clicks/dt=2026-12-02/_SUCCESS", nil)
	srv.Put(t, "lake", "other/part-0.parquet", payload(4, 10))
	cache := t.TempDir()
	opts := objstore.Options{CacheDir: cache, ChunkSize: 1024, Parallel: 4}
	objs, err := fetch(t, "s3://lake/clicks/dt=*/part-*.parquet", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[0].Rel != "dt=2026-12-01/part-0.parquet" || objs[2].Rel != "dt=2026-12-02/part-0.parquet" {
		t.Fatalf("objects %+v", objs)
	}
	for _, o := range objs {
		key := strings.TrimPrefix(o.URL, "s3://lake/")
		if got := mustRead(t, o.Local); !bytes.Equal(got, want[key]) || o.Size != int64(len(want[key])) || o.ETag == "" || o.Cached {
			t.Errorf("%s: %d bytes, size %d, ETag %q, cached %v; want the %d bytes put", o.URL, len(got), o.Size, o.ETag, o.Cached, len(want[key]))
		}
	}

	again, err := fetch(t, "s3://lake/clicks/", opts)
	if err != nil || len(again) != 3 || !again[0].Cached || again[0].Local != objs[0].Local || again[0].Rel != "dt=2026-12-01/part-0.parquet" {
		t.Fatalf("the directory read again: %+v, %v; want the same three from the cache", again, err)
	}
	srv.Put(t, "lake", "clicks/dt=2026-12-01/part-1.parquet", payload(5, 3_000))
	one, err := fetch(t, "s3://lake/clicks/dt=2026-12-01/part-1.parquet", opts)
	if err != nil || len(one) != 1 || one[0].Cached || one[0].ETag == objs[1].ETag || !bytes.Equal(mustRead(t, one[0].Local), payload(5, 3_000)) {
		t.Fatalf("the changed object: %+v, %v; want it read again", one, err)
	}

	for raw, msg := range map[string]string{
		"s3://lake/clicks/dt=*/part-*.csv": "no object matches the glob",
		"s3://lake/nothing":                "no such object, and no .parquet or .pq object under s3://lake/nothing/",
		"s3://lake/clicks/[":               "not a valid glob",
	} {
		var ie *objstore.InputError
		if _, err := fetch(t, raw, opts); !errors.As(err, &ie) || !strings.Contains(err.Error(), raw) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v; want an InputError naming it: %s", raw, err, msg)
		}
	}
	var oe *objstore.Error
	if _, err := fetch(t, "s3://nosuchbucket/x.parquet", opts); !errors.As(err, &oe) || !strings.Contains(err.Error(), "s3://nosuchbucket") {
		t.Errorf("a missing bucket: %v", err)
	}
}

// Credentials: a user the bucket policy grants one prefix reads it and is
// refused the rest; a wrong secret and a missing grant are refused with
// the object named; an empty variable is a configuration error.
func TestFetchCredentials(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.Bucket(t, "lake", false)
	srv.Put(t, "lake", "clicks/part-0.parquet", payload(1, 100))
	srv.Put(t, "lake", "private/part-0.parquet", payload(2, 100))
	reader := testenv.Key{ID: "reader", Secret: "reader-secret-key"}
	srv.User(t, reader)

	srv.Setenv(t, reader)
	if _, err := fetch(t, "s3://lake/clicks/part-0.parquet", objstore.Options{}); err == nil || !strings.Contains(err.Error(), "access refused") {
		t.Errorf("no policy yet: %v, want access refused", err)
	}
	srv.Policy(t, "lake", testenv.ReadPolicy("lake", reader.ID, "clicks/"))
	if objs, err := fetch(t, "s3://lake/clicks/*.parquet", objstore.Options{}); err != nil || len(objs) != 1 {
		t.Errorf("the granted prefix: %+v, %v", objs, err)
	}
	var oe *objstore.Error
	if _, err := fetch(t, "s3://lake/private/part-0.parquet", objstore.Options{}); !errors.As(err, &oe) || !strings.Contains(err.Error(), "s3://lake/private/part-0.parquet: access refused") {
		t.Errorf("the refused prefix: %v", err)
	}
	srv.Setenv(t, testenv.Key{ID: reader.ID, Secret: "wrong"})
	if _, err := fetch(t, "s3://lake/clicks/part-0.parquet", objstore.Options{}); err == nil || !strings.Contains(err.Error(), "s3://lake/clicks/part-0.parquet: access refused") {
		t.Errorf("a wrong secret: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	var ie *objstore.InputError
	if _, err := fetch(t, "s3://lake/clicks/part-0.parquet", objstore.Options{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY: set but empty") {
		t.Errorf("an empty secret: %v", err)
	}
}

// proxy forwards to the server and lets a test meddle with GETs of
// objects: hook runs before the n-th one (1-based) is forwarded, and cut
// makes a response stop after that many body bytes.
type proxy struct {
	gets   atomic.Int64
	ranges sync.Map // Range header -> true
	hook   func(n int64)
	cut    func(n int64) int64 // 0: whole
	cuts   atomic.Int64
}

func (p *proxy) start(t *testing.T, target string) string {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // each write reaches the client: a cut comes after the headers and some bytes
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || resp.Request.URL.Query().Has("list-type") {
			return nil
		}
		n := p.gets.Load()
		if p.cut != nil {
			if limit := p.cut(n); limit > 0 {
				p.cuts.Add(1)
				resp.Body = &cutBody{r: resp.Body, left: limit}
			}
		}
		return nil
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
			n := p.gets.Add(1)
			p.ranges.Store(r.Header.Get("Range"), true)
			if p.hook != nil {
				p.hook(n)
			}
		}
		rp.ServeHTTP(w, r)
	})
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("cut by the test's proxy")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

// A range cut short mid-read is resumed where it stopped; a server that
// cuts every response fails the read after the retries, naming the object
// and the bytes.
func TestFetchResumesACutRead(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.Bucket(t, "lake", false)
	body := payload(7, 50_000)
	srv.Put(t, "lake", "clicks/part-0.parquet", body)
	p := &proxy{cut: func(n int64) int64 {
		if n == 1 {
			return 5_000
		}
		return 0
	}}
	srv.Setenv(t, srv.Root)
	t.Setenv("AWS_ENDPOINT_URL_S3", p.start(t, srv.URL))
	objs, err := fetch(t, "s3://lake/clicks/part-0.parquet", objstore.Options{ChunkSize: 20_000, Parallel: 1})
	if err != nil || !bytes.Equal(mustRead(t, objs[0].Local), body) || p.cuts.Load() != 1 {
		t.Fatalf("one cut read: %v, %d cuts; want the whole object after a resume", err, p.cuts.Load())
	}
	if _, ok := p.ranges.Load("bytes=5000-19999"); !ok {
		t.Error("the cut range was not resumed at byte 5000")
	}
	p.cut = func(int64) int64 { return 100 }
	cache := t.TempDir()
	_, err = fetch(t, "s3://lake/clicks/part-0.parquet", objstore.Options{CacheDir: cache, ChunkSize: 20_000, Parallel: 1, Retries: 2})
	var oe *objstore.Error
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "s3://lake/clicks/part-0.parquet: reading bytes") || !strings.Contains(err.Error(), "failed 3 times") {
		t.Fatalf("every read cut: %v", err)
	}
	if left, _ := os.ReadDir(cache); len(left) > 1 {
		t.Errorf("a failed read left files in the cache: %v", left)
	}
}

// An object overwritten between two of its ranges: unversioned, the read
// fails naming it (If-Match); in a versioned bucket it reads the version
// that was listed, whole.
func TestFetchObjectChangingMidRead(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.Setenv(t, srv.Root)
	for _, versioned := range []bool{false, true} {
		bucket := map[bool]string{false: "plain", true: "versioned"}[versioned]
		srv.Bucket(t, bucket, versioned)
		first := payload(8, 30_000)
		_, version := srv.Put(t, bucket, "clicks/part-0.parquet", first)
		if versioned == (version == "") {
			t.Fatalf("%s bucket: version %q", bucket, version)
		}
		p := &proxy{hook: func(n int64) {
			if n == 2 {
				srv.Put(t, bucket, "clicks/part-0.parquet", payload(9, 30_000))
			}
		}}
		t.Setenv("AWS_ENDPOINT_URL_S3", p.start(t, srv.URL))
		objs, err := fetch(t, "s3://"+bucket+"/clicks/part-0.parquet", objstore.Options{ChunkSize: 10_000, Parallel: 1})
		if versioned {
			if err != nil || objs[0].Version != version || !bytes.Equal(mustRead(t, objs[0].Local), first) {
				t.Errorf("versioned: %v; want version %s read whole", err, version)
			}
			continue
		}
		want := "s3://plain/clicks/part-0.parquet: changed while ferry read it"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("unversioned: %v; want %q", err, want)
		}
	}

	// Deleted between two ranges: gone unversioned, the listed version
	// still read where the bucket keeps versions.
	for bucket, want := range map[string]string{"plain": "s3://plain/gone.parquet: disappeared while ferry read it", "versioned": ""} {
		srv.Put(t, bucket, "gone.parquet", payload(10, 30_000))
		p := &proxy{hook: func(n int64) {
			if n == 2 {
				srv.Delete(t, bucket, "gone.parquet")
			}
		}}
		t.Setenv("AWS_ENDPOINT_URL_S3", p.start(t, srv.URL))
		objs, err := fetch(t, "s3://"+bucket+"/gone.parquet", objstore.Options{ChunkSize: 10_000, Parallel: 1})
		switch {
		case want == "" && (err != nil || !bytes.Equal(mustRead(t, objs[0].Local), payload(10, 30_000))):
			t.Errorf("%s, deleted mid-read: %v; want the listed version whole", bucket, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s, deleted mid-read: %v; want %q", bucket, err, want)
		}
	}
}

// az:// against Azurite, Microsoft's emulator: a glob, the cache, and an
// object overwritten between two ranges (If-Match on its ETag).
func TestFetchFromAzurite(t *testing.T) {
	az := testenv.StartAzurite(t)
	az.Setenv(t)
	ctx := context.Background()
	c, err := container.NewClientWithSharedKeyCredential(az.URL+"/"+testenv.AzuriteAccount+"/lake", sharedKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		if _, err := c.NewBlockBlobClient(key).UploadBuffer(ctx, b, nil); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("clicks/dt=2026-12-01/part-0.parquet", payload(1, 40_000))
	put("clicks/dt=2026-12-02/part-0.parquet", payload(2, 100))
	put("clicks/dt=2026-12-02/_SUCCESS", nil)
	cache := t.TempDir()
	opts := objstore.Options{CacheDir: cache, ChunkSize: 10_000, Parallel: 1}
	objs, err := fetch(t, "az://lake/clicks/dt=*/part-*.parquet", opts)
	if err != nil || len(objs) != 2 || objs[1].Rel != "dt=2026-12-02/part-0.parquet" || objs[0].ETag == "" ||
		!bytes.Equal(mustRead(t, objs[0].Local), payload(1, 40_000)) || !bytes.Equal(mustRead(t, objs[1].Local), payload(2, 100)) {
		t.Fatalf("az:// glob: %+v, %v", objs, err)
	}
	if again, err := fetch(t, "az://lake/clicks/", opts); err != nil || len(again) != 2 || !again[0].Cached {
		t.Fatalf("az:// again: %+v, %v; want both from the cache", again, err)
	}

	p := &proxy{hook: func(n int64) {
		if n == 2 {
			put("clicks/dt=2026-12-01/part-0.parquet", payload(3, 40_000))
		}
	}}
	t.Setenv("AZURE_STORAGE_DOMAIN", strings.TrimPrefix(p.start(t, az.URL), "http://"))
	_, err = fetch(t, "az://lake/clicks/dt=2026-12-01/part-0.parquet", objstore.Options{ChunkSize: 10_000, Parallel: 1})
	if want := "az://lake/clicks/dt=2026-12-01/part-0.parquet: changed while ferry read it"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("az:// object overwritten mid-read: %v; want %q", err, want)
	}
	t.Setenv("AZURE_STORAGE_KEY", "")
	if _, err := fetch(t, "az://lake/clicks/", objstore.Options{}); err == nil || !strings.Contains(err.Error(), "AZURE_STORAGE_KEY: set but empty") {
		t.Errorf("az:// with an empty key: %v", err)
	}
}

func sharedKey(t *testing.T) *azblob.SharedKeyCredential {
	k, err := azblob.NewSharedKeyCredential(testenv.AzuriteAccount, testenv.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

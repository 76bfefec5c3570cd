package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	_ "github.com/ferry-ml/ferry/internal/objstore" // as cmd/ferry links it
	"github.com/ferry-ml/ferry/test/testenv"
)

func fileSHA256(t *testing.T, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b))
}

// Training and evaluating on a data lake: DuckDB's Parquet files by day in
// versitygw (a real S3-compatible server, versioned, with its own IAM),
// read by a glob over keys. The lineage pins every object; the model is the
// one the same files give from a local directory; evaluate records the
// data it compared on in the candidate, refuses it once an object changed,
// and compares on it when told to, saying so.
func TestTrainAndEvaluateOnS3(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.Bucket(t, "lake", true)
	srv.Setenv(t, srv.Root)
	t.Setenv("FERRY_CACHE_DIR", t.TempDir())
	local := t.TempDir()
	days := []string{"2026-12-01", "2026-12-02", "2026-12-03"}
	versions := map[string]string{}
	for _, day := range days {
		src := filepath.Join("..", "data", "testdata", "clicks-by-day", "dt="+day, "data_0.parquet")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		key := "clicks/dt=" + day + "/part-0.parquet"
		_, versions["s3://lake/"+key] = srv.Put(t, "lake", key, b)
		os.MkdirAll(filepath.Join(local, "dt="+day), 0o755)
		os.WriteFile(filepath.Join(local, "dt="+day, "part-0.parquet"), b, 0o644)
	}
	srv.Put(t, "lake", "clicks/dt=2026-12-03/_SUCCESS", nil)
	test, _ := os.ReadFile(filepath.Join("..", "data", "testdata", "clicks-snappy.parquet"))
	srv.Put(t, "lake", "test/part-0.parquet", test)

	dir := t.TempDir()
	fromS3, fromDisk := filepath.Join(dir, "s3-model"), filepath.Join(dir, "local-model")
	lake := "s3://lake/clicks/dt=*/part-*.parquet"
	if r := run(t, laptop, "train", "--data", lake, "--label", "clicked", "--drop", "query", "--out", fromS3); r.code != 0 {
		t.Fatalf("train from S3: %d\n%s", r.code, r.stderr)
	}
	if r := run(t, laptop, "train", "--data", local, "--label", "clicked", "--drop", "query", "--out", fromDisk); r.code != 0 {
		t.Fatalf("train from the local copy: %d\n%s", r.code, r.stderr)
	}
	m, err := model.Load(fromS3)
	if err != nil {
		t.Fatal(err)
	}
	l, ld := m.Manifest.Lineage, mustLoad(t, fromDisk).Manifest.Lineage
	if l.Data != lake || l.DataSHA256 != ld.DataSHA256 || len(l.DataSources) != 3 {
		t.Fatalf("lineage %s sha256 %s with %d sources; want the glob, the local copy's set sha256 %s, 3 objects", l.Data, l.DataSHA256, len(l.DataSources), ld.DataSHA256)
	}
	for i, s := range l.DataSources {
		sum, size := fileSHA256(t, filepath.Join(local, "dt="+days[i], "part-0.parquet"))
		if s.URL != "s3://lake/clicks/dt="+days[i]+"/part-0.parquet" || s.Version == "" || s.Version != versions[s.URL] || s.ETag == "" || s.SHA256 != sum || s.Size != size {
			t.Errorf("source %d: %+v; want version %s, sha256 %s, %d bytes", i, s, versions[s.URL], sum, size)
		}
	}
	payload := func(dir string) string { b, _ := os.ReadFile(filepath.Join(dir, "gbdt.json")); return string(b) }
	if p := payload(fromS3); p == "" || p != payload(fromDisk) {
		t.Error("the model trained from S3 differs from the one trained from the same files on disk")
	}

	testURL := "s3://lake/test/part-0.parquet"
	r := run(t, laptop, "evaluate", "--candidate", fromS3, "--data", testURL, "--label", "clicked")
	if r.code != 0 || !strings.Contains(r.stdout, "Compared on `"+testURL+"`") || !strings.Contains(r.stdout, "1 object(s), each pinned to its version") {
		t.Fatalf("evaluate on S3: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	es, err := model.LoadEvaluations(fromS3)
	if err != nil || es.Of(testURL) == nil || es.Of(testURL).Sources[0].Version == "" {
		t.Fatalf("the candidate's evaluation records: %+v, %v", es, err)
	}

	other, _ := os.ReadFile(filepath.Join("..", "data", "testdata", "clicks-zstd.parquet")) // the same rows, other bytes
	srv.Put(t, "lake", "test/part-0.parquet", other)
	r = run(t, laptop, "evaluate", "--candidate", fromS3, "--data", testURL, "--label", "clicked")
	if r.code != 3 || !strings.Contains(r.stderr, testURL+" changed since "+fromS3+" was evaluated on it") || !strings.Contains(r.stderr, "allow-data-change") {
		t.Fatalf("evaluate on changed data: %d, want 3 and the change named\n%s", r.code, r.stderr)
	}
	r = run(t, laptop, "evaluate", "--candidate", fromS3, "--data", testURL, "--label", "clicked", "--allow-data-change")
	if r.code != 0 || !strings.Contains(r.stdout, "The data changed since the candidate was last evaluated on it") || !strings.Contains(r.stdout, testURL+": changed") {
		t.Fatalf("evaluate allowed on changed data: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"--data", "s3://lake/clicks/dt=*/part-*.csv"}, nil, 2, "s3://lake/clicks/dt=*/part-*.csv: no object matches the glob"},
		{[]string{"--data", lake}, map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong"}, 3, "s3://lake/clicks/: access refused"},
		{[]string{"--data", lake}, map[string]string{"AWS_ACCESS_KEY_ID": ""}, 2, "AWS_ACCESS_KEY_ID: set but empty"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		out := filepath.Join(dir, "bad")
		r := run(t, laptop, append([]string{"train", "--label", "clicked", "--out", out}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("train %v with %v: %d, want %d and %q\n%s", c.args, c.env, r.code, c.code, c.want, r.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("train %v left %s", c.args, out)
		}
		srv.Setenv(t, srv.Root)
	}
}

func mustLoad(t *testing.T, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

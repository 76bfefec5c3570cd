package data_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/test/testenv"
)

// DuckDB (the npm package @duckdb/node-api, installed into bin/duckdb by
// hack/deps.sh) reads the Parquet predictions ferry writes as ferry wrote
// them: every row's number, group, label and score, nulls where the data
// had no group.
func TestDuckDBReadsFerrysPredictions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs DuckDB")
	}
	node := testenv.LookPath(t, "node", "run `make deps` (apt-get install nodejs npm)")
	modules := filepath.Join(testenv.RepoRoot(t), "bin", "duckdb", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@duckdb", "node-api")); err != nil {
		testenv.Missing(t, "@duckdb/node-api in bin/duckdb", "run ./hack/deps.sh (npm install @duckdb/node-api)")
	}
	d, err := data.Read(context.Background(), "testdata/clicks-zstd.parquet", data.Options{Label: "clicked", Group: "query"})
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, d.Rows)
	for i := range scores {
		scores[i] = float64(i)/7 - 300
	}
	dir := t.TempDir()
	for name, ds := range map[string]*data.Dataset{"grouped.parquet": d, "flat.parquet": {Rows: d.Rows, Columns: d.Columns}} {
		path := filepath.Join(dir, name)
		var buf bytes.Buffer
		if err := data.WritePredictionsFor(path, &buf, ds, scores); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, buf.Bytes(), 0o644)
		script := `const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const c = await (await DuckDBInstance.create(':memory:')).connect();
  const r = await c.runAndReadAll("SELECT row::DOUBLE, \"group\", label, score FROM read_parquet('` + path + `') ORDER BY row");
  console.log(JSON.stringify(r.getRows()));
})();`
		cmd := exec.Command(node, "-e", script)
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("DuckDB reading %s: %v", name, err)
		}
		var rows [][]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if len(rows) != d.Rows {
			t.Fatalf("DuckDB read %d rows of %s, want %d", len(rows), name, d.Rows)
		}
		for i, r := range rows {
			var group, label any
			if ds.Group != nil {
				group, label = ds.GroupKeys[ds.Group[i]], ds.Label[i]
			}
			if r[0] != float64(i) || r[1] != group || r[2] != label || r[3] != scores[i] {
				t.Fatalf("%s row %d: DuckDB read %v, ferry wrote [%d %v %v %v]", name, i, r, i, group, label, scores[i])
			}
		}
	}
}

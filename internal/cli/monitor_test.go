package cli_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/forgetest"
)

// sendRows sends the rows of a clicks CSV to a ferry-serve of the click
// model, 50 a request, with prices multiplied by scale.
func sendRows(t *testing.T, url, path string, scale float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := records[1:]
	for lo := 0; lo < len(rows); lo += 50 {
		chunk := rows[lo:min(lo+50, len(rows))]
		price, rating, device := make([]any, len(chunk)), make([]any, len(chunk)), make([]any, len(chunk))
		for i, r := range chunk {
			price[i] = nil // missing
			if p, err := strconv.ParseFloat(r[1], 64); err == nil {
				price[i] = p * scale
			}
			rating[i], _ = strconv.ParseFloat(r[2], 64)
			device[i] = r[3]
		}
		body, _ := json.Marshal(map[string]any{"inputs": []any{
			map[string]any{"name": "price", "shape": []int{len(chunk)}, "datatype": "FP64", "data": price},
			map[string]any{"name": "rating", "shape": []int{len(chunk)}, "datatype": "FP64", "data": rating},
			map[string]any{"name": "device", "shape": []int{len(chunk)}, "datatype": "BYTES", "data": device},
		}})
		resp, err := http.Post(url+"/v2/models/ranker/infer", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("infer: %s: %s", resp.Status, b)
		}
	}
}

// The feedback loop end to end, as monitor.yml runs it: the monitor action
// reads a real ferry-serve's counts; traffic like the training data opens
// nothing; shifted traffic opens one issue with the report and starts
// retrain.yml on main; the next run updates the same issue and starts no
// second retraining, and an issue a person opened with the same marker is
// left alone.
func TestMonitorActionOpensIssueAndRetrains(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(conf, []byte("name: ranker\nmonitor:\n  min-rows: 300\n"), 0o644)
	model := filepath.Join(dir, "model")
	if r := run(t, laptop, "train", "--config", conf, "--data", clicks(t, dir, "train.csv", 3000, 1), "--label", "clicked",
		"--drop", "query", "--param", "trees=10", "--out", model); r.code != 0 {
		t.Fatalf("train: exit %d: %s", r.code, r.stderr)
	}
	s, err := serve.New(serve.Config{ModelDir: model}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	gh := &forgetest.GitHub{}
	gh.AddIssue("octocat", "drift?", "<!-- ferry-monitor: ranker -->\nI think prices look odd.")
	api := httptest.NewServer(gh)
	defer api.Close()

	monitorAction := func() (int, map[string]string, string) {
		runner := actiontest.NewRunner(t, `{"schedule": "17 * * * *"}`)
		vars := runner.Vars("schedule", actiontest.StageInputs("monitor", map[string]string{
			"config": conf, "model": model, "url": srv.URL, "github-token": "ghs_x",
			"retrain-workflow": "retrain.yml", "retrain-ref": "main",
		}))
		vars["GITHUB_API_URL"] = api.URL + "/"
		r := run(t, actiontest.NewEnv(t, vars).Getenv, "action", "monitor")
		if r.code > 1 {
			t.Logf("monitor action: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return r.code, actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output)), actiontest.ReadFile(t, runner.Summary)
	}

	sendRows(t, srv.URL, clicks(t, dir, "today.csv", 1000, 2), 1)
	code, out, _ := monitorAction()
	if code != 0 || out["status"] != "ok" || out["issue-url"] != "" || len(gh.Dispatches) != 0 || len(gh.Issues) != 1 {
		t.Fatalf("traffic like training: exit %d, outputs %v, %d dispatches, %d issues", code, out, len(gh.Dispatches), len(gh.Issues))
	}

	sendRows(t, srv.URL, clicks(t, dir, "sale.csv", 1000, 3), 3)
	code, out, summary := monitorAction()
	if code != 1 || out["status"] != "drift" || !strings.Contains(out["drifted"], "price") || strings.Contains(out["drifted"], "rating") {
		t.Fatalf("prices tripled: exit %d, outputs %v", code, out)
	}
	if len(gh.Issues) != 2 || out["issue-url"] != "https://github.com/shop/ranker/issues/2" {
		t.Fatalf("want one issue of ferry's beside the person's: %d issues, issue-url %q", len(gh.Issues), out["issue-url"])
	}
	body, _ := gh.Issues[1]["body"].(string)
	if !strings.HasPrefix(body, "<!-- ferry-monitor: ranker -->") || !strings.Contains(body, "**Drift** in `price`") || !strings.Contains(body, "started `retrain.yml` on `main`") {
		t.Errorf("issue body:\n%s", body)
	}
	if fmt.Sprint(gh.Issues[1]["labels"]) != "[map[name:ferry-drift]]" || gh.Issues[0]["body"] != "<!-- ferry-monitor: ranker -->\nI think prices look odd." {
		t.Errorf("labels %v; the person's issue %q", gh.Issues[1]["labels"], gh.Issues[0]["body"])
	}
	if len(gh.Dispatches) != 1 || gh.Dispatches[0]["workflow"] != "retrain.yml" || gh.Dispatches[0]["ref"] != "main" {
		t.Errorf("dispatches: %v", gh.Dispatches)
	}
	if !strings.Contains(summary, "xychart-beta") {
		t.Errorf("the job summary has no histogram:\n%s", summary)
	}

	sendRows(t, srv.URL, clicks(t, dir, "sale2.csv", 500, 4), 3)
	if code, out, _ := monitorAction(); code != 1 || len(gh.Issues) != 2 || out["issue-url"] != "https://github.com/shop/ranker/issues/2" || len(gh.Dispatches) != 1 {
		t.Errorf("the next run: exit %d, %d issues, issue-url %q, %d dispatches; want the same issue updated and no second retraining", code, len(gh.Issues), out["issue-url"], len(gh.Dispatches))
	}
}

// Command trainer is the training image of the docker backend's tests: a
// static program that behaves like a user's training code. With "ok" it
// writes a one-tree ferry model and metrics.json to FERRY_OUTPUT; with
// "sleep" it never finishes; with "fail" it exits 7.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const manifest = `{"format_version": 1, "name": "docker", "format": "ferry-gbdt", "task": "binary", "objective": "binary",
 "algorithm": "gbdt", "payload": "gbdt.json", "input": {"format": "csv", "label": "y"},
 "features": [{"name": "x"}], "params": {}, "seed": 1, "metrics": {}, "curve": {"metric": "logloss", "higher_is_better": false, "steps": [], "train": [], "best": 1},
 "lineage": {"data": "", "data_sha256": "", "ferry_version": "test", "trainer": "test", "started": "2026-01-01T00:00:00Z", "seconds": {"read": 0, "train": 0, "total": 0}, "hardware": {"os": "linux", "arch": "amd64", "cpus": 1, "threads": 1}}}`

const trees = `{"objective": "binary", "base_score": 0, "num_features": 1, "trees": [{"left": [-1], "right": [-1], "feature": [-1],
 "threshold": [0], "categories": [null], "default_left": [false], "value": [0.5], "cover": [1]}]}`

func main() {
	mode := "ok"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	out := os.Getenv("FERRY_OUTPUT")
	fmt.Printf("trainer: mode %s, data %s, seed %s, uid %d\n", mode, os.Getenv("FERRY_DATA_TRAIN"), os.Getenv("FERRY_SEED"), os.Getuid())
	switch mode {
	case "sleep":
		fmt.Println("started")
		time.Sleep(time.Hour)
	case "fail":
		fmt.Fprintln(os.Stderr, "out of memory on the device")
		os.Exit(7)
	}
	for name, content := range map[string]string{"model.json": manifest, "gbdt.json": trees, "metrics.json": `{"valid": {"auc": 0.75}}`} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Println("done")
}

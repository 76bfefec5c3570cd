package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/test/testenv"
)

// The same data, parameters and seed give the same model directory byte for
// byte (but for run.json, the run record) and so the same image digest,
// for each of ferry's trainers; the run record is there, and out of the
// image.
func TestTrainingIsReproducible(t *testing.T) {
	dir := t.TempDir()
	train := clicks(t, dir, "train.csv", 2000, 1)
	serve := filepath.Join(dir, "ferry-serve")
	if err := os.WriteFile(serve, testenv.StaticBinary(t, "amd64"), 0o755); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "FERRY_SERVE_LINUX_AMD64" {
			return serve
		}
		return map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}[k]
	}
	for _, algo := range []string{"gbdt", "logistic", "mlp"} {
		t.Run(algo, func(t *testing.T) {
			var digests []string
			var files [][]string
			for i := range 2 {
				out := filepath.Join(dir, algo+string(rune('a'+i)), "clicks") // the name is the directory's
				args := []string{"train", "--data", train, "--label", "clicked", "--drop", "query", "--algorithm", algo, "--seed", "7", "--out", out}
				if algo == "mlp" {
					args = append(args, "--param", "epochs=3")
				}
				if r := run(t, laptop, args...); r.code != 0 {
					t.Fatalf("train: %s", r.stderr)
				}
				if _, err := os.Stat(filepath.Join(out, model.RunFile)); err != nil {
					t.Errorf("no run record: %v", err)
				}
				entries, _ := os.ReadDir(out)
				var contents []string
				for _, e := range entries {
					if e.Name() == model.RunFile {
						continue
					}
					b, err := os.ReadFile(filepath.Join(out, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					contents = append(contents, e.Name()+"\n"+string(b))
				}
				files = append(files, contents)
				layout := filepath.Join(dir, algo+"-layout"+string(rune('a'+i)))
				r := run(t, getenv, "package", "--model", out, "--layout", layout)
				if r.code != 0 {
					t.Fatalf("package: %s", r.stderr)
				}
				index, err := os.ReadFile(filepath.Join(layout, "index.json"))
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, string(index))
			}
			if strings.Join(files[0], "\x00") != strings.Join(files[1], "\x00") {
				for k := range files[0] {
					if k < len(files[1]) && files[0][k] != files[1][k] {
						t.Errorf("two trainings wrote different %s", strings.SplitN(files[0][k], "\n", 2)[0])
					}
				}
				t.Fatal("the two model directories differ")
			}
			if digests[0] != digests[1] {
				t.Errorf("the two images differ:\n%s\n%s", digests[0], digests[1])
			}
		})
	}
}

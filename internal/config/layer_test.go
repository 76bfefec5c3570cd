package config

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/input"
)

func parse(t *testing.T, yaml string) *File {
	t.Helper()
	f, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLayerOrder checks the order for each parameter: given, else the
// file's key for the stage, else not given (the Reader's default).
func TestLayerOrder(t *testing.T) {
	f := parse(t, `
data: {train: train.csv, test: test.csv, label: clicked, delimiter: ";"}
train: {algorithm: mlp, seed: 7}
evaluate: {gates: ["auc >= 0.7", "logloss <= 0.6"], bootstrap: 200, confidence: 0.9}
`)
	src := input.MapSource{"label": "bought", "group": ""}
	specs := []input.Spec{
		{Name: "data", Kind: input.String}, {Name: "label", Kind: input.String}, {Name: "group", Kind: input.String},
		{Name: "delimiter", Kind: input.String}, {Name: "seed", Kind: input.Int, Default: "1"},
		{Name: "gate", Kind: input.List}, {Name: "bootstrap", Kind: input.Int, Default: "1000"},
		{Name: "confidence", Kind: input.Float, Default: "0.95"},
	}
	tr := input.NewReader(Layer(src, f, "ferry.yaml", "train"), specs, nil)
	ev := input.NewReader(Layer(src, f, "ferry.yaml", "evaluate"), specs, nil)
	for _, c := range []struct{ got, want any }{
		{tr.String("data"), "train.csv"}, // data is data.train for train
		{ev.String("data"), "test.csv"},  // and data.test for evaluate
		{tr.String("label"), "bought"},   // given wins
		{tr.String("group"), ""},         // given empty, file unset
		{tr.String("delimiter"), ";"},
		{tr.Int("seed"), 7},
		{ev.Int("seed"), 1}, // train.seed is not evaluate's
		{strings.Join(ev.List("gate"), "|"), "auc >= 0.7|logloss <= 0.6"},
		{len(tr.List("gate")), 0},
		{ev.Int("bootstrap"), 200},
		{ev.Float("confidence"), 0.9},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	if err := ev.Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok := Layer(src, nil, "ferry.yaml", "train").(input.MapSource); !ok {
		t.Error("a nil file should return the source itself")
	}
}

// TestLayerNamesTheKey checks that a bad value from the file is reported
// as the file's key and one given as a flag as the flag.
func TestLayerNamesTheKey(t *testing.T) {
	f := parse(t, "data: {label: clicked}\nevaluate: {bootstrap: 5}\ntrain: {seed: 3}\n")
	l := Layer(input.MapSource{"label": "x"}, f, "conf/ferry.yaml", "train")
	if got := l.Describe("seed"); got != "conf/ferry.yaml train.seed" {
		t.Errorf("Describe(seed) = %q", got)
	}
	if got := l.Describe("label"); got != "--label" {
		t.Errorf("Describe(label) = %q, want the flag that was given", got)
	}
	if got := l.Describe("group"); got != "--group" {
		t.Errorf("Describe(group) = %q, want the flag: the file does not set it", got)
	}
	in := input.NewReader(Layer(input.MapSource{}, parse(t, "data: {format: csv}\n"), "ferry.yaml", "evaluate"),
		[]input.Spec{{Name: "format", Kind: input.Enum, Values: []string{"tsv"}}}, nil)
	in.Enum("format")
	if err := in.Err(); err == nil || !strings.Contains(err.Error(), `ferry.yaml data.format: "csv" is not valid`) {
		t.Errorf("error = %v, want one naming ferry.yaml data.format", err)
	}
}

// TestLayerTrainParams checks that train.params come before the given
// ones and are dropped when another algorithm than the file's is picked.
func TestLayerTrainParams(t *testing.T) {
	f := parse(t, "train: {algorithm: gbdt, params: {trees: 300, learning-rate: 0.05}}\n")
	for _, c := range []struct {
		given map[string]string
		want  string
	}{
		{map[string]string{}, "learning-rate=0.05\ntrees=300"},
		{map[string]string{"param": "trees=10"}, "learning-rate=0.05\ntrees=300\ntrees=10"},
		{map[string]string{"algorithm": "gbdt", "param": "trees=10"}, "learning-rate=0.05\ntrees=300\ntrees=10"},
		{map[string]string{"algorithm": "mlp", "param": "epochs=3"}, "epochs=3"},
		{map[string]string{"algorithm": "mlp"}, ""},
	} {
		got, _ := Layer(input.MapSource(c.given), f, "ferry.yaml", "train").Lookup("param")
		if got != c.want {
			t.Errorf("given %v: param = %q, want %q", c.given, got, c.want)
		}
		if got, _ := Layer(input.MapSource(c.given), f, "ferry.yaml", "evaluate").Lookup("param"); got != c.given["param"] {
			t.Errorf("evaluate takes no train.params: got %q", got)
		}
	}
}

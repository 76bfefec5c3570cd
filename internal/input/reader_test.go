package input_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/ferry-ml/ferry/internal/input"
)

var specs = []input.Spec{
	{Name: "data", Kind: input.String, Required: true, Usage: "Training data."},
	{Name: "replicas", Kind: input.Int, Default: "2", Usage: "Replicas."},
	{Name: "ratio", Kind: input.Float, Default: "0.5", Usage: "Ratio."},
	{Name: "force", Kind: input.Bool, Default: "false", Usage: "Force."},
	{Name: "timeout", Kind: input.Duration, Default: "10m", Usage: "Timeout."},
	{Name: "algorithm", Kind: input.Enum, Default: "gbdt", Values: []string{"gbdt", "mlp"}, Usage: "Algorithm."},
	{Name: "gate", Kind: input.List, Usage: "Gates."},
	{Name: "drop", Kind: input.List, Comma: true, Usage: "Columns."},
	{Name: "token", Kind: input.String, Secret: true, Usage: "Token."},
}

type values struct {
	Data      string
	Replicas  int
	Ratio     float64
	Force     bool
	Timeout   time.Duration
	Algorithm string
	Gate      []string
	Drop      []string
}

func readAll(r *input.Reader) values {
	return values{
		Data: r.String("data"), Replicas: r.Int("replicas"), Ratio: r.Float("ratio"),
		Force: r.Bool("force"), Timeout: r.Duration("timeout"), Algorithm: r.Enum("algorithm"),
		Gate: r.List("gate"), Drop: r.List("drop"),
	}
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  input.MapSource
		want values
	}{
		{"defaults", input.MapSource{"data": "a.csv"},
			values{Data: "a.csv", Replicas: 2, Ratio: 0.5, Timeout: 10 * time.Minute, Algorithm: "gbdt"}},
		{"empty means default, as the runner passes unset inputs", input.MapSource{"data": "a.csv", "replicas": "", "timeout": "  "},
			values{Data: "a.csv", Replicas: 2, Ratio: 0.5, Timeout: 10 * time.Minute, Algorithm: "gbdt"}},
		{"every kind", input.MapSource{
			"data": " a.csv ", "replicas": "5", "ratio": "1e-3", "force": "TRUE", "timeout": "1h30m",
			"algorithm": "mlp", "gate": "auc >= 0.8\n\n# a comment\n  logloss max-increase 2%, really  \n",
			"drop": "a, b\nc",
		}, values{Data: "a.csv", Replicas: 5, Ratio: 0.001, Force: true, Timeout: 90 * time.Minute, Algorithm: "mlp",
			Gate: []string{"auc >= 0.8", "logloss max-increase 2%, really"}, Drop: []string{"a", "b", "c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := input.NewReader(tc.src, specs, nil)
			got := readAll(r)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	src := input.MapSource{
		"replicas": "2.5", "ratio": "NaN", "force": "yes", "timeout": "-5s",
		"algorithm": "xgboost", "token": "s3cret-but-not-a-number",
	}
	r := input.NewReader(src, append(specs, input.Spec{Name: "pin", Kind: input.Int, Secret: true, Usage: "PIN."}), nil)
	readAll(r)
	src["pin"] = "s3cret"
	r.Int("pin")
	r.String("undeclared")
	r.Int("data")
	want := []string{
		`--data is required: Training data.`,
		`--replicas: "2.5" is not valid: want a whole number such as 3`,
		`--ratio: "NaN" is not valid: want a number such as 0.5`,
		`--force: "yes" is not valid: want true or false`,
		`--timeout: "-5s" is not valid: want a duration such as 90s, 10m or 1h30m`,
		`--algorithm: "xgboost" is not valid: want one of gbdt, mlp`,
		`--pin: "***" is not valid: want a whole number such as 3`,
		`internal error: parameter "undeclared" is read but not declared`,
		`internal error: parameter "data" is declared string but read as int`,
	}
	var got []string
	for _, e := range r.Err().(interface{ Unwrap() []error }).Unwrap() {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var ie *input.Error
	if !errors.As(r.Err(), &ie) || ie.Param != "--data" || !ie.Missing {
		t.Errorf("errors.As(*input.Error) = %+v", ie)
	}
}

func TestSecretsAreMaskedBeforeUse(t *testing.T) {
	var masked []string
	r := input.NewReader(input.MapSource{"token": "abc"}, specs, func(s string) { masked = append(masked, s) })
	r.String("token")
	r.String("token")
	if diff := cmp.Diff([]string{"abc", "abc"}, masked); diff != "" {
		t.Errorf("masked (-want +got):\n%s", diff)
	}
}

func TestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
	input.AddFlags(fs, specs)
	if err := fs.Parse([]string{"--data", "x.csv", "--force", "--gate", "auc >= 0.8", "--gate=ndcg@10 max-drop 1%", "--drop", "a,b"}); err != nil {
		t.Fatal(err)
	}
	r := input.NewReader(input.FlagSource{FlagSet: fs}, specs, nil)
	got := readAll(r)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := values{Data: "x.csv", Replicas: 2, Ratio: 0.5, Force: true, Timeout: 10 * time.Minute, Algorithm: "gbdt",
		Gate: []string{"auc >= 0.8", "ndcg@10 max-drop 1%"}, Drop: []string{"a", "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if f := fs.Lookup("replicas"); f.Value.Type() != "int" || f.DefValue != "2" {
		t.Errorf("--replicas shows as %s with default %q", f.Value.Type(), f.DefValue)
	}
	if fs.Lookup("token") == nil {
		t.Error("a flag for an Everywhere spec is missing")
	}
}

func TestValidate(t *testing.T) {
	if err := input.Validate(specs); err != nil {
		t.Fatalf("valid specs: %v", err)
	}
	for _, bad := range [][]input.Spec{
		{{Name: "Data", Usage: "x"}},
		{{Name: "a", Usage: "x"}, {Name: "a", Usage: "y"}},
		{{Name: "a"}},
		{{Name: "a", Kind: input.Enum, Usage: "x"}},
		{{Name: "a", Kind: input.Int, Default: "two", Usage: "x"}},
		{{Name: "a", Required: true, Default: "x", Usage: "x"}},
	} {
		if err := input.Validate(bad); err == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

// A default that is an Actions expression is the runner's to evaluate:
// when the input arrives empty (github-token: ”, a secret that is not set),
// the value is empty, never the expression's text sent as a credential.
func TestExpressionDefaultsAreNeverValues(t *testing.T) {
	specs := []input.Spec{
		{Name: "github-token", Kind: input.String, Secret: true, Default: "${{ github.token }}", Usage: "Token."},
		{Name: "registry-username", Kind: input.String, Default: "${{ github.actor }}", Usage: "User."},
		{Name: "environment", Kind: input.String, Default: "production", Usage: "Environment."},
	}
	r := input.NewReader(input.MapSource{"github-token": "", "registry-username": "  "}, specs, nil)
	if got := r.String("github-token"); got != "" {
		t.Errorf("github-token %q, want empty", got)
	}
	if got := r.String("registry-username"); got != "" {
		t.Errorf("registry-username %q, want empty", got)
	}
	if got := r.String("environment"); got != "production" {
		t.Errorf("a plain default: %q", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

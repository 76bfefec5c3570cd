package stage_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/internal/version"
)

// repoRoot is where the action.yml files live, relative to this package.
const repoRoot = "../.."

// actionYAML is the part of GitHub's action metadata syntax ferry writes.
type actionYAML struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Author      string `json:"author"`
	Branding    struct {
		Icon  string `json:"icon"`
		Color string `json:"color"`
	} `json:"branding"`
	Inputs map[string]struct {
		Description string  `json:"description"`
		Required    bool    `json:"required"`
		Default     *string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
	} `json:"outputs"`
	Runs struct {
		Using string   `json:"using"`
		Image string   `json:"image"`
		Args  []string `json:"args"`
	} `json:"runs"`
}

type inputDecl struct {
	Required bool
	Default  string
}

// The setup action installs the release the other actions' image is.
func TestSetupActionInstallsThisVersion(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "actions", "setup", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if got := a.Inputs["version"].Default; got != version.Version {
		t.Errorf("actions/setup installs %q by default, but this is ferry %s", got, version.Version)
	}
}

// TestActionFilesMatchGo parses every action.yml as GitHub would and fails
// when its inputs, outputs or image differ from what the Go code declares,
// reads and writes.
func TestActionFilesMatchGo(t *testing.T) {
	files, err := stage.ActionFiles()
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := filepath.Glob(filepath.Join(repoRoot, "actions", "*", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// actions/setup is a composite action of its own, not a stage.
	onDisk = slices.DeleteFunc(onDisk, func(p string) bool { return strings.Contains(p, filepath.Join("actions", "setup")) })
	if len(onDisk)+1 != len(files) {
		t.Errorf("%d action.yml files under actions/, want one per stage (%d)", len(onDisk), len(files)-1)
	}
	for _, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(repoRoot, f.Path))
			if err != nil {
				t.Fatalf("%v (run `make generate`)", err)
			}
			var got actionYAML
			if err := yaml.UnmarshalStrict(raw, &got); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			gotInputs := map[string]inputDecl{}
			for name, in := range got.Inputs {
				if in.Description == "" {
					t.Errorf("input %q has no description", name)
				}
				d := inputDecl{Required: in.Required}
				if in.Default != nil {
					d.Default = *in.Default
				}
				gotInputs[name] = d
			}
			wantInputs := map[string]inputDecl{}
			for _, s := range f.Inputs {
				d := inputDecl{Required: s.Required}
				if stage.IsExpression(s.Default) {
					d.Default = s.Default // the runner evaluates it; ferry applies the others
				}
				wantInputs[s.Name] = d
			}
			if diff := cmp.Diff(wantInputs, gotInputs); diff != "" {
				t.Errorf("inputs: Go (-) vs %s (+):\n%s", f.Path, diff)
			}
			var gotOutputs, wantOutputs []string
			for name, o := range got.Outputs {
				if o.Description == "" {
					t.Errorf("output %q has no description", name)
				}
				gotOutputs = append(gotOutputs, name)
			}
			for _, o := range f.Outputs {
				wantOutputs = append(wantOutputs, o.Name)
			}
			sort.Strings(gotOutputs)
			sort.Strings(wantOutputs)
			if diff := cmp.Diff(wantOutputs, gotOutputs); diff != "" {
				t.Errorf("outputs: Go (-) vs %s (+):\n%s", f.Path, diff)
			}
			if got.Runs.Using != "docker" || got.Runs.Image != version.ActionImage() {
				t.Errorf("runs: using %q image %q, want docker on %q", got.Runs.Using, got.Runs.Image, version.ActionImage())
			}
			if diff := cmp.Diff(f.Args, got.Runs.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			// And byte for byte, so that `make generate` has nothing to change.
			want, err := f.Render()
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(raw) {
				t.Errorf("%s differs from what `make generate` writes", f.Path)
			}
		})
	}
}

func TestDeclarations(t *testing.T) {
	seen := map[string]bool{}
	all := stage.Commands()
	for _, c := range stage.Commands() {
		all = append(all, c.Sub...)
	}
	for _, c := range all {
		if seen[c.Name] {
			t.Errorf("command %q declared twice", c.Name)
		}
		seen[c.Name] = true
		if err := input.Validate(c.Params); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: Short, Long and Example are all needed for --help", c.Name)
		}
		if c.Action && len(c.Permissions) == 0 {
			t.Errorf("%s: an action must list the permissions it needs", c.Name)
		}
	}
	for _, want := range []string{"train", "evaluate", "package", "deploy", "monitor", "serve", "predict", "metrics", "model", "demo", "init", "version"} {
		if !seen[want] {
			t.Errorf("command %q is missing", want)
		}
	}
	if got := stage.StageNames(); !cmp.Equal(got, []string{"train", "evaluate", "package", "deploy", "monitor"}) {
		t.Errorf("stages = %v", got)
	}
	root, err := stage.RootInputs()
	if err != nil {
		t.Fatal(err)
	}
	if err := input.Validate(root); err != nil {
		t.Errorf("root action: %v", err)
	}
}

func TestReadmeSectionListsEveryInput(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "actions", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stage.Stages() {
		if sec := stage.ReadmeSection(st); !strings.Contains(string(readme), sec) {
			t.Errorf("actions/README.md lacks the current reference of %s (run `make generate`)", st.Name)
		}
	}
}

// A release pins the image by digest: with version.ImageDigest set, every
// generated action.yml runs REPOSITORY:vVERSION@DIGEST.
func TestActionFilesPinTheReleasedDigest(t *testing.T) {
	const digest = "sha256:4b5f2c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	version.ImageDigest = digest
	defer func() { version.ImageDigest = "" }()
	files, err := stage.ActionFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := "image: \"docker://" + version.ImageRepository + ":v" + version.Version + "@" + digest + "\"\n"
	for _, f := range files {
		b, err := f.Render()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "using: docker") && !strings.Contains(string(b), want) {
			t.Errorf("%s does not run the pinned image:\n%s", f.Path, b)
		}
	}
}

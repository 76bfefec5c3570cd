package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEveryKeyIsDocumented(t *testing.T) {
	if keys := undocumented(); len(keys) > 0 {
		t.Errorf("ferry.yaml keys without a doc tag: %v", keys)
	}
}

// docs/configuration.md is Reference(): `make generate` writes it.
func TestReferenceIsCurrent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != Reference() {
		t.Error("docs/configuration.md differs from the config types: run `make generate`")
	}
}

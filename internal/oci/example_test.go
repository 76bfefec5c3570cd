package oci_test

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-ml/ferry/internal/oci"
)

func ExampleLayer() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "model.json")
	_ = os.WriteFile(model, []byte(`{"format":"ferry"}`), 0o600)

	layer, err := oci.Layer([]oci.File{{Path: "/model/model.json", Mode: 0o644, Source: model}}, time.Unix(0, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, _ := layer.Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		fmt.Printf("%s %o %d:%d\n", h.Name, h.Mode, h.Uid, h.Gid)
	}
	// Output:
	// model/ 755 0:0
	// model/model.json 644 0:0
}

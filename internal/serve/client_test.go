package serve_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/oip"
)

// The protocol's client (package oip, used by the local deployment's smoke
// test and the demo) against the server: the same wire types on both sides,
// the metadata read back, scores as ferry predict's, and the server's
// message in the client's error.
func TestClientAgainstServer(t *testing.T) {
	srv, m := server(t)
	ctx := context.Background()
	c := oip.Client{URL: srv}
	if !c.Ready(ctx) {
		t.Fatal("the server is not ready")
	}
	meta, err := c.Metadata(ctx, "clicks")
	if err != nil {
		t.Fatal(err)
	}
	wantInputs := []oip.TensorMetadata{{Name: "price", Datatype: oip.FP32, Shape: []int64{-1}}, {Name: "device", Datatype: oip.Bytes, Shape: []int64{-1}}}
	if diff := cmp.Diff(wantInputs, meta.Inputs); diff != "" || meta.Platform != "ferry/"+m.Manifest.Format {
		t.Errorf("metadata platform %s, inputs (-want +got):\n%s", meta.Platform, diff)
	}
	req := oip.InferRequest{Inputs: []oip.InputTensor{
		oip.InferTensor("price", oip.FP32, []any{5, 30}),
		oip.InferTensor("device", oip.Bytes, []any{"mobile", "desktop"}),
	}}
	out, err := c.Infer(ctx, "clicks", req)
	if err != nil {
		t.Fatal(err)
	}
	want := m.PredictDataset(&data.Dataset{Rows: 2, Columns: []data.Column{
		{Name: "price", Values: []float32{5, 30}},
		{Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}, Values: []float32{0, 1}},
	}})
	for i, s := range out.Outputs[0].Data {
		if s != want[i] {
			t.Errorf("row %d: served %v, predicted %v", i, s, want[i])
		}
	}
	req.Inputs[1].Name = "platform"
	if _, err := c.Infer(ctx, "clicks", req); err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "platform") {
		t.Errorf("a request the model cannot take: %v; want the 400 and the server's message", err)
	}
	if _, err := c.Metadata(ctx, "ranker"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("an unknown model: %v", err)
	}
}

package serve

import (
	"bytes"
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-ml/ferry/internal/data"
)

// No request body makes decodeRequest panic, every refusal is a request
// error (a 4xx), and what it accepts is consistent with the limits.
func FuzzDecode(f *testing.F) {
	features := []data.Feature{{Name: "price"}, {Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}}}
	for _, seed := range []string{
		`{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 0], [null, 1]]}]}`,
		`{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "device", "shape": [1], "datatype": "BYTES", "data": ["mobile"]}]}`,
		`{"inputs": [{"data": [true, false], "name": "x", "shape": [1, 2], "datatype": "BOOL"}]}`,
		`{"inputs": [{"name": "x", "shape": [-1, 2], "datatype": "BOOL", "data": [true, false]}]}`,
		`{"inputs": [{"name": "x", "shape": [9999999999, 2], "datatype": "INT64", "data": []}]}`,
		`{"id": "a", "parameters": {"x": [1, {"y": null}]}, "inputs": null}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		const maxRows = 1000
		lim := limits{maxRows: maxRows, maxValues: int64(len(body))/2 + 1}
		_, d, err := decodeRequest(jsontext.NewDecoder(bytes.NewReader([]byte(body))), newSchema(features, len(body)%2 == 0), lim)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("%v: not a request error (a 400)", err)
			}
			return
		}
		if d.Rows < 0 || d.Rows > maxRows {
			t.Fatalf("%d rows accepted", d.Rows)
		}
		for _, c := range d.Columns {
			if len(c.Values) != d.Rows {
				t.Fatalf("column %s: %d values for %d rows", c.Name, len(c.Values), d.Rows)
			}
		}
	})
}

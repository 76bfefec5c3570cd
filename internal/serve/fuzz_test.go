package serve

import (
	"errors"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/valyala/fastjson"
)

// No request body makes parseRequest or decode panic, and what it accepts is consistent.
func FuzzDecode(f *testing.F) {
	features := []data.Feature{{Name: "price"}, {Name: "device", Categorical: true, Categories: []string{"mobile", "desktop"}}}
	for _, seed := range []string{
		`{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 0], [null, 1]]}]}`,
		`{"inputs": [{"name": "price", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "device", "shape": [1], "datatype": "BYTES", "data": ["mobile"]}]}`,
		`{"inputs": [{"name": "x", "shape": [-1, 2], "datatype": "BOOL", "data": [true, false]}]}`,
		`{"inputs": [{"name": "x", "shape": [9999999999, 2], "datatype": "INT64", "data": []}]}`,
		`{"inputs": null}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var p fastjson.Parser
		req, err := parseRequest(&p, []byte(body))
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("%v: not a request error (a 400)", err)
			}
			return
		}
		d, err := decode(req, newSchema(features), 1000)
		if err != nil {
			return
		}
		if d.Rows < 0 || d.Rows > 1000 {
			t.Fatalf("%d rows accepted", d.Rows)
		}
		for _, c := range d.Columns {
			if len(c.Values) != d.Rows {
				t.Fatalf("column %s: %d values for %d rows", c.Name, len(c.Values), d.Rows)
			}
		}
	})
}

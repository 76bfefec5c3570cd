package serve

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ferry-ml/ferry/internal/oip"
)

// The hand-written infer response is encoding/json's, byte for byte, for
// scores across every range of magnitudes (including the 'e' forms under
// 1e-6 and from 1e21, and subnormals) and ids in plain ASCII; for ids
// that encoding/json escapes differently (HTML characters, U+2028, invalid
// UTF-8) it decodes to the same response.
func TestReplyScoresIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scores := []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-7, 3e-10, -2.5e-8, 1e20, 1e21, 1.2345e22, 5e-324,
		math.MaxFloat64, -math.SmallestNonzeroFloat64, 0.1, 1.0 / 3, 123456789.123}
	for i := 0; i < 1000; i++ {
		scores = append(scores, math.Float64frombits(rng.Uint64()&^(0x7ff<<52)|uint64(rng.IntN(2046)+1)<<52))
	}
	for _, id := range []string{"", "req-1", "a b/c\\d\"e\n\t", "<script>&amp;", "line\u2028sep", "bad\xffutf8"} {
		s := &Server{name: "ctr-model", version: "0123456789ab"}
		got := s.appendScores(nil, id, scores)
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(oip.InferResponse{ModelName: s.name, ModelVersion: s.version, ID: id,
			Outputs: []oip.OutputTensor{{Name: "score", Shape: []int64{int64(len(scores)), 1}, Datatype: oip.FP64, Data: scores}}}); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, want.Bytes()) {
			continue
		}
		var g, w oip.InferResponse
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("id %q: the reply is not JSON: %v\n%s", id, err, got)
		}
		if err := json.Unmarshal(want.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) || id == "" || id == "req-1" || id == "a b/c\\d\"e\n\t" {
			t.Errorf("id %q: reply differs from encoding/json's:\n got %.300s\nwant %.300s", id, got, want.Bytes())
		}
	}
}

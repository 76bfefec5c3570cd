package xgboost

import "testing"

// XGBoost writes NaN where a categorical split has no threshold: the
// parser reads bare NaN and infinities as null, and leaves strings alone.
func TestNonFiniteAsNull(t *testing.T) {
	in := `{"a":"NaN \"NaN\" \\","b":[NaN,-Infinity,Infinity,1e5]}`
	want := `{"a":"NaN \"NaN\" \\","b":[null,null,null,1e5]}`
	if got := string(nonFiniteAsNull([]byte(in))); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	plain := []byte(`{"x":[1,2]}`)
	if got := nonFiniteAsNull(plain); &got[0] != &plain[0] {
		t.Error("a document without non-finite numbers was copied")
	}
}

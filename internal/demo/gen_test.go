package demo_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/demo"
)

func generate(t *testing.T, o demo.Options) [][]string {
	t.Helper()
	var b bytes.Buffer
	if err := demo.Write(&b, o); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestShape(t *testing.T) {
	rows := generate(t, demo.Options{Queries: 50, Products: 20, Seed: 1})
	if strings.Join(rows[0], ",") != strings.Join(demo.Columns, ",") {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 1+50*20 {
		t.Fatalf("%d rows, want 1001", len(rows))
	}
	clicks, grades := 0, map[string]int{}
	for _, r := range rows[1:] {
		if r[9] != "0" {
			clicks++
		}
		grades[r[10]]++
	}
	// Position bias and grade-dependent clicks give a click rate of a few
	// tenths at most: between 5 % and 40 % of the shown products.
	if rate := float64(clicks) / 1000; rate < 0.05 || rate > 0.4 {
		t.Errorf("click rate %.3f", rate)
	}
	for g := 0; g < 4; g++ {
		if grades[strconv.Itoa(g)] != 250 {
			t.Errorf("grade %d on %d rows, want a quarter (250)", g, grades[strconv.Itoa(g)])
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := generate(t, demo.Options{Queries: 10, Products: 10, Seed: 3})
	b := generate(t, demo.Options{Queries: 10, Products: 10, Seed: 3})
	c := generate(t, demo.Options{Queries: 10, Products: 10, Seed: 4})
	if strings.Join(a[5], ",") != strings.Join(b[5], ",") {
		t.Error("the same seed gave other data")
	}
	if strings.Join(a[5], ",") == strings.Join(c[5], ",") {
		t.Error("another seed gave the same data")
	}
}

package linear_test

import (
	"context"
	"math"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/linear"
)

// Ridge regression on y = 3x + 1 with C large is ordinary least squares: the
// weight on the standardised x is 3·std(x) and the bias is 1 + 3·mean(x).
func TestRidgeRecoversALine(t *testing.T) {
	xs := []float32{0, 1, 2, 3, 4}
	d := &data.Dataset{Rows: 5, Columns: []data.Column{{Name: "x", Values: xs}}}
	for _, x := range xs {
		d.Label = append(d.Label, 3*float64(x)+1)
	}
	p := linear.DefaultParams("regression")
	p.C = 1e9
	res, err := linear.Train(context.Background(), p, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	std := math.Sqrt(2) // population std of 0..4
	if w := res.Model.Weights[0]; math.Abs(w-3*std) > 1e-4 {
		t.Errorf("weight %v, want %v", w, 3*std)
	}
	if b := res.Model.Bias; math.Abs(b-7) > 1e-4 {
		t.Errorf("bias %v, want 7 (3·mean + 1)", b)
	}
}

// Logistic regression matches scikit-learn 1.2.1:
// LogisticRegression(C=1).fit(StandardScaler().fit_transform(x), y) on
// x = [0,1,2,3,4,5], y = [0,0,1,0,1,1] gives coef_ 0.86926753, intercept_ -4e-17 (run here with Debian's python3-sklearn).
func TestLogisticMatchesScikitLearn(t *testing.T) {
	d := &data.Dataset{Rows: 6, Columns: []data.Column{{Name: "x", Values: []float32{0, 1, 2, 3, 4, 5}}},
		Label: []float64{0, 0, 1, 0, 1, 1}}
	res, err := linear.Train(context.Background(), linear.DefaultParams("binary"), d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Model.Weights[0]; math.Abs(w-0.86926753) > 1e-6 {
		t.Errorf("weight %v, want 0.86926753 (scikit-learn)", w)
	}
	if b := res.Model.Bias; math.Abs(b) > 1e-6 {
		t.Errorf("bias %v, want 0 (scikit-learn)", b)
	}
}

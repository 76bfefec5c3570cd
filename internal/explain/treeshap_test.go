package explain

import (
	"math"
	"testing"
)

// stump splits feature 1 at 0: left leaf -1 (cover 3), right leaf 2
// (cover 1).
type stump struct{}

func (stump) Children(n int) (int, int) {
	if n == 0 {
		return 1, 2
	}
	return -1, -1
}
func (stump) Feature(int) int                    { return 1 }
func (stump) Cover(n int) float64                { return []float64{4, 3, 1}[n] }
func (stump) LeafValue(n int) float64            { return []float64{0, -1, 2}[n] }
func (stump) GoesLeft(_ int, row []float64) bool { return row[1] <= 0 }

// TestStump checks the values worked by hand: the expected value is
// (3*-1 + 1*2)/4 = -0.25; a row going right gets 2 - (-0.25) = 2.25 on
// feature 1 and nothing on feature 0; Cost is 2 leaves times (1+1).
func TestStump(t *testing.T) {
	phi := make([]float64, 3)
	Contributions([]Tree{stump{}}, []float64{5, 1}, phi)
	for i, want := range []float64{0, 2.25, -0.25} {
		if math.Abs(phi[i]-want) > 1e-12 {
			t.Errorf("phi[%d] = %v, want %v", i, phi[i], want)
		}
	}
	if got := MeanAbs([]Tree{stump{}}, [][]float64{{0, 1}, {0, -1}}, 2); math.Abs(got[1]-(2.25+0.75)/2) > 1e-12 || got[0] != 0 {
		t.Errorf("MeanAbs = %v, want [0 1.5]", got)
	}
	if c := Cost([]Tree{stump{}}); c != 4 {
		t.Errorf("Cost = %v, want 4", c)
	}
}

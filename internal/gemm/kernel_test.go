package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randMatrix is r x c values in [-1, 1).
func randMatrix(rng *rand.Rand, r, c int) []float32 {
	x := make([]float32, r*c)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	return x
}

// The product kernel against a float64 product of the same float32
// values. Tolerance: 1e-6 relative to Σ|a·b| of each output (a float32
// dot product of k terms is within about k·2^-24 of that sum; k <= 1024
// here), which no wrong index or dropped tail could meet.
func TestProductMatchesFloat64(t *testing.T) {
	for _, avx := range []bool{haveAVX2, false} {
		t.Run(fmt.Sprintf("avx2=%v", avx), func(t *testing.T) {
			defer func(was bool) { haveAVX2 = was }(haveAVX2)
			haveAVX2 = avx
			checkProduct(t)
		})
	}
}

func checkProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, k, n int }{{1, 1, 1}, {1, 3, 5}, {3, 7, 9}, {1, 28, 64}, {5, 33, 17}, {256, 64, 32}, {2, 1024, 13}, {7, 15, 4}, {4, 16, 8}, {3, 20, 150}, {6, 9, 70}, {9, 1, 65}} {
		a, b := randMatrix(rng, s.m, s.k), randMatrix(rng, s.k, s.n)
		p := Pack(b, s.k, s.n, false)
		out := make([]float32, s.m*s.n)
		p.Product(a, s.m, out)
		for r := 0; r < s.m; r++ {
			for j := 0; j < s.n; j++ {
				var want, scale float64
				for i := 0; i < s.k; i++ {
					x := float64(a[r*s.k+i]) * float64(b[i*s.n+j])
					want, scale = want+x, scale+math.Abs(x)
				}
				if got := float64(out[r*s.n+j]); math.Abs(got-want) > 1e-6*scale+1e-12 {
					t.Fatalf("%dx%d by %dx%d: out[%d,%d] = %g, float64 says %g (scale %g)", s.m, s.k, s.k, s.n, r, j, got, want, scale)
				}
			}
		}
	}
}

// BenchmarkProduct times the kernel alone on the layer shapes of the
// served models: the HIGGS MLP's first layer, and the wider MLP's
// 256x1024 and 1024x512 layers, at 1 and 256 rows.
func BenchmarkProduct(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, k, n int }{{1, 28, 64}, {256, 28, 64}, {1, 256, 1024}, {256, 256, 1024}, {1, 1024, 512}, {32, 1024, 512}} {
		a := randMatrix(rng, s.m, s.k)
		p := Pack(randMatrix(rng, s.k, s.n), s.k, s.n, false)
		out := make([]float32, s.m*s.n)
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			for b.Loop() {
				p.Product(a, s.m, out)
			}
			b.ReportMetric(float64(2*s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// A row's outputs are the same bits whatever rows share its call: alone,
// paired, or the odd last row (a served request's scores must not depend
// on the requests batched with it: rows of a block of four go through
// one kernel, the last rows through the one-row kernel). Both paths.
func TestProductIndependentOfBatch(t *testing.T) {
	for _, avx := range []bool{haveAVX2, false} {
		defer func(was bool) { haveAVX2 = was }(haveAVX2)
		haveAVX2 = avx
		rng := rand.New(rand.NewPCG(3, 4))
		const m, k, n = 7, 37, 70
		a := randMatrix(rng, m, k)
		p := Pack(randMatrix(rng, k, n), k, n, false)
		all := make([]float32, m*n)
		p.Product(a, m, all)
		for r := 0; r < m; r++ {
			alone := make([]float32, n)
			p.Product(a[r*k:(r+1)*k], 1, alone)
			for j := range alone {
				if alone[j] != all[r*n+j] {
					t.Fatalf("avx2=%v: row %d output %d: %v alone, %v among %d rows", avx, r, j, alone[j], all[r*n+j], m)
				}
			}
		}
	}
}

package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randMatrix is r x c values in [-1, 1).
func randMatrix[T Float](rng *rand.Rand, r, c int) []T {
	x := make([]T, r*c)
	for i := range x {
		x[i] = T(rng.Float64()*2 - 1)
	}
	return x
}

// bothPaths runs f on every path the CPU has: the AVX-512 kernel (with
// the AVX2 one-row kernel), the AVX2 kernels alone, and the Go loops.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	for _, path := range []struct {
		name         string
		avx2, avx512 bool
		have         bool // whether this CPU can run the path
	}{{"avx512", true, true, haveAVX512}, {"avx2", true, false, haveAVX2}, {"go", false, false, true}} {
		t.Run(path.name, func(t *testing.T) {
			if !path.have {
				t.Skip("the CPU has no " + path.name)
			}
			defer func(avx2, avx512 bool) { haveAVX2, haveAVX512 = avx2, avx512 }(haveAVX2, haveAVX512)
			haveAVX2, haveAVX512 = path.avx2, path.avx512
			f(t)
		})
	}
}

// The AVX-512 kernel gives the AVX2 kernels' bits, output for output: a
// model scores the same on either kind of CPU.
func TestAVX512MatchesAVX2(t *testing.T) {
	if !haveAVX512 {
		t.Skip("the CPU has no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ m, k, n int }{{4, 28, 64}, {9, 33, 17}, {256, 64, 100}, {8, 1024, 40}} {
		a := randMatrix[float32](rng, s.m, s.k)
		p := Pack(randMatrix[float32](rng, s.k, s.n), s.k, s.n, false)
		wide, narrow := make([]float32, s.m*s.n), make([]float32, s.m*s.n)
		p.Product(a, s.m, wide)
		haveAVX512 = false
		p.Product(a, s.m, narrow)
		haveAVX512 = true
		for i := range wide {
			if math.Float32bits(wide[i]) != math.Float32bits(narrow[i]) {
				t.Fatalf("%dx%dx%d output %d: AVX-512 %v, AVX2 %v", s.m, s.k, s.n, i, wide[i], narrow[i])
			}
		}
	}
}

// The product against a float64 product of the same values, on shapes
// with full and partial blocks of rows, panels and sets of four panels.
// Tolerance, relative to Σ|a·b| of each output: 1e-6 in float32 (a
// float32 sum of k terms is within about k·2^-24 of that sum; k <= 1024
// here) and 1e-13 in float64 (k·2^-53), which no wrong index or dropped
// tail could meet.
func TestProductMatchesFloat64(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		checkProduct[float32](t, 1e-6)
		checkProduct[float64](t, 1e-13)
	})
}

func checkProduct[T Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, k, n int }{{1, 1, 1}, {1, 3, 5}, {3, 7, 9}, {1, 28, 64}, {5, 33, 17}, {256, 64, 32}, {2, 1024, 13},
		{7, 15, 4}, {4, 16, 8}, {3, 20, 150}, {6, 9, 70}, {9, 1, 65}} {
		for _, transposed := range []bool{false, true} {
			a, b := randMatrix[T](rng, s.m, s.k), randMatrix[T](rng, s.k, s.n)
			at := func(i, j int) T { return b[i*s.n+j] }
			if transposed { // b holds B's transpose, [n, k]
				at = func(i, j int) T { return b[j*s.k+i] }
			}
			p := Pack(b, s.k, s.n, transposed)
			out := make([]T, s.m*s.n)
			p.Product(a, s.m, out)
			for r := 0; r < s.m; r++ {
				for j := 0; j < s.n; j++ {
					var want, scale float64
					for i := 0; i < s.k; i++ {
						x := float64(a[r*s.k+i]) * float64(at(i, j))
						want, scale = want+x, scale+math.Abs(x)
					}
					if got := float64(out[r*s.n+j]); math.Abs(got-want) > tol*scale+1e-300 {
						t.Fatalf("%T %dx%d by %dx%d (transposed %v): out[%d,%d] = %g, float64 says %g (scale %g)", a[0], s.m, s.k, s.k, s.n, transposed, r, j, got, want, scale)
					}
				}
			}
		}
	}
}

// BenchmarkProduct times the kernel alone on the layer shapes of the
// served models: the HIGGS MLP's first layer, and the wider MLP's
// 256x1024 and 1024x512 layers, at 1 and 256 rows; and in float64 the
// shapes of a training step (batches of 200 through 28-64-32).
func BenchmarkProduct(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, k, n int }{{1, 28, 64}, {256, 28, 64}, {1, 256, 1024}, {256, 256, 1024}, {1, 1024, 512}, {32, 1024, 512}} {
		benchProduct[float32](b, rng, s.m, s.k, s.n)
	}
	for _, s := range []struct{ m, k, n int }{{200, 28, 64}, {200, 64, 32}, {64, 200, 32}} {
		benchProduct[float64](b, rng, s.m, s.k, s.n)
	}
}

func benchProduct[T Float](b *testing.B, rng *rand.Rand, m, k, n int) {
	a := randMatrix[T](rng, m, k)
	p := Pack(randMatrix[T](rng, k, n), k, n, false)
	out := make([]T, m*n)
	b.Run(fmt.Sprintf("%T/%dx%dx%d", a[0], m, k, n), func(b *testing.B) {
		for b.Loop() {
			p.Product(a, m, out)
		}
		b.ReportMetric(float64(2*m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// A row's outputs are the same bits whatever rows share its call: alone,
// or among others (a served request's scores must not depend on the
// requests batched with it: rows of a block of four go through one
// kernel, the last rows through the one-row kernel). Both paths, both
// types.
func TestProductIndependentOfBatch(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		checkBatchIndependent[float32](t)
		checkBatchIndependent[float64](t)
	})
}

func checkBatchIndependent[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, k, n = 7, 37, 70
	a := randMatrix[T](rng, m, k)
	p := Pack(randMatrix[T](rng, k, n), k, n, false)
	all := make([]T, m*n)
	p.Product(a, m, all)
	for r := 0; r < m; r++ {
		alone := make([]T, n)
		p.Product(a[r*k:(r+1)*k], 1, alone)
		for j := range alone {
			if alone[j] != all[r*n+j] {
				t.Fatalf("%T row %d output %d: %v alone, %v among %d rows", a[0], r, j, alone[j], all[r*n+j], m)
			}
		}
	}
}

package gbdt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

func benchFile(b *testing.B, path string, o data.Options, p Params) {
	d, err := data.Read(context.Background(), path, o)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Train(context.Background(), p, d, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkShop(b *testing.B) {
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.Threads = 200, 4, 1
	benchFile(b, "/work/shared/datasets/online-shoppers-intention/online_shoppers_intention.csv", data.Options{Label: "Revenue"}, p)
}

func BenchmarkRank(b *testing.B) {
	p := DefaultParams(LambdaRank)
	p.Trees, p.MaxDepth, p.Threads = 100, 6, 1
	benchFile(b, "/work/shared/datasets/lightgbm-lambdarank/rank.train", data.Options{}, p)
}

// BenchmarkLeafwise trains as bench/lightgbmbench does, on one thread and
// two: 100 trees of 31 leaves grown best first on LightGBM's HIGGS and
// ranking examples.
func BenchmarkLeafwise(b *testing.B) {
	const shared = "/work/shared/datasets/"
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprint("higgs-", threads), func(b *testing.B) {
			p := DefaultParams(Binary)
			p.Trees, p.MaxDepth, p.MaxLeaves, p.Threads = 100, 0, 31, threads
			p.MinDataInLeaf, p.MinChildWeight, p.Lambda = 20, 1e-3, 0
			benchFile(b, shared+"lightgbm-binary/binary.train", data.Options{Format: data.TSV, Header: "false", Label: "0"}, p)
		})
		b.Run(fmt.Sprint("rank-", threads), func(b *testing.B) {
			p := DefaultParams(LambdaRank)
			p.Trees, p.MaxDepth, p.MaxLeaves, p.Threads = 100, 0, 31, threads
			p.MinDataInLeaf, p.MinChildWeight, p.Subsample, p.Seed = 50, 5, 0.9, 7
			benchFile(b, shared+"lightgbm-lambdarank/rank.train", data.Options{}, p)
		})
	}
}

// BenchmarkPredict scores 100 rows of 15 features with 100 trees of depth 6:
// one ranking request's worth for ferry-serve.
func BenchmarkPredict(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &data.Dataset{Rows: 5000}
	for j := 0; j < 15; j++ {
		c := data.Column{Name: fmt.Sprint("f", j)}
		for i := 0; i < d.Rows; i++ {
			c.Values = append(c.Values, float32(rng.NormFloat64()))
		}
		d.Columns = append(d.Columns, c)
	}
	for i := 0; i < d.Rows; i++ {
		d.Label = append(d.Label, float64(rng.IntN(2)))
	}
	p := DefaultParams(Binary)
	p.Trees, p.MaxDepth, p.MinChildWeight = 100, 6, 0
	res, err := Train(context.Background(), p, d, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]int, 100)
	for i := range rows {
		rows[i] = i
	}
	req := d.Subset(rows)
	for b.Loop() {
		res.Model.PredictDataset(req)
	}
}

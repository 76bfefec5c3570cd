package gbdt

import (
	"context"
	"testing"

	"github.com/ferry-ml/ferry/internal/data"
)

func benchFile(b *testing.B, path string, o data.Options, p Params) {
	d, err := data.Read(path, o)
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

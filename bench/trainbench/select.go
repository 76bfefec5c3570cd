package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ferry-ml/ferry/bench/internal/benchkit"
	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/gbdt"
	"github.com/ferry-ml/ferry/internal/metrics"
)

// The binary task's documented parameter set is chosen without the test
// rows: five-fold cross-validation on the training rows of online shoppers
// and HIGGS over a grid fixed in advance, each fold stopping early on its
// own validation rows; the set with the best mean AUC over both data sets
// wins, its trees are the mean of the folds' best rounds, and only then is it
// trained on all training rows and scored once on each test set.
var (
	selectRates  = []float64{0.05, 0.1, 0.3}
	selectDepths = []int{4, 6}
)

const (
	selectFolds    = 5
	selectMaxTrees = 1000
	selectPatience = 30
	selectThreads  = 0 // all cores: only quality is measured here
)

type candidate struct {
	rate  float64
	depth int
}

func runSelect(dir string) error {
	sets, err := benchkit.BinarySets(dir)
	if err != nil {
		return err
	}
	names := []string{"shoppers", "higgs"}
	fmt.Printf("Measured %s: %d-fold cross-validation on the training rows, at most %d trees, early stopping after %d rounds.\n\n",
		time.Now().UTC().Format("2006-01-02"), selectFolds, selectMaxTrees, selectPatience)
	fmt.Println("| learning rate | depth | shoppers CV AUC | higgs CV AUC | mean | mean best round |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|")
	var best candidate
	bestScore, bestTrees := math.Inf(-1), 0
	for _, rate := range selectRates {
		for _, depth := range selectDepths {
			c := candidate{rate, depth}
			var aucs []float64
			rounds, folds := 0, 0
			for _, name := range names {
				p := gbdt.DefaultParams(gbdt.Binary)
				p.LearningRate, p.MaxDepth, p.Trees, p.EarlyStopping, p.Threads = c.rate, c.depth, selectMaxTrees, selectPatience, selectThreads
				auc, r, err := crossValidate(sets[name][0], p)
				if err != nil {
					return err
				}
				aucs = append(aucs, auc)
				rounds += r
				folds += selectFolds
			}
			mean := (aucs[0] + aucs[1]) / 2
			trees := int(math.Round(float64(rounds) / float64(folds)))
			fmt.Printf("| %.2f | %d | %.4f | %.4f | %.4f | %d |\n", rate, depth, aucs[0], aucs[1], mean, trees)
			if mean > bestScore {
				best, bestScore, bestTrees = c, mean, trees
			}
		}
	}
	fmt.Printf("\nChosen: learning rate %.2f, depth %d, %d trees. On the test rows, once:\n\n", best.rate, best.depth, bestTrees)
	fmt.Println("| data set | test AUC | logloss |")
	fmt.Println("|---|---:|---:|")
	for _, name := range names {
		p := gbdt.DefaultParams(gbdt.Binary)
		p.LearningRate, p.MaxDepth, p.Trees, p.Threads = best.rate, best.depth, bestTrees, selectThreads
		r, err := gbdt.Train(context.Background(), p, sets[name][0], nil, nil)
		if err != nil {
			return err
		}
		test := sets[name][1]
		s := r.Model.PredictDataset(test)
		fmt.Printf("| %s | %.4f | %.4f |\n", name, metrics.AUC(test.Label, s), metrics.LogLoss(test.Label, s))
	}
	return nil
}

// crossValidate returns the mean validation AUC over the folds (rows by
// index modulo selectFolds) and the sum of their best rounds. With early
// stopping each fold watches its validation rows; without, it trains
// p.Trees trees and never sees them.
func crossValidate(train *data.Dataset, p gbdt.Params) (float64, int, error) {
	var auc float64
	rounds := 0
	for k := 0; k < selectFolds; k++ {
		fold := benchkit.Split(train, func(i int) bool { return i%selectFolds == k })
		var watch *data.Dataset
		if p.EarlyStopping > 0 {
			watch = fold[1]
		}
		r, err := gbdt.Train(context.Background(), p, fold[0], watch, nil)
		if err != nil {
			return 0, 0, err
		}
		auc += metrics.AUC(fold[1].Label, r.Model.PredictDataset(fold[1]))
		rounds += r.BestRound
	}
	return auc / selectFolds, rounds, nil
}

package gbdt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/metrics"
)

// Progress reports one boosting round.
type Progress struct {
	Round  int // 1-based
	Rounds int
	Metric string // name of the metric, such as logloss or ndcg@10
	// Train is the metric on the training data, computed on the rounds that
	// Recorded says (about 50 in all, the first and last included); NaN on
	// the others, because it costs a pass over every row.
	Train          float64
	Recorded       bool
	Valid          float64 // NaN without validation data
	BestRound      int
	Elapsed        time.Duration
	Remaining      time.Duration // estimated
	Stopped        bool          // early stopping ended training at this round
	HigherIsBetter bool          // for the metric
}

// Result is a trained model and how training went.
type Result struct {
	Model *Model
	// Curve holds every round's metrics; rounds after the best one are cut
	// from the model when early stopping ran.
	Curve     []Progress
	BestRound int
	// TrainScores are Model's predictions on the training rows, the
	// margins training kept for every row, transformed: the same numbers
	// as Model.PredictDataset(train), without the pass over every row. Nil
	// when early stopping cut rounds from the model.
	TrainScores []float64
}

// Train fits a model to train, watching valid (may be nil) for early
// stopping. The columns of both must match (read valid with train's schema).
// progress, when not nil, is called after every round.
func Train(ctx context.Context, p Params, train, valid *data.Dataset, progress func(Progress)) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if train.Label == nil {
		return nil, fmt.Errorf("gbdt: the training data has no labels")
	}
	trainGroups, validGroups, err := queryGroups(p, train, valid)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	fbs := cutFeatures(train, p.MaxBin, p.ThreadCount())
	g := newGrower(p, fbs, binColumns(train, fbs, p.ThreadCount()), train.Rows)
	g.grad = make([]gradPair, train.Rows)

	model := &Model{Objective: p.Objective, BaseScore: baseScore(p.Objective, train.Label), NumFeatures: len(train.Columns)}
	margin := filled(train.Rows, model.BaseScore)
	var validMargin []float64
	if valid != nil {
		validMargin = filled(valid.Rows, model.BaseScore)
	}
	eval := evaluator(p)
	rng := rand.New(rand.NewPCG(uint64(p.Seed), 0x5eed))
	allRows := rowRange(train.Rows)
	res := &Result{Model: model}
	best, bestRound := math.NaN(), 0
	recordEvery := max(1, p.Trees/25)
	for round := 1; round <= p.Trees; round++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("gbdt: stopped at round %d: %w", round, err)
		}
		gradients(p, train.Label, margin, trainGroups, g.grad)
		rows := sampleRows(rng, allRows, p.Subsample)
		g.features = sampleFeatures(rng, len(fbs), p.Colsample)
		sampled := len(rows) == len(allRows)
		tree := g.grow(rows, func(leafRows []int32, value float64) {
			if sampled {
				for _, r := range leafRows {
					margin[r] += value
				}
			}
		})
		model.Trees = append(model.Trees, tree)
		if !sampled {
			addTree(&tree, train, margin, p.ThreadCount())
		}
		pr := Progress{Round: round, Rounds: p.Trees, Metric: eval.name, HigherIsBetter: eval.higherIsBetter, Train: math.NaN(), Valid: math.NaN()}
		if valid != nil {
			addTree(&tree, valid, validMargin, p.ThreadCount())
			pr.Valid = eval.fn(valid.Label, validMargin, validGroups, model)
			if math.IsNaN(best) || eval.better(pr.Valid, best) {
				best, bestRound = pr.Valid, round
			}
		} else {
			bestRound = round
		}
		pr.BestRound = bestRound
		pr.Elapsed = time.Since(start)
		pr.Remaining = time.Duration(float64(pr.Elapsed) / float64(round) * float64(p.Trees-round))
		stop := valid != nil && p.EarlyStopping > 0 && round-bestRound >= p.EarlyStopping
		pr.Stopped = stop
		// The training metric costs a pass over every row: it is kept for
		// about 25 rounds of the curve, not all.
		if pr.Recorded = round == 1 || round == p.Trees || stop || round%recordEvery == 0; pr.Recorded {
			pr.Train = eval.fn(train.Label, margin, trainGroups, model)
		}
		res.Curve = append(res.Curve, pr)
		if progress != nil {
			progress(pr)
		}
		if stop {
			break
		}
	}
	res.TrainScores = trainScores(model, margin, bestRound)
	model.Trees = model.Trees[:bestRound]
	res.BestRound = bestRound
	return res, nil
}

// trainScores turns the training margins into the model's scores, in place,
// when the model keeps every round trained (bestRound of them); nil when
// early stopping cut rounds, whose trees the margins include.
func trainScores(m *Model, margin []float64, bestRound int) []float64 {
	if bestRound != len(m.Trees) {
		return nil
	}
	for i, v := range margin {
		margin[i] = m.Transform(v)
	}
	return margin
}

// queryGroups returns the rows of each query of train and valid (nil
// without groups); lambdarank needs them in both.
func queryGroups(p Params, train, valid *data.Dataset) (trainGroups, validGroups [][]int, err error) {
	trainGroups = train.Groups()
	if p.Objective == LambdaRank {
		if trainGroups == nil {
			return nil, nil, fmt.Errorf("gbdt: %w", input.Paramf("group", "lambdarank needs query groups: name their column with %s, or give LibSVM rows qid: or a .query file"))
		}
		if valid != nil {
			if validGroups = valid.Groups(); validGroups == nil {
				return nil, nil, fmt.Errorf("gbdt: lambdarank needs query groups in the validation data too")
			}
		}
	}
	return trainGroups, validGroups, nil
}

// rowRange is the rows 0 to n-1.
func rowRange(n int) []int32 {
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	return rows
}

func filled(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// addTree adds a tree's output to every row's margin.
func addTree(t *Tree, d *data.Dataset, margin []float64, threads int) {
	parallelRows(d.Rows, threads, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			margin[i] += t.predictColumns(d.Columns, i)
		}
	})
}

func sampleRows(rng *rand.Rand, all []int32, share float64) []int32 {
	if share >= 1 {
		return all
	}
	var rows []int32
	for _, r := range all {
		if rng.Float64() < share {
			rows = append(rows, r)
		}
	}
	return rows
}

func sampleFeatures(rng *rand.Rand, n int, share float64) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if share >= 1 {
		return all
	}
	k := max(1, int(math.Round(share*float64(n))))
	rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	picked := all[:k]
	slices.Sort(picked)
	return picked
}

// metric is the number early stopping watches.
type metric struct {
	name           string
	higherIsBetter bool
	fn             func(labels, margin []float64, groups [][]int, m *Model) float64
}

func (m metric) better(a, b float64) bool {
	if m.higherIsBetter {
		return a > b
	}
	return a < b
}

func evaluator(p Params) metric {
	switch p.Objective {
	case Binary:
		// Log-loss from margins, log(1 + e^m) - y m, clipped as
		// metrics.LogLoss clips probabilities; summed in chunks of a fixed
		// size, over the threads, and the chunks in order: the same number
		// whatever the threads.
		return metric{name: "logloss", fn: func(labels, margin []float64, _ [][]int, m *Model) float64 {
			const clip = 34.538776394910684 // logit(1 - 1e-15)
			const chunk = 1 << 14
			sums := make([]float64, (len(margin)+chunk-1)/chunk)
			parallelRange(len(sums), p.ThreadCount(), 2, func(lo, hi int) {
				for c := lo; c < hi; c++ {
					var s float64
					for i := c * chunk; i < min((c+1)*chunk, len(margin)); i++ {
						v := min(max(margin[i], -clip), clip)
						s += math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) - labels[i]*v
					}
					sums[c] = s
				}
			})
			var s float64
			for _, c := range sums {
				s += c
			}
			return s / float64(len(margin))
		}}
	case LambdaRank:
		return metric{name: fmt.Sprintf("ndcg@%d", p.EvalAt), higherIsBetter: true, fn: func(labels, margin []float64, groups [][]int, _ *Model) float64 {
			return metrics.NDCG(labels, margin, groups, p.EvalAt)
		}}
	}
	return metric{name: "rmse", fn: func(labels, margin []float64, _ [][]int, _ *Model) float64 {
		return metrics.RMSE(labels, margin)
	}}
}

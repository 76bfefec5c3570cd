package search

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// Split assigns each row to one of k folds, shuffled by the seed:
//   - with groups (ranking), whole queries, each to the fold with the fewest
//     rows so far, so that a query is never split between training and
//     scoring;
//   - stratified (binary labels), each class dealt round the folds in turn,
//     so every fold has the class balance of the whole;
//   - otherwise rows dealt round the folds.
//
// It returns the fold of every row. Fewer queries, rows or members of a
// class than folds is an error: some fold would lack them.
func Split(labels []float64, group []int32, k int, stratify bool, seed int64) ([]int, error) {
	n := len(labels)
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	fold := make([]int, n)
	switch {
	case group != nil:
		return splitGroups(group, k, r)
	case stratify:
		classes := map[float64][]int{}
		for i, y := range labels {
			classes[y] = append(classes[y], i)
		}
		next := 0
		for _, y := range slices.Sorted(maps.Keys(classes)) {
			rows := classes[y]
			if len(rows) < k {
				return nil, fmt.Errorf("label %v has %d rows, fewer than the %d folds: use fewer folds", y, len(rows), k)
			}
			r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
			for _, i := range rows {
				fold[i] = next % k
				next++
			}
		}
	default:
		if n < k {
			return nil, fmt.Errorf("%d rows, fewer than the %d folds: use fewer folds", n, k)
		}
		for j, i := range r.Perm(n) {
			fold[i] = j % k
		}
	}
	return fold, nil
}

func splitGroups(group []int32, k int, r *rand.Rand) ([]int, error) {
	rows := map[int32]int{}
	for _, g := range group {
		rows[g]++
	}
	if len(rows) < k {
		return nil, fmt.Errorf("%d queries, fewer than the %d folds: use fewer folds", len(rows), k)
	}
	ids := slices.Sorted(maps.Keys(rows))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	foldOf := make(map[int32]int, len(ids))
	size := make([]int, k)
	for _, g := range ids {
		f := 0
		for j := 1; j < k; j++ {
			if size[j] < size[f] {
				f = j
			}
		}
		foldOf[g] = f
		size[f] += rows[g]
	}
	fold := make([]int, len(group))
	for i, g := range group {
		fold[i] = foldOf[g]
	}
	return fold, nil
}

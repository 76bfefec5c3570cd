// Package gbdt trains and scores histogram gradient-boosted decision trees,
// pure Go: binary log-loss, squared error, and LambdaMART for ranking.
//
// The algorithm is XGBoost's second-order boosting on LightGBM-style
// histograms:
//   - every feature is cut into at most MaxBin bins (quantiles of its values);
//     missing values get a bin of their own, and each split sends them to the
//     side that gains more (the default direction);
//   - trees grow best-first, the leaf with the largest gain split next, within
//     MaxDepth and MaxLeaves; the gain of a split is
//     1/2 [G_L^2/(H_L+λ) + G_R^2/(H_R+λ) - G^2/(H+λ)] - γ and a leaf's value is
//     -η G/(H+λ), for sums G and H of gradients and hessians;
//   - a node's histogram is built for the smaller child only; the larger one is
//     the parent's minus it;
//   - histograms are built a feature at a time over column-major bins, with
//     the node's gradients gathered in row order first, as LightGBM's
//     column-wise build; on sparse data (most values in their feature's most
//     common bin) from each row's other entries, the common bin filled in as
//     the rest;
//   - a leaf searches only the features that had a split within
//     min-data-in-leaf and min-child-weight in its parent: a feature with
//     none has none below (LightGBM's is_splittable, without its gain part),
//     so the trees are the ones the search over every feature gives;
//   - categorical features split into two sets of categories, found by sorting
//     categories by G/(H+smoothing) as LightGBM does;
//   - LambdaMART's gradients are LightGBM's lambdarank: pairwise logistic
//     lambdas weighted by the change in NDCG of swapping the pair, with pairs
//     limited to the top TruncationLevel positions and per-query normalisation.
//
// Training is deterministic for a given seed: histograms are summed in row
// order, one feature per goroutine, and large nodes partitioned in chunks
// joined in order, whatever the number of threads.
package gbdt

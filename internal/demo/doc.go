// Package demo generates the e-commerce search data set that `ferry demo`
// runs the loop on: queries, the products each query returns, their
// features, and the clicks and purchases of simulated shoppers.
//
// Shoppers follow a hidden utility, so the best possible ranking is known:
//
//	utility = 2.0·text_match + 0.8·(rating - 3) - 0.9·log(price/50)
//	        + 0.35·log1p(popularity) + 0.6·discount + category affinity + N(0, 0.5²)
//
// A product's relevance grade (0-3) is its utility's quartile within the
// query. The search engine of the day shows products in an order that only
// half follows relevance; a shopper looks at position p with probability
// 1/p^0.7 (position bias), clicks a product she looked at with probability
// 0.05, 0.2, 0.45 or 0.8 by grade, and buys a clicked product with
// probability 0.25·grade/3. The label a model learns from is 0 (nothing),
// 1 (click) or 2 (purchase); the grade itself stays hidden in the column
// relevance, for judging models against the truth.
package demo

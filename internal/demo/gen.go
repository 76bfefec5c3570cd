package demo

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
)

// Categories of the catalogue.
var Categories = []string{"shoes", "shirts", "bags", "watches", "jackets"}

// Columns of the generated CSV, in order.
var Columns = []string{"query", "product", "position", "price", "rating", "popularity", "discount", "category", "text_match", "label", "relevance"}

// Options size the data set.
type Options struct {
	Queries  int // number of queries
	Products int // products per query
	Seed     uint64
}

// Write generates the data set and writes it as CSV, one row per product
// shown for a query, in display order.
func Write(w io.Writer, o Options) error {
	rng := rand.New(rand.NewPCG(o.Seed, 0xdec0))
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "query,product,position,price,rating,popularity,discount,category,text_match,label,relevance")
	type product struct {
		id                                     int
		price, rating, popularity, discount, m float64
		category                               int
		utility                                float64
		grade                                  int
		shown                                  float64
	}
	for q := 0; q < o.Queries; q++ {
		// Each query prefers one category a little.
		favourite := rng.IntN(len(Categories))
		ps := make([]product, o.Products)
		for i := range ps {
			p := &ps[i]
			p.id = q*1000 + i
			p.price = math.Round(math.Exp(3.2+rng.NormFloat64()*0.8)*100) / 100
			p.rating = math.Round(min(5, max(1, 3.6+rng.NormFloat64()*0.8))*10) / 10
			p.popularity = math.Floor(math.Exp(rng.NormFloat64()*1.5 + 3))
			p.discount = 0
			if rng.Float64() < 0.3 {
				p.discount = math.Round(rng.Float64()*0.5*100) / 100
			}
			p.category = rng.IntN(len(Categories))
			p.m = math.Round(rng.Float64()*1000) / 1000
			affinity := 0.0
			if p.category == favourite {
				affinity = 0.7
			}
			p.utility = 2*p.m + 0.8*(p.rating-3) - 0.9*math.Log(p.price/50) + 0.35*math.Log1p(p.popularity) +
				0.6*p.discount + affinity + rng.NormFloat64()*0.5
		}
		// Grades: quartiles of utility within the query.
		order := make([]int, len(ps))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return ps[order[a]].utility < ps[order[b]].utility })
		for rank, i := range order {
			ps[i].grade = rank * 4 / len(ps)
		}
		// Today's engine: half relevance, half noise.
		for i := range ps {
			ps[i].shown = float64(ps[i].grade) + rng.NormFloat64()*1.5
		}
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].shown > ps[b].shown })
		clickP := []float64{0.05, 0.2, 0.45, 0.8}
		for pos, p := range ps {
			label := 0
			if rng.Float64() < math.Pow(float64(pos+1), -0.7) && rng.Float64() < clickP[p.grade] {
				label = 1
				if rng.Float64() < 0.25*float64(p.grade)/3 {
					label = 2
				}
			}
			fmt.Fprintf(bw, "q%04d,p%06d,%d,%.2f,%.1f,%.0f,%.2f,%s,%.3f,%d,%d\n",
				q, p.id, pos+1, p.price, p.rating, p.popularity, p.discount, Categories[p.category], p.m, label, p.grade)
		}
	}
	return bw.Flush()
}

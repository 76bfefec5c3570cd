package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ferry-ml/ferry/internal/data"
)

// runScaling trains both programs on generated HIGGS-like files of each row
// count, with the HIGGS task's parameters on all cores, once each, and
// compares the models on the real HIGGS test file.
func runScaling(work, lgb, ferry, datasets string, counts []int) error {
	src := filepath.Join(datasets, "lightgbm-binary")
	seed, err := data.Read(context.Background(), filepath.Join(src, "binary.train"),
		data.Options{Format: data.TSV, Header: "false", Label: "0"})
	if err != nil {
		return err
	}
	threads := 2
	fmt.Printf("Scaling: rows resampled from HIGGS binary.train with noise (see generate), %d threads, one run each, the HIGGS task's parameters.\n\n", threads)
	fmt.Println("| rows | file MiB | LightGBM s | ferry s | ratio | LightGBM peak MiB | ferry peak MiB | ratio | quality on binary.test: ferry vs LightGBM |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, n := range counts {
		train := filepath.Join(work, fmt.Sprintf("higgs-%d.train", n))
		if err := generate(train, seed, n); err != nil {
			return err
		}
		st, err := os.Stat(train)
		if err != nil {
			return err
		}
		t := higgsTask(train, filepath.Join(src, "binary.test"))
		lmodel := filepath.Join(work, fmt.Sprintf("scale-%d-lightgbm.txt", n))
		fmodel := filepath.Join(work, fmt.Sprintf("scale-%d-ferry", n))
		lt, lmem, err := measure(lgb, lightgbmArgs(t, threads, lmodel)...)
		if err != nil {
			return err
		}
		ft, fmem, err := measure(ferry, ferryArgs(t, threads, fmodel)...)
		if err != nil {
			return err
		}
		q, err := quality(work, ferry, t, fmodel, lmodel)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %.0f | %.2f | %.2f | %.2fx | %.0f | %.0f | %.2fx | %s |\n", n, float64(st.Size())/(1<<20),
			lt.Seconds(), ft.Seconds(), ft.Seconds()/lt.Seconds(), lmem, fmem, fmem/lmem, q)
		if err := os.Remove(train); err != nil {
			return err
		}
	}
	return nil
}

// generate writes n rows drawn from seed with replacement: the label as it
// is, and each continuous feature (more than 100 distinct values) moved by
// Gaussian noise of a tenth of its standard deviation, so that the file has
// as many distinct values as real data of its size. Discrete features keep
// their values. The same n gives the same file.
func generate(path string, seed *data.Dataset, n int) error {
	sd := make([]float64, len(seed.Columns))
	for j, c := range seed.Columns {
		distinct := map[float32]bool{}
		var s, ss float64
		for _, v := range c.Values {
			distinct[v] = true
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		if len(distinct) > 100 {
			m := s / float64(seed.Rows)
			sd[j] = math.Sqrt(ss/float64(seed.Rows) - m*m)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	var buf []byte
	for i := 0; i < n; i++ {
		r := rng.IntN(seed.Rows)
		buf = strconv.AppendFloat(buf[:0], seed.Label[r], 'g', -1, 64)
		for j, c := range seed.Columns {
			v := float64(c.Values[r])
			if sd[j] > 0 {
				v += 0.1 * sd[j] * rng.NormFloat64()
			}
			buf = append(buf, '\t')
			buf = strconv.AppendFloat(buf, v, 'g', 7, 32)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

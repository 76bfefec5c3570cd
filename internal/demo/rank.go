package demo

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/oip"
)

// loopbackRegistry is go-containerregistry's in-process registry on a
// loopback port, for the demo to push to and deploy from.
type loopbackRegistry struct {
	Addr string // 127.0.0.1:PORT
	srv  *http.Server
}

func startRegistry() (*loopbackRegistry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start a registry on loopback: %w", err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return &loopbackRegistry{Addr: l.Addr().String(), srv: srv}, nil
}

func (r *loopbackRegistry) Close() { r.srv.Close() }

// table is a demo CSV file's records and where each column is.
type table struct {
	path    string
	records [][]string
	col     map[string]int
}

func readTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &table{path: path, records: records, col: map[string]int{}}
	for i, h := range records[0] {
		t.col[h] = i
	}
	return t, nil
}

// request is an Open Inference Protocol request of the given data rows,
// one tensor per feature, with the numeric features named in scale
// multiplied by it.
func (t *table) request(features []data.Feature, rows []int, scale map[string]float64) (oip.InferRequest, error) {
	var req oip.InferRequest
	for _, feat := range features {
		c, ok := t.col[feat.Name]
		if !ok {
			return req, fmt.Errorf("%s has no column %q", t.path, feat.Name)
		}
		datatype, values := oip.FP32, make([]any, 0, len(rows))
		if feat.Categorical {
			datatype = oip.Bytes
		}
		for _, r := range rows {
			v := t.records[r+1][c]
			if feat.Categorical {
				values = append(values, v)
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return req, fmt.Errorf("%s row %d column %s: %w", t.path, r+2, feat.Name, err)
			}
			if k, ok := scale[feat.Name]; ok {
				x *= k
			}
			values = append(values, x)
		}
		req.Inputs = append(req.Inputs, oip.InferTensor(feat.Name, datatype, values))
	}
	return req, nil
}

// rank sends one query's products (rows of the table) to a running
// ferry-serve and returns the rows ordered by the served scores, best
// first.
func rank(ctx context.Context, url, modelName string, features []data.Feature, t *table, rows []int) ([]int, error) {
	req, err := t.request(features, rows, nil)
	if err != nil {
		return nil, err
	}
	out, err := oip.Client{URL: url}.Infer(ctx, modelName, req)
	if err != nil {
		return nil, err
	}
	scores := out.Outputs[0].Data
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	ranked := make([]int, len(rows))
	for i, o := range order {
		ranked[i] = rows[o]
	}
	return ranked, nil
}

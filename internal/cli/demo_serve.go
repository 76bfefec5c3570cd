package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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

// demoRank sends one query's products (rows of the CSV file path) to a
// running ferry-serve as an Open Inference Protocol request, one tensor per
// feature, and returns the rows ordered by the served scores, best first.
func demoRank(ctx context.Context, url, modelName string, features []data.Feature, path string, rows []int) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	type tensor struct {
		Name     string `json:"name"`
		Shape    []int  `json:"shape"`
		Datatype string `json:"datatype"`
		Data     []any  `json:"data"`
	}
	var req struct {
		Inputs []tensor `json:"inputs"`
	}
	for _, feat := range features {
		c, ok := col[feat.Name]
		if !ok {
			return nil, fmt.Errorf("%s has no column %q", path, feat.Name)
		}
		t := tensor{Name: feat.Name, Shape: []int{len(rows)}, Datatype: "FP32"}
		if feat.Categorical {
			t.Datatype = "BYTES"
		}
		for _, r := range rows {
			v := records[r+1][c]
			if feat.Categorical {
				t.Data = append(t.Data, v)
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("%s row %d column %s: %w", path, r+2, feat.Name, err)
			}
			t.Data = append(t.Data, x)
		}
		req.Inputs = append(req.Inputs, t)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v2/models/"+modelName+"/infer", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Outputs []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Outputs) != 1 || len(out.Outputs[0].Data) != len(rows) {
		return nil, fmt.Errorf("infer answered %s %s (%v)", resp.Status, out.Error, err)
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

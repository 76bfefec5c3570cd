package oip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client talks to one server at URL (http://HOST:PORT).
type Client struct {
	URL  string
	HTTP *http.Client // default http.DefaultClient
}

func (c Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Ready reports whether the server answers its readiness endpoint with 200.
func (c Client) Ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+ReadyPath, nil)
	if err != nil {
		return false
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Metadata reads the model's metadata.
func (c Client) Metadata(ctx context.Context, model string) (*ModelMetadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+ModelPath(model), nil)
	if err != nil {
		return nil, err
	}
	var meta ModelMetadata
	if err := c.do(req, &meta); err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	return &meta, nil
}

// Infer scores a request and returns the response, which has one output
// with as many scores as the request has rows.
func (c Client) Infer(ctx context.Context, model string, r InferRequest) (*InferResponse, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+InferPath(model), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var out InferResponse
	if err := c.do(req, &out); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	rows := int64(0)
	if len(r.Inputs) > 0 && len(r.Inputs[0].Shape) > 0 {
		rows = r.Inputs[0].Shape[0]
	}
	if len(out.Outputs) != 1 || int64(len(out.Outputs[0].Data)) != rows {
		return nil, fmt.Errorf("infer: the answer has %d outputs, want one with %d scores", len(out.Outputs), rows)
	}
	return &out, nil
}

// do sends req and decodes a 200's JSON body into v; another status is an
// error with the server's message.
func (c Client) do(req *http.Request, v any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s answered %s: %s", req.Method, req.URL.Path, resp.Status, e.Error)
		}
		return fmt.Errorf("%s %s answered %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body[:min(len(body), 512)])))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

package forge

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
)

// retryTransport retries GitHub API requests that GitHub turned away:
//   - a secondary rate limit or 429 with Retry-After: wait that long;
//   - a primary rate limit (403 or 429 with X-RateLimit-Remaining: 0): wait
//     until X-RateLimit-Reset;
//   - a 502, 503 or 504 of a GET, PATCH or DELETE (idempotent here): back off
//     exponentially, from 1 s.
//
// Every wait is capped at MaxWait, and a request is tried at most Attempts
// times. A POST is retried only when GitHub refused it (rate limits), never
// after a server error or a broken connection, when it may have taken
// effect: ferry must never post a comment twice.
type retryTransport struct {
	next     http.RoundTripper
	attempts int
	maxWait  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		r := req.Clone(req.Context())
		if req.GetBody != nil {
			rc, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = rc
		} else if body != nil {
			r.Body = io.NopCloser(bytesReader(body))
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || attempt >= t.attempts {
			return resp, err
		}
		wait, retry := t.decide(req.Method, resp, &backoff)
		if !retry {
			return resp, nil
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining before the retry
		resp.Body.Close()
		if err := t.sleep(req.Context(), min(wait, t.maxWait)); err != nil {
			return nil, err
		}
	}
}

func (t *retryTransport) decide(method string, resp *http.Response, backoff *time.Duration) (time.Duration, bool) {
	h := resp.Header
	limited := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden
	if limited {
		if s := h.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second, true
			}
		}
		if h.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				return max(time.Unix(reset, 0).Sub(t.now()), time.Second), true
			}
		}
		return 0, false // a plain 403: no permission, not a limit
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if method == http.MethodPost {
			return 0, false
		}
		w := *backoff
		*backoff *= 2
		return w, true
	}
	return 0, false
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package deploy

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestCanaryReplicas(t *testing.T) {
	for _, c := range []struct{ replicas, percent, want int }{
		{4, 25, 1}, {4, 30, 2}, {10, 10, 1}, {1, 1, 1}, {3, 50, 2}, {20, 20, 4},
	} {
		if got := canaryReplicas(c.replicas, c.percent); got != c.want {
			t.Errorf("canaryReplicas(%d, %d%%) = %d, want %d", c.replicas, c.percent, got, c.want)
		}
	}
}

func TestValidateNames(t *testing.T) {
	for _, c := range []struct{ name, ns, err string }{
		{"ranker", "search", ""},
		{"Ranker", "search", `invalid name "Ranker"`},
		{"ranker", "search_prod", `invalid namespace "search_prod"`},
		{strings.Repeat("r", 60), "search", "NAME-canary fits"},
		{"", "search", "invalid name"},
	} {
		err := ValidateNames(c.name, c.ns)
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("ValidateNames(%q, %q) = %v, want %q", c.name, c.ns, err, c.err)
		}
	}
}

func TestExtraLabels(t *testing.T) {
	got := extraLabels(map[string]string{"app.kubernetes.io/name": "r", "ferry.dev/model": "r", "team": "search", "pod-template-hash": "x"})
	if len(got) != 2 || got["team"] != "search" {
		t.Errorf("extra labels %v", got)
	}
}

// ferry-serve's own /metrics output, as its Prometheus registry writes it.
const serveMetrics = `# HELP ferry_serve_requests_total Requests by endpoint and status code.
# TYPE ferry_serve_requests_total counter
ferry_serve_requests_total{code="200",endpoint="infer"} 95
ferry_serve_requests_total{code="400",endpoint="infer"} 2
ferry_serve_requests_total{code="500",endpoint="infer"} 3
ferry_serve_requests_total{code="200",endpoint="ready"} 40
# HELP ferry_serve_request_duration_seconds Request latency by endpoint.
# TYPE ferry_serve_request_duration_seconds histogram
ferry_serve_request_duration_seconds_bucket{endpoint="infer",le="+Inf"} 100
ferry_serve_request_duration_seconds_sum{endpoint="infer"} 0.25
ferry_serve_request_duration_seconds_count{endpoint="infer"} 100
ferry_serve_request_duration_seconds_bucket{endpoint="ready",le="+Inf"} 40
ferry_serve_request_duration_seconds_sum{endpoint="ready"} 9
ferry_serve_request_duration_seconds_count{endpoint="ready"} 40
`

func TestParseServeStats(t *testing.T) {
	s, err := ParseServeStats([]byte(serveMetrics))
	if err != nil {
		t.Fatal(err)
	}
	// Infer only; 5xx are errors, 4xx refused.
	if want := (ServeStats{Requests: 100, Errors: 3, Refused: 2, LatencySum: 0.25}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
	if _, err := ParseServeStats([]byte("not { metrics")); err == nil {
		t.Error("garbage parsed")
	}
}

// Promote moves champion and keeps the one before as champion-prev, on
// go-containerregistry's in-process registry.
func TestPromote(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/shop/ranker")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	push := func(tag string) name.Digest {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Tag(tag), img); err != nil {
			t.Fatal(err)
		}
		d, err := Resolve(ctx, repo.Tag(tag).String())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	digestAt := func(tag string) string {
		desc, err := remote.Head(repo.Tag(tag))
		if err != nil {
			return ""
		}
		return desc.Digest.String()
	}
	one, two := push("pr-1"), push("pr-2")
	if prev, err := Promote(ctx, one); err != nil || prev != "" {
		t.Fatalf("first promotion: prev %q, err %v", prev, err)
	}
	if digestAt(ChampionTag) != one.DigestStr() || digestAt(ChampionPrevTag) != "" {
		t.Fatalf("after the first promotion: champion %s, champion-prev %s", digestAt(ChampionTag), digestAt(ChampionPrevTag))
	}
	if prev, err := Promote(ctx, two); err != nil || prev != one.String() {
		t.Fatalf("second promotion: prev %q, err %v", prev, err)
	}
	if digestAt(ChampionTag) != two.DigestStr() || digestAt(ChampionPrevTag) != one.DigestStr() {
		t.Fatalf("after the second promotion: champion %s, champion-prev %s", digestAt(ChampionTag), digestAt(ChampionPrevTag))
	}
	// Promoting the champion again keeps champion-prev.
	if _, err := Promote(ctx, two); err != nil || digestAt(ChampionPrevTag) != one.DigestStr() {
		t.Fatalf("re-promotion moved champion-prev to %s (%v)", digestAt(ChampionPrevTag), err)
	}
	if _, err := Resolve(ctx, repo.Tag("pr-404").String()); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("an unknown tag: %v", err)
	}
	missing := repo.Digest(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}.String())
	if _, err := Resolve(ctx, missing.String()); err == nil {
		t.Error("a digest the registry lacks resolved")
	}
}

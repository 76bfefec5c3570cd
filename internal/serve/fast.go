package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Run's HTTP server is fasthttp: at one row per request, net/http's own work
// (a background read and its goroutine per request, the request's header
// map, context and copies) was most of the server's. On fasthttp the MLP
// answers 1.22x the one-row requests a second, 37,500 against 30,800 on two
// cores shared with wrk (BENCHMARKS.md, "Serving: ferry-serve against
// Flask"). Infer requests are fasthttp's own (fastInfer); every other
// endpoint, cold, is Handler's, through fasthttp's net/http adaptor.
const (
	// maxHeaderBytes bounds a request's line and headers (431 past it):
	// fasthttp reads them into one buffer of this size per connection.
	maxHeaderBytes = 32 << 10
	// prefetchBytes is the largest body read before the handler runs; a
	// larger one, or one of unknown length, is decoded as it arrives.
	prefetchBytes = 64 << 10
	idleTimeout   = 120 * time.Second
)

// fastServer is the server Run listens with.
func (s *Server) fastServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      s.fastHandler(),
		ErrorHandler:                 s.transportError,
		ReadTimeout:                  s.cfg.ReadTimeout,
		WriteTimeout:                 s.cfg.WriteTimeout,
		IdleTimeout:                  idleTimeout,
		ReadBufferSize:               maxHeaderBytes,
		MaxRequestBodySize:           prefetchBytes,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true, // no temporary files for multipart bodies: no endpoint reads them
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		Logger:                       fastLogger{s.log},
	}
}

// fastHandler routes infer requests to fastInfer and the rest to Handler.
func (s *Server) fastHandler() fasthttp.RequestHandler {
	mux := s.routes()
	other := fasthttpadaptor.NewFastHTTPHandler(mux)
	return func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			if name, version, ok := inferPath(ctx.URI().PathOriginal()); ok {
				s.fastInfer(ctx, name, version)
				return
			}
		}
		if s.heldBody(ctx, mux) {
			other(ctx)
		}
	}
}

// heldBody readies a request for Handler through fasthttp's adaptor, which
// reads all of a body into memory. A request Handler routes to infer (one
// whose path inferPath leaves to it, such as one with a raw non-ASCII
// byte) keeps its body, up to MaxBodyBytes (past it, or when the body
// cannot be read, heldBody answers and returns false); any other drops it,
// unread: no other route reads a body.
func (s *Server) heldBody(ctx *fasthttp.RequestCtx, mux *http.ServeMux) bool {
	stream := ctx.RequestBodyStream()
	if !ctx.IsPost() || stream == nil || !routedToInfer(ctx, mux) {
		_ = ctx.Request.CloseBodyStream() // fasthttp discards what is unread
		ctx.Request.ResetBody()
		return true
	}
	start := time.Now()
	b, err := io.ReadAll(s.bounded(stream))
	if err != nil {
		code, msg := s.refusal(nil, err)
		writeFast(ctx, code, msg)
		ctx.SetConnectionClose()
		s.inferred.done(code, start)
		return false
	}
	_ = ctx.Request.CloseBodyStream()
	ctx.Request.SetBodyRaw(b)
	return true
}

// routedToInfer says whether mux routes the request to an infer endpoint.
func routedToInfer(ctx *fasthttp.RequestCtx, mux *http.ServeMux) bool {
	u, err := url.ParseRequestURI(string(ctx.RequestURI()))
	if err != nil {
		return false
	}
	_, pattern := mux.Handler(&http.Request{Method: string(ctx.Method()), URL: u, Host: string(ctx.Host())})
	return strings.HasSuffix(pattern, "/infer")
}

// bounded is r, a request body, failing with *http.MaxBytesError past
// Config.MaxBodyBytes.
func (s *Server) bounded(r io.Reader) io.Reader {
	return http.MaxBytesReader(nil, io.NopCloser(r), s.cfg.MaxBodyBytes)
}

// inferPath matches path, as the request wrote it, against Handler's infer
// routes, /v2/models/{name}/infer and /v2/models/{name}/versions/{version}/infer,
// as http.ServeMux does: segment by segment, each unescaped. A path
// ServeMux would clean first (an empty, "." or ".." segment) is not
// matched: Handler answers it (a redirect). Nor is one with a byte a URL
// path may not hold (RFC 3986), whose escapes net/url does not keep.
func inferPath(path []byte) (name, version string, ok bool) {
	if len(path) == 0 || path[0] != '/' || !pathChars(path) {
		return "", "", false
	}
	var segs [7][]byte
	n := 0
	for rest, more := path[1:], true; more; n++ {
		var seg []byte
		seg, rest, more = bytes.Cut(rest, []byte{'/'})
		if n == len(segs) || len(seg) == 0 || string(seg) == "." || string(seg) == ".." {
			return "", "", false
		}
		if bytes.IndexByte(seg, '%') >= 0 {
			u, err := url.PathUnescape(string(seg))
			if err != nil {
				return "", "", false
			}
			seg = []byte(u)
		}
		segs[n] = seg
	}
	if n < 4 || string(segs[0]) != "v2" || string(segs[1]) != "models" || string(segs[n-1]) != "infer" {
		return "", "", false
	}
	switch {
	case n == 4:
		return string(segs[2]), "", true
	case n == 6 && string(segs[3]) == "versions":
		return string(segs[2]), string(segs[4]), true
	}
	return "", "", false
}

// pathChars says whether every byte of path is one net/url keeps escaped
// as it came (url.URL.RawPath): RFC 3986's unreserved characters, its
// sub-delimiters, ':', '@', '[', ']', '%' and '/'.
func pathChars(path []byte) bool {
	for _, c := range path {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@[]%/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// fastInfer is infer on fasthttp, counted as Handler's infer is; a panic
// becomes a 500, never a dead server.
func (s *Server) fastInfer(ctx *fasthttp.RequestCtx, name, version string) {
	start := time.Now()
	code := http.StatusInternalServerError
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "endpoint", s.inferred.endpoint, "panic", fmt.Sprint(p))
			writeFast(ctx, code, appendError(nil, "internal error"))
		}
		s.inferred.done(code, start)
	}()
	var body io.Reader = http.NoBody
	if r := ctx.RequestBodyStream(); r != nil { // a request with a body has one
		body = r
	}
	contentType := "application/json" // a string without an allocation, for the usual case
	if ct := ctx.Request.Header.ContentType(); string(ct) != contentType {
		contentType = string(ct)
	}
	bp := replies.Get().(*[]byte)
	var b []byte
	code, b = s.infer(inferCall{name: name, version: version, contentType: contentType,
		body: s.bounded(body), length: int64(ctx.Request.Header.ContentLength())}, (*bp)[:0])
	writeFast(ctx, code, b)
	putReply(bp, b)
	if code == http.StatusRequestEntityTooLarge {
		ctx.SetConnectionClose() // rather than read the rest of the body to reach the next request
	}
}

// writeFast answers with code and the JSON b (copied).
func writeFast(ctx *fasthttp.RequestCtx, code int, b []byte) {
	ctx.SetStatusCode(code)
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.SetBody(b)
}

var jsonContentType = []byte("application/json")

// transportError answers a request fasthttp could not read, as JSON.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	var (
		small *fasthttp.ErrSmallBuffer
		op    *net.OpError
	)
	switch {
	case errors.As(err, &small):
		writeFast(ctx, http.StatusRequestHeaderFieldsTooLarge, appendError(nil, "the request's line and headers are over %d bytes", maxHeaderBytes))
	case errors.As(err, &op) && op.Timeout():
		writeFast(ctx, http.StatusRequestTimeout, appendError(nil, "the request did not arrive within %s", s.cfg.ReadTimeout))
	default:
		writeFast(ctx, http.StatusBadRequest, appendError(nil, "malformed HTTP request: %v", err))
	}
}

// fastLogger sends fasthttp's log lines to the server's log.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "from", "fasthttp")
}

// servedListener tells when Serve first accepts a connection, by when it has
// taken up the listener (for Shutdown to close).
type servedListener struct {
	net.Listener
	once      sync.Once
	accepting chan struct{}
}

func newServedListener(ln net.Listener) *servedListener {
	return &servedListener{Listener: ln, accepting: make(chan struct{})}
}

func (l *servedListener) Accept() (net.Conn, error) {
	l.once.Do(func() { close(l.accepting) })
	return l.Listener.Accept()
}

// Package serve is ferry-serve: one model directory served over the Open
// Inference Protocol (KServe V2) on HTTP, with Prometheus metrics.
//
//	GET  /v2/health/live                  the process is up
//	GET  /v2/health/ready                 the model is loaded and warmed up
//	GET  /v2                              server metadata
//	GET  /v2/models/{name}[/versions/{v}] model metadata: inputs and outputs
//	GET  /v2/models/{name}/ready          the model is ready
//	POST /v2/models/{name}/infer          score rows (also under /versions/{v})
//	GET  /metrics                         Prometheus metrics
//
// Errors are {"error": "..."} with 400 (a request the model cannot score,
// or not HTTP), 404 (another model), 408 (a request slower than the read
// timeout), 413 (a body over the limit), 415 (a body that is not JSON by its
// Content-Type) or 431 (a request line and headers over 32 KiB); the
// readiness endpoints answer 503 while the server drains.
//
// Requests are decoded as they are read, into the model's columns (see
// decodeRequest), so one costs the server about its tensor's float32 size,
// whatever the body's size. The server is ready only after the model loaded
// and a warm-up prediction ran; on shutdown it turns unready first, then
// finishes the requests in flight, scoring every request that reaches it
// until its listener closes.
//
// Handler is every endpoint on net/http, for a server of the caller's. Run,
// what ferry-serve runs, serves them on fasthttp: infer requests through
// a handler of its own (fast.go) with the same decoding and, byte for byte,
// the same answers; the other endpoints, cold, through Handler. At one row
// per request, net/http's own work was most of the server's: on fasthttp
// the MLP answers a quarter more requests a second (BENCHMARKS.md).
package serve

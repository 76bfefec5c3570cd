// Package oip is the one home of the Open Inference Protocol (KServe's V2
// protocol) as ferry speaks it: the wire types of a request, a response and
// a model's metadata, the paths, the names of ferry-serve's Prometheus
// metrics, and a small client. The server (internal/serve), the local
// deployment's smoke test, the demo and the canary analysis all use these,
// so that they cannot disagree.
package oip

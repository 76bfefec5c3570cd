// Package testenv finds the real components that integration tests use
// (podman, the registry, the cluster, Python references) and decides what a
// test does when one is missing: under CI=true it fails, because `make test`
// installs everything; elsewhere it skips and says how to get the component.
package testenv

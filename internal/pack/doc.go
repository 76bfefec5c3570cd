// Package pack is the package stage (package is Go's keyword): it builds
// a model directory into a digest-pinned, reproducible OCI image that runs
// its own ferry-serve, for one platform or several (an index), and pushes
// it or writes an OCI layout or a tarball; or it packs a directory as a
// CNCF ModelPack artifact.
package pack

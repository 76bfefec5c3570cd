// Package oci builds OCI image pieces with go-containerregistry, without a
// Docker daemon, reproducibly: the same files and timestamp always give the
// same layer digest.
package oci

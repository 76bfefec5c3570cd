package main

import (
	"crypto/x509"
	"os"
	"runtime"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// ferry's action image has no operating system, and so no CA bundle: ferry
// carries Mozilla's roots (golang.org/x/crypto's bundle) for crypto/x509 to
// fall back on, which it does only where it finds no system roots. Parsing
// them took 3.6 ms of every command's start, so they are parsed only where
// crypto/x509 would find none.

// linuxRoots are where crypto/x509 looks for roots on Linux (its
// root_linux.go): bundle files, then directories of certificates.
var linuxRoots = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine
	"/etc/ssl/certs",
	"/etc/pki/tls/certs",
}

// haveSystemRoots says whether crypto/x509 will find roots of the system's:
// macOS and Windows verify with the system's own verifier; elsewhere, the
// environment names roots (SSL_CERT_FILE, SSL_CERT_DIR) or one of the
// places crypto/x509 reads exists.
func haveSystemRoots(goos string, getenv func(string) string, exists func(string) bool) bool {
	switch goos {
	case "darwin", "ios", "windows":
		return true
	}
	if getenv("SSL_CERT_FILE") != "" || getenv("SSL_CERT_DIR") != "" {
		return true
	}
	for _, p := range linuxRoots {
		if exists(p) {
			return true
		}
	}
	return false
}

// fallbackRoots gives crypto/x509 the bundle's roots when the system has
// none.
func fallbackRoots() {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if haveSystemRoots(runtime.GOOS, os.Getenv, exists) {
		return
	}
	pool := x509.NewCertPool()
	for c := range bundle.Roots() {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			continue // left out (TestBundleRootsParse parses every one)
		}
		if c.Constraint == nil {
			pool.AddCert(cert)
		} else {
			pool.AddCertWithConstraint(cert, c.Constraint)
		}
	}
	x509.SetFallbackRoots(pool)
}

package main

import (
	"crypto/x509"
	"testing"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The fallback roots are parsed where crypto/x509 finds no roots of the
// system's, and only there.
func TestHaveSystemRoots(t *testing.T) {
	for _, c := range []struct {
		name  string
		goos  string
		env   map[string]string
		files []string
		want  bool
	}{
		{"macOS verifies itself", "darwin", nil, nil, true},
		{"Windows verifies itself", "windows", nil, nil, true},
		{"an image with no OS", "linux", nil, nil, false},
		{"Debian's bundle", "linux", nil, []string{"/etc/ssl/certs/ca-certificates.crt"}, true},
		{"Alpine's bundle", "linux", nil, []string{"/etc/ssl/cert.pem"}, true},
		{"a directory of certificates", "linux", nil, []string{"/etc/pki/tls/certs"}, true},
		{"SSL_CERT_FILE", "linux", map[string]string{"SSL_CERT_FILE": "/roots.pem"}, nil, true},
		{"SSL_CERT_DIR", "linux", map[string]string{"SSL_CERT_DIR": "/roots"}, nil, true},
		{"another file", "linux", nil, []string{"/etc/hosts"}, false},
	} {
		exists := func(p string) bool {
			for _, f := range c.files {
				if f == p {
					return true
				}
			}
			return false
		}
		if got := haveSystemRoots(c.goos, func(k string) string { return c.env[k] }, exists); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Every root of the bundle parses, so the fallback pool leaves none out.
func TestBundleRootsParse(t *testing.T) {
	n := 0
	for c := range bundle.Roots() {
		if _, err := x509.ParseCertificate(c.Certificate); err != nil {
			t.Errorf("root %d: %v", n, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("the bundle has %d roots; Mozilla's have well over 100", n)
	}
}

package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is a running versitygw (the Versity S3 Gateway, built by
// hack/s3/build.sh into bin/s3), on a POSIX directory, with versioning
// and its own IAM: a real S3-compatible server.
type S3 struct {
	URL  string // http://127.0.0.1:PORT
	Root Key    // the gateway's root account
	bin  string
}

// Key is an access key pair.
type Key struct{ ID, Secret string }

// StartS3 starts versitygw for the test and stops it at its end, or
// handles the server as Missing.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "s3", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "versitygw (bin/s3/versitygw)", "run `./hack/s3/build.sh` (make test does)")
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "versions", "iam"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	s := &S3{URL: "http://" + addr, Root: Key{ID: "ferryroot", Secret: "ferryroot-secret-key"}, bin: bin}
	var log bytes.Buffer
	cmd := exec.Command(bin, "--port", addr, "--access", s.Root.ID, "--secret", s.Root.Secret,
		"--iam-dir", filepath.Join(dir, "iam"), "posix", "--versioning-dir", filepath.Join(dir, "versions"), filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitHTTP(t, s.URL+"/", "versitygw", &log)
	return s
}

// Client is an S3 client of the server with k's credentials.
func (s *S3) Client(k Key) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, k.Secret, ""),
	})
}

// Env is the environment ferry reads the server with, as k.
func (s *S3) Env(k Key) []string {
	return []string{"AWS_ENDPOINT_URL_S3=" + s.URL, "AWS_ACCESS_KEY_ID=" + k.ID, "AWS_SECRET_ACCESS_KEY=" + k.Secret, "AWS_REGION=us-east-1"}
}

// Setenv sets Env(k) for the test.
func (s *S3) Setenv(t *testing.T, k Key) {
	t.Helper()
	for _, kv := range s.Env(k) {
		name, v, _ := strings.Cut(kv, "=")
		t.Setenv(name, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// Bucket creates a bucket as root, with versioning on when asked.
func (s *S3) Bucket(t testing.TB, name string, versioned bool) {
	t.Helper()
	ctx := context.Background()
	c := s.Client(s.Root)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	if versioned {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("turn versioning on for %s: %v", name, err)
		}
	}
}

// Put writes an object as root and returns its ETag and version ("" when
// the bucket keeps none).
func (s *S3) Put(t testing.TB, bucket, key string, body []byte) (etag, version string) {
	t.Helper()
	out, err := s.Client(s.Root).PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.ETag), aws.ToString(out.VersionId)
}

// Delete deletes an object as root (in a versioned bucket: a delete
// marker over its versions).
func (s *S3) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.Client(s.Root).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatalf("delete s3://%s/%s: %v", bucket, key, err)
	}
}

// User creates an account of the gateway's IAM with the "user" role: it
// owns nothing, so what it may read is what bucket policies grant it.
func (s *S3) User(t testing.TB, k Key) {
	t.Helper()
	out, err := exec.Command(s.bin, "admin", "--access", s.Root.ID, "--secret", s.Root.Secret, "--endpoint-url", s.URL,
		"create-user", "--access", k.ID, "--secret", k.Secret, "--role", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("create user %s: %v\n%s", k.ID, err, out)
	}
}

// Policy sets a bucket's policy as root.
func (s *S3) Policy(t testing.TB, bucket, policy string) {
	t.Helper()
	if _, err := s.Client(s.Root).PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &policy}); err != nil {
		t.Fatalf("put the policy of %s: %v", bucket, err)
	}
}

// ReadPolicy is a bucket policy that lets user list the bucket and read
// the objects under prefix, and nothing else.
func ReadPolicy(bucket, user, prefix string) string {
	return fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Principal": {"AWS": [%q]}, "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::%s"]},
  {"Effect": "Allow", "Principal": {"AWS": [%q]}, "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::%s/%s*"]}]}`,
		user, bucket, user, bucket, prefix)
}

// Azurite is a running Azure Storage emulator (the npm package azurite,
// installed by hack/deps.sh into bin/azurite): a real Azure Blob server.
type Azurite struct {
	URL string // http://127.0.0.1:PORT
}

// The emulator's well-known development account.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// StartAzurite starts the emulator's blob service for the test and stops
// it at its end, or handles it as Missing.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "azurite", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "Azurite (bin/azurite)", "run `make deps` (hack/deps.sh installs the npm package azurite)")
	}
	port := freeAddr(t)
	host, p, _ := net.SplitHostPort(port)
	var log bytes.Buffer
	cmd := exec.Command(bin, "--blobHost", host, "--blobPort", p, "--location", t.TempDir(), "--silent", "--skipApiVersionCheck", "--loose")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start azurite: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	a := &Azurite{URL: "http://" + port}
	waitHTTP(t, a.URL+"/"+AzuriteAccount+"?comp=list", "azurite", &log)
	return a
}

// Setenv points gocloud's azureblob (and so ferry's az:// URLs) at the
// emulator, with the development account's key.
func (a *Azurite) Setenv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{"AZURE_STORAGE_ACCOUNT": AzuriteAccount, "AZURE_STORAGE_KEY": AzuriteKey,
		"AZURE_STORAGE_DOMAIN": strings.TrimPrefix(a.URL, "http://"), "AZURE_STORAGE_PROTOCOL": "http", "AZURE_STORAGE_IS_LOCAL_EMULATOR": "true"} {
		t.Setenv(k, v)
	}
}

// freeAddr is a free 127.0.0.1:PORT.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHTTP waits until url answers (any status), for 30 s.
func waitHTTP(t testing.TB, url, what string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer in 30 s: %v\n%s", what, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

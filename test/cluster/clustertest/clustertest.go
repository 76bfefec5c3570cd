package clustertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/testenv"
)

var (
	shared   *cluster.Cluster
	startErr error
)

// Main starts the cluster (cluster.DefaultOptions: kwok's nodes and the
// real node), runs the package's tests and stops the cluster.
func Main(m *testing.M) { MainWith(m, nil) }

// MainWith is Main with the options changed by set first. One real node
// runs per machine: a package whose tests need none sets RealNode false, so
// that packages can test in parallel.
func MainWith(m *testing.M, set func(*cluster.Options)) {
	flag.Parse()
	opts := cluster.DefaultOptions(BinDir(), "")
	if set != nil {
		set(&opts)
	}
	os.Exit(run(m, opts))
}

func run(m *testing.M, opts cluster.Options) int {
	if testing.Short() {
		startErr = errShort
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ferry-cluster-")
	if err != nil {
		startErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	opts.Dir = dir
	shared, startErr = cluster.Up(ctx, opts)
	cancel()
	if startErr == nil {
		defer shared.Stop()
	}
	return m.Run()
}

var errShort = fmt.Errorf("no cluster under -short")

// BinDir is where `make cluster-build` puts the programs.
func BinDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "cluster", "bin")
}

// Get returns the package's cluster, or handles it as missing.
func Get(t testing.TB) *cluster.Cluster {
	t.Helper()
	switch {
	case startErr == errShort:
		t.Skip("the local cluster does not start under -short")
	case startErr != nil && strings.Contains(startErr.Error(), "make cluster-build"):
		testenv.Missing(t, "the local Kubernetes control plane", startErr.Error())
	case startErr != nil:
		t.Fatalf("start the local cluster: %v", startErr)
	}
	return shared
}

// Client returns an admin clientset for the cluster.
func Client(t testing.TB, c *cluster.Cluster) kubernetes.Interface {
	t.Helper()
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var unsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for the test, named after it, waits for its
// default service account (pods are refused until it exists) and deletes
// the namespace when the test ends.
func Namespace(t testing.TB, c *cluster.Cluster) string {
	t.Helper()
	cs := Client(t, c)
	base := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default service account after 30s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

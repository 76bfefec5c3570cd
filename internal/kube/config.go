package kube

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-ml/ferry/internal/input"
)

// FieldManager owns the fields ferry applies.
const FieldManager = "ferry"

// Config loads the client configuration from kubeconfig when given, else
// from $KUBECONFIG or ~/.kube/config, else from the pod's service account
// when running inside a cluster.
func Config(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if kubeconfig != "" {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		if clientcmd.IsEmptyConfig(err) {
			return nil, input.Paramf("kubeconfig", "no Kubernetes configuration: give a kubeconfig with %s, set KUBECONFIG, or run inside a cluster")
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "ferry"
	return cfg, nil
}

// Connect returns a clientset and checks that the API server answers, so
// that an unreachable or wrong cluster fails before anything is applied.
func Connect(ctx context.Context, cfg *rest.Config) (kubernetes.Interface, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := cs.Discovery().RESTClient().Get().AbsPath("/version").Timeout(10 * time.Second).Do(ctx).Error(); err != nil {
		return nil, fmt.Errorf("cannot reach the Kubernetes API at %s: %w", cfg.Host, err)
	}
	return cs, nil
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry/templates/manifests"

	"github.com/ferry-ml/ferry/internal/input"
)

// Object is one rendered manifest: its kind and name, and the JSON body that
// server-side apply sends.
type Object struct {
	Kind, Name string
	Body       []byte
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

// Render renders the manifests for d, in the order they are applied, and
// decodes each strictly into its API type, so that a template that produces
// an unknown field fails here rather than in the cluster. The
// HorizontalPodAutoscaler is rendered only when d.MaxReplicas > 0; the
// Service and PodDisruptionBudget only when withShared (a canary shares the
// stable Deployment's).
func Render(d manifests.Deploy, withShared bool) ([]Object, error) {
	var out []Object
	for _, name := range manifests.Manifests {
		m, ok := kinds[name]
		if !ok {
			return nil, fmt.Errorf("template %s: ferry does not know its kind", name)
		}
		if m.shared && !withShared || name == "hpa.yaml.tmpl" && d.MaxReplicas <= 0 {
			continue
		}
		text, err := manifests.Render(name, d)
		if err != nil {
			return nil, err
		}
		typed := m.typed()
		if err := yaml.UnmarshalStrict([]byte(text), typed); err != nil {
			return nil, fmt.Errorf("template %s renders an invalid manifest: %w", name, err)
		}
		body, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out = append(out, Object{Kind: m.kind, Name: typed.GetName(), Body: body})
	}
	return out, nil
}

// kinds maps each template to its kind, its API type (for the strict
// decode) and whether a canary shares it with the stable Deployment.
var kinds = map[string]struct {
	kind   string
	typed  func() metav1.Object
	shared bool
}{
	"deployment.yaml.tmpl": {"Deployment", func() metav1.Object { return &appsv1.Deployment{} }, false},
	"service.yaml.tmpl":    {"Service", func() metav1.Object { return &corev1.Service{} }, true},
	"pdb.yaml.tmpl":        {"PodDisruptionBudget", func() metav1.Object { return &policyv1.PodDisruptionBudget{} }, true},
	"hpa.yaml.tmpl":        {"HorizontalPodAutoscaler", func() metav1.Object { return &autoscalingv2.HorizontalPodAutoscaler{} }, false},
}

// Apply sends one object with server-side apply as field manager "ferry",
// without forcing: a field another manager owns is a conflict, reported
// with the field and its owner rather than taken over silently.
func Apply(ctx context.Context, cs kubernetes.Interface, ns string, o Object) error {
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	var err error
	switch o.Kind {
	case "Deployment":
		_, err = cs.AppsV1().Deployments(ns).Patch(ctx, o.Name, types.ApplyPatchType, o.Body, opts)
	case "Service":
		_, err = cs.CoreV1().Services(ns).Patch(ctx, o.Name, types.ApplyPatchType, o.Body, opts)
	case "PodDisruptionBudget":
		_, err = cs.PolicyV1().PodDisruptionBudgets(ns).Patch(ctx, o.Name, types.ApplyPatchType, o.Body, opts)
	case "HorizontalPodAutoscaler":
		_, err = cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Patch(ctx, o.Name, types.ApplyPatchType, o.Body, opts)
	default:
		return fmt.Errorf("apply %s: ferry does not apply kind %s", o, o.Kind)
	}
	if err != nil {
		return fmt.Errorf("apply %s in namespace %s: %w", o, ns, explain(err))
	}
	return nil
}

// explain turns the API errors users meet into what to do about them.
func explain(err error) error {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsConflict(err) && errors.As(err, &status):
		var fields []string
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				fields = append(fields, c.Message)
			}
		}
		if len(fields) == 0 {
			return err
		}
		return fmt.Errorf("fields owned by another field manager (%s); ferry does not take them over: "+
			"remove them from the other manager's configuration, or hand them over with "+
			"`kubectl apply --server-side --field-manager=ferry --force-conflicts`", strings.Join(fields, "; "))
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w (the credentials in use lack this RBAC permission; ferry deploy needs get, list, watch, create "+
			"and patch on deployments, services, poddisruptionbudgets and horizontalpodautoscalers, get/list/watch on "+
			"pods and replicasets, and delete on deployments for a canary)", err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w (does the namespace exist? --create-namespace creates it)", err)
	}
	return err
}

// EnsureNamespace checks that ns exists, creating it when create is set.
func EnsureNamespace(ctx context.Context, cs kubernetes.Interface, ns string, create bool) error {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && create:
		_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "ferry"},
		}}, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, explain(err))
		}
		return nil
	case apierrors.IsNotFound(err):
		return input.Paramf("create-namespace", "namespace "+strings.ReplaceAll(ns, "%", "%%")+" does not exist: create it, or set %s")
	case apierrors.IsForbidden(err):
		// Reading namespaces is a cluster-scoped permission many deployers
		// lack; the apply then says whether the namespace exists.
		return nil
	default:
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
}

package integration

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/ferry-ml/ferry/internal/cli"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/stage"
	"github.com/ferry-ml/ferry/test/actiontest"
	"github.com/ferry-ml/ferry/test/cluster"
	"github.com/ferry-ml/ferry/test/cluster/clustertest"
	"github.com/ferry-ml/ferry/test/forgetest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

var authTokenRequest = authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(600))}}

// deployEnv is one test's cluster namespace and registry repository.
type deployEnv struct {
	c    *cluster.Cluster
	cs   kubernetes.Interface
	ns   string
	repo name.Repository
}

func newDeployEnv(t *testing.T) *deployEnv {
	t.Helper()
	c := clustertest.Get(t)
	reg := distributionRegistry(t)
	repo, err := name.NewRepository(reg + "/shop/ranker")
	if err != nil {
		t.Fatal(err)
	}
	return &deployEnv{c: c, cs: clustertest.Client(t, c), ns: clustertest.Namespace(t, c), repo: repo}
}

// push puts a small image under tag in the real registry. kwok runs no
// containers, so the image's content does not matter to the cluster; its
// digest does.
func (e *deployEnv) push(t *testing.T, tag string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.repo.Tag(tag), img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return e.repo.Digest(d.String()).String()
}

// deploy runs `ferry deploy --target kubernetes` and returns its exit code,
// standard output and standard error.
func (e *deployEnv) deploy(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	all := append([]string{"deploy", "--target", "kubernetes", "--kubeconfig", e.c.Kubeconfig, "--namespace", e.ns,
		"--name", "ranker", "--timeout", "2m", "--unschedulable-grace", "2s"}, args...)
	code := cli.Main(context.Background(), all, env)
	t.Logf("ferry %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	return code, strings.TrimSpace(stdout.String()), stderr.String()
}

func (e *deployEnv) image(t *testing.T, deployment string) string {
	t.Helper()
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("deployment %s: %v", deployment, err)
	}
	return kube.Image(d)
}

func (e *deployEnv) tagDigest(tag string) string {
	desc, err := remote.Head(e.repo.Tag(tag))
	if err != nil {
		return ""
	}
	return e.repo.Digest(desc.Digest.String()).String()
}

// Deploy, redeploy the same digest (nothing changes), deploy a new digest
// (a rolling update that completes), with the champion tag following.
// Nodes: kwok's, for the API's side of a rollout (digests, tags, no-op
// redeploys); TestDeployOnTheRealNode runs one with real pulls and probes.
func TestDeployRollout(t *testing.T) {
	e := newDeployEnv(t)
	v1, v2 := e.push(t, "pr-1"), e.push(t, "pr-2")
	code, out, _ := e.deploy(t, "--image", e.repo.Tag("pr-1").String(), "--replicas", "3")
	if code != 0 || out != v1 {
		t.Fatalf("first deploy: exit %d, printed %q, want %s", code, out, v1)
	}
	if got := e.image(t, "ranker"); got != v1 {
		t.Fatalf("deployment runs %s, want the digest %s", got, v1)
	}
	if e.tagDigest("champion") != v1 {
		t.Fatalf("champion is %s, want %s", e.tagDigest("champion"), v1)
	}
	ctx := context.Background()
	d1, _ := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "ranker", metav1.GetOptions{})
	for _, kind := range []string{"service", "pdb"} {
		var err error
		if kind == "service" {
			_, err = e.cs.CoreV1().Services(e.ns).Get(ctx, "ranker", metav1.GetOptions{})
		} else {
			_, err = e.cs.PolicyV1().PodDisruptionBudgets(e.ns).Get(ctx, "ranker", metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}

	// The same digest again: a no-op for the Deployment.
	if code, _, _ := e.deploy(t, "--image", v1, "--replicas", "3"); code != 0 {
		t.Fatalf("redeploy: exit %d", code)
	}
	d2, _ := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "ranker", metav1.GetOptions{})
	if d2.Generation != d1.Generation {
		t.Errorf("redeploying the same digest changed the generation %d -> %d", d1.Generation, d2.Generation)
	}

	// A new digest rolls out completely.
	start := time.Now()
	if code, out, _ := e.deploy(t, "--image", e.repo.Tag("pr-2").String(), "--replicas", "3"); code != 0 || out != v2 {
		t.Fatalf("update: exit %d, printed %q", code, out)
	}
	t.Logf("rolling update to a completed rollout: %s", time.Since(start))
	d3, _ := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "ranker", metav1.GetOptions{})
	if done, msg, err := kube.RolloutStatus(d3); !done || err != nil || kube.Image(d3) != v2 {
		t.Errorf("after the update: done %v (%s, %v), image %s", done, msg, err, kube.Image(d3))
	}
	pods, _ := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=ranker"})
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			running++
			if p.Spec.Containers[0].Image != v2 {
				t.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
			}
		}
	}
	if running != 3 {
		t.Errorf("%d pods, want 3", running)
	}
	if e.tagDigest("champion") != v2 || e.tagDigest("champion-prev") != v1 {
		t.Errorf("champion %s champion-prev %s, want %s and %s", e.tagDigest("champion"), e.tagDigest("champion-prev"), v2, v1)
	}
}

// Pods that cannot pull their image or crash fail the rollout early, named,
// and the previous digest comes back; the champion does not move. kwok
// simulates the pod states for pods labelled sim.ferry.dev/fail (see
// test/cluster/kwok-stages.yaml). Nodes: kwok's, for the champion
// tag; TestDeployRollsBackRealFailures has the same failures for real.
func TestDeployRollsBackEarly(t *testing.T) {
	for _, reason := range []string{"ImagePullBackOff", "CrashLoopBackOff"} {
		t.Run(reason, func(t *testing.T) {
			e := newDeployEnv(t)
			v1, v2 := e.push(t, "pr-1"), e.push(t, "pr-2")
			if code, _, _ := e.deploy(t, "--image", v1); code != 0 {
				t.Fatal("first deploy failed")
			}
			start := time.Now()
			code, _, stderr := e.deploy(t, "--image", v2, "--pod-label", "sim.ferry.dev/fail="+reason)
			took := time.Since(start)
			if code != 3 || !strings.Contains(stderr, reason) || !strings.Contains(stderr, "rolled back to "+v1) {
				t.Fatalf("exit %d, want 1 with %s and the rollback named:\n%s", code, reason, stderr)
			}
			t.Logf("failure reported and rolled back in %s (the progress deadline is 2m)", took)
			if got := e.image(t, "ranker"); got != v1 {
				t.Errorf("after the rollback the deployment runs %s, want %s", got, v1)
			}
			if e.tagDigest("champion") != v1 {
				t.Errorf("champion moved to %s", e.tagDigest("champion"))
			}
			d, _ := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), "ranker", metav1.GetOptions{})
			if _, ok := d.Spec.Template.Labels["sim.ferry.dev/fail"]; ok {
				t.Error("the rollback kept the failing revision's label")
			}
		})
	}
}

// A pod that no node can hold (more GPUs than any node has) fails the
// rollout once the grace passes; a first deployment has nothing to roll
// back to and says so. Nodes: kwok's, as only simulated nodes have GPUs.
func TestDeployUnschedulable(t *testing.T) {
	e := newDeployEnv(t)
	v1 := e.push(t, "pr-1")
	code, _, stderr := e.deploy(t, "--image", v1, "--replica-gpus", "64")
	if code != 3 || !strings.Contains(stderr, "Unschedulable") || !strings.Contains(stderr, "nvidia.com/gpu") ||
		!strings.Contains(stderr, "no previous revision") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if e.tagDigest("champion") != "" {
		t.Error("a failed first deployment became champion")
	}
}

// Pods that run but never become ready fail at the progress deadline.
// Nodes: kwok's (a pod simulated never ready).
func TestDeployProgressDeadline(t *testing.T) {
	e := newDeployEnv(t)
	v1, v2 := e.push(t, "pr-1"), e.push(t, "pr-2")
	if code, _, _ := e.deploy(t, "--image", v1); code != 0 {
		t.Fatal("first deploy failed")
	}
	code, _, stderr := e.deploy(t, "--image", v2, "--pod-label", "sim.ferry.dev/fail=NotReady", "--timeout", "10s")
	if code != 3 || !strings.Contains(stderr, "rolled back to "+v1) ||
		!(strings.Contains(stderr, "ProgressDeadlineExceeded") || strings.Contains(stderr, "deadline exceeded")) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

// A canary that holds promotes; one that crashes is removed and the stable
// Deployment is untouched. Nodes: kwok's (readiness and restarts only,
// as no container serves metrics); TestCanaryOnTheRealNode reads the real
// ones.
func TestDeployCanary(t *testing.T) {
	e := newDeployEnv(t)
	v1, v2, v3 := e.push(t, "pr-1"), e.push(t, "pr-2"), e.push(t, "pr-3")
	if code, _, _ := e.deploy(t, "--image", v1, "--replicas", "4"); code != 0 {
		t.Fatal("first deploy failed")
	}
	code, out, stderr := e.deploy(t, "--image", v2, "--replicas", "4", "--canary", "25", "--analysis", "3s")
	if code != 0 || out != v2 || !strings.Contains(stderr, "canary: 1 of 5 replicas run") || !strings.Contains(stderr, "promoting") {
		t.Fatalf("promote: exit %d, printed %q:\n%s", code, out, stderr)
	}
	if got := e.image(t, "ranker"); got != v2 {
		t.Errorf("stable runs %s after the promotion, want %s", got, v2)
	}
	ctx := context.Background()
	if _, err := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "ranker-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the canary Deployment is still there after the promotion (%v)", err)
	}

	code, _, stderr = e.deploy(t, "--image", v3, "--replicas", "4", "--canary", "25", "--analysis", "3s",
		"--pod-label", "sim.ferry.dev/fail=CrashLoopBackOff")
	if code != 3 || !strings.Contains(stderr, "CrashLoopBackOff") || !strings.Contains(stderr, "canary was removed") {
		t.Fatalf("abort: exit %d:\n%s", code, stderr)
	}
	if got := e.image(t, "ranker"); got != v2 {
		t.Errorf("stable runs %s after the abort, want %s", got, v2)
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "ranker-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the aborted canary is still there (%v)", err)
	}
	if e.tagDigest("champion") != v2 {
		t.Errorf("champion is %s after the abort, want %s", e.tagDigest("champion"), v2)
	}
}

// Bad input: each gets a clear error and nothing is applied. Nodes: none
// needed.
func TestDeployBadInput(t *testing.T) {
	e := newDeployEnv(t)
	v1 := e.push(t, "pr-1")
	dir := t.TempDir()
	unreachable := filepath.Join(dir, "unreachable")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["x"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["x"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "x", AuthInfo: "x"}
	cfg.CurrentContext = "x"
	if err := clientcmd.WriteToFile(*cfg, unreachable); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"invalid name", []string{"--image", v1, "--name", "Ranker_1"}, 2, `--name: "Ranker_1" is not valid: want a DNS-1123 label`},
		{"unknown tag", []string{"--image", e.repo.Tag("pr-404").String()}, 3, "no such image"},
		{"missing namespace", []string{"--image", v1, "--namespace", "absent"}, 3, "namespace absent does not exist"},
		{"unreachable cluster", []string{"--image", v1, "--kubeconfig", unreachable}, 3, "cannot reach the Kubernetes API at https://127.0.0.1:1"},
		{"missing kubeconfig", []string{"--image", v1, "--kubeconfig", filepath.Join(dir, "nope")}, 3, "kubeconfig"},
		{"bad label", []string{"--image", v1, "--pod-label", "team"}, 2, "KEY=VALUE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := e.deploy(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, c.code, c.want, stderr)
			}
		})
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), "ranker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("bad input left a deployment behind (%v)", err)
	}
}

// A field another manager owns is a conflict that names the manager; RBAC
// without permission to patch Deployments is a clear error. Nodes: none
// needed (the API server's side).
func TestDeployConflictsAndRBAC(t *testing.T) {
	e := newDeployEnv(t)
	v1 := e.push(t, "pr-1")
	if code, _, _ := e.deploy(t, "--image", v1); code != 0 {
		t.Fatal("first deploy failed")
	}
	ctx := context.Background()
	// Someone scales by hand with server-side apply, taking replicas over.
	patch := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"ranker"},"spec":{"replicas":5}}`)
	force := true
	if _, err := e.cs.AppsV1().Deployments(e.ns).Patch(ctx, "ranker", types.ApplyPatchType, patch,
		metav1.PatchOptions{FieldManager: "oncall-kubectl", Force: &force}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e.deploy(t, "--image", v1, "--replicas", "3")
	if code != 3 || !strings.Contains(stderr, "oncall-kubectl") || !strings.Contains(stderr, "--force-conflicts") {
		t.Fatalf("conflict: exit %d:\n%s", code, stderr)
	}

	// A service account that may read but not patch Deployments.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}
	if _, err := e.cs.CoreV1().ServiceAccounts(e.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"", "apps", "policy"}, Verbs: []string{"get", "list", "watch"},
		Resources: []string{"deployments", "replicasets", "pods", "services", "poddisruptionbudgets"},
	}, {
		APIGroups: []string{"", "policy"}, Verbs: []string{"patch", "create"},
		Resources: []string{"services", "poddisruptionbudgets"},
	}}}
	if _, err := e.cs.RbacV1().Roles(e.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: e.ns}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"}}
	if _, err := e.cs.RbacV1().RoleBindings(e.ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.cs.CoreV1().ServiceAccounts(e.ns).CreateToken(ctx, "reader", &authTokenRequest, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(e.c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin.AuthInfos = map[string]*clientcmdapi.AuthInfo{"reader": {Token: tok.Status.Token}}
	admin.Contexts[admin.CurrentContext].AuthInfo = "reader"
	readerConfig := filepath.Join(t.TempDir(), "reader")
	if err := clientcmd.WriteToFile(*admin, readerConfig); err != nil {
		t.Fatal(err)
	}
	v2 := e.push(t, "pr-2")
	code, _, stderr = e.deploy(t, "--image", v2, "--kubeconfig", readerConfig, "--replicas", "5")
	if code != 3 || !strings.Contains(stderr, "apply Deployment/ranker") || !strings.Contains(stderr, "forbidden") || !strings.Contains(stderr, "RBAC permission") {
		t.Fatalf("RBAC: exit %d:\n%s", code, stderr)
	}
	if got := e.image(t, "ranker"); got != v1 {
		t.Errorf("a refused deploy changed the image to %s", got)
	}
	_ = os.Remove(readerConfig)
}

// The deploy action on a push to main finds the pull request the pushed
// commit merged through the GitHub API, deploys that pull request's pr-N
// image by digest, moves the champion, and records a GitHub deployment.
// Nodes: kwok's (the action's GitHub side is what is tested).
func TestDeployActionOnMerge(t *testing.T) {
	e := newDeployEnv(t)
	e.push(t, "pr-6")
	pr7 := e.push(t, "pr-7")
	merge, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
	gh := &forgetest.GitHub{Pulls: map[string][]map[string]any{
		merge: {{"number": 7, "merged_at": "2026-12-01T10:00:00Z", "head": map[string]any{"sha": head}}},
	}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	runner := actiontest.NewRunner(t, `{"after": "`+merge+`", "before": "`+strings.Repeat("9", 40)+`", "ref": "refs/heads/main"}`)
	st, _ := stage.Lookup("deploy")
	inputs := map[string]string{}
	for _, s := range st.InputParams() {
		inputs[s.Name] = s.Default
	}
	for k, v := range map[string]string{
		"target": "kubernetes", "image": e.repo.String(), "name": "ranker", "namespace": e.ns,
		"kubeconfig": e.c.Kubeconfig, "timeout": "2m", "github-token": "ghs_token",
		"registry-username": "", "registry-password": "",
	} {
		inputs[k] = v
	}
	vars := runner.Vars("push", inputs)
	vars["GITHUB_API_URL"] = srv.URL + "/"
	vars["GITHUB_SHA"] = merge
	env := actiontest.NewEnv(t, vars)
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"action", "deploy"}, &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: env.Getenv})
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := actiontest.ParseOutputs(t, actiontest.ReadFile(t, runner.Output))
	if out["ref"] != pr7 || out["status"] != "deployed" {
		t.Errorf("outputs %v, want ref %s deployed", out, pr7)
	}
	if got := e.image(t, "ranker"); got != pr7 {
		t.Errorf("deployment runs %s, want pull request 7's image %s", got, pr7)
	}
	d, _ := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), "ranker", metav1.GetOptions{})
	if d.Labels["ferry.dev/pull-request"] != "7" || d.Labels["ferry.dev/git-sha"] != head {
		t.Errorf("labels %v, want the pull request and its head sha", d.Labels)
	}
	if e.tagDigest("champion") != pr7 {
		t.Errorf("champion %s", e.tagDigest("champion"))
	}
	if len(gh.Deployments) != 1 || gh.Deployments[0]["ref"] != head || gh.Deployments[0]["environment"] != "production" {
		t.Errorf("GitHub deployments %v", gh.Deployments)
	}
	if len(gh.DeploymentStatuses) != 1 || gh.DeploymentStatuses[0]["state"] != "success" {
		t.Errorf("GitHub deployment statuses %v", gh.DeploymentStatuses)
	}
	if !strings.Contains(actiontest.ReadFile(t, runner.Summary), "ranker: deployed") {
		t.Errorf("summary:\n%s", actiontest.ReadFile(t, runner.Summary))
	}
}

package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferry-ml/ferry/internal/actionio"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/templates/manifests"
)

// deployParams is `ferry deploy`'s parameters, read and checked.
type deployParams struct {
	target, image, name, namespace, kubeconfig string
	createNamespace, promote, stop, recheck    bool
	config                                     string
	replicas, maxReplicas, gpus, canary, pr    int
	timeout, analysis, unschedulableGrace      time.Duration
	cpu, memory, localDir, environment, token  string
	labels, nodeSelector                       map[string]string
	tolerations                                []manifests.Toleration
	remote                                     []remote.Option
}

func readDeployParams(env *Env, in *input.Reader) (*deployParams, error) {
	p := &deployParams{
		target: in.Enum("target"), image: in.String("image"), name: in.String("name"), namespace: in.String("namespace"),
		kubeconfig: in.String("kubeconfig"), createNamespace: in.Bool("create-namespace"), promote: in.Bool("promote"),
		stop: in.Bool("stop"), replicas: in.Int("replicas"), maxReplicas: in.Int("max-replicas"), gpus: in.Int("replica-gpus"),
		canary: in.Int("canary"), pr: in.Int("pull-request"), timeout: in.Duration("timeout"), analysis: in.Duration("analysis"),
		unschedulableGrace: in.Duration("unschedulable-grace"), cpu: in.String("cpu"), memory: in.String("memory"),
		localDir: in.String("local-dir"), recheck: in.Bool("recheck"), config: in.String("config"),
	}
	labelList, selectorList, tolerationList := in.List("pod-label"), in.List("node-selector"), in.List("toleration")
	var user, password string
	if env.Action != nil {
		p.environment, p.token = in.String("environment"), in.String("github-token")
		user, password = in.String("registry-username"), in.String("registry-password")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	p.remote = []remote.Option{registryAuth(user, password)}
	bad := func(param, value, want string) error {
		return &input.Error{Param: in.Describe(param), Value: value, Want: want}
	}
	var err error
	if p.labels, err = keyValues(labelList); err != nil {
		return nil, bad("pod-label", strings.Join(labelList, ","), err.Error())
	}
	if p.nodeSelector, err = keyValues(selectorList); err != nil {
		return nil, bad("node-selector", strings.Join(selectorList, ","), err.Error())
	}
	for _, s := range tolerationList {
		t, err := kube.ParseToleration(s)
		if err != nil {
			return nil, bad("toleration", s, err.Error())
		}
		p.tolerations = append(p.tolerations, manifests.Toleration{Key: t.Key, Value: t.Value, Effect: string(t.Effect)})
	}
	switch {
	case p.replicas < 1 || p.replicas > 1000:
		return nil, bad("replicas", strconv.Itoa(p.replicas), "a number of replicas from 1 to 1000")
	case p.maxReplicas != 0 && p.maxReplicas < p.replicas:
		return nil, bad("max-replicas", strconv.Itoa(p.maxReplicas), "0 (no autoscaler) or at least --replicas")
	case p.canary < 0 || p.canary >= 100:
		return nil, bad("canary", strconv.Itoa(p.canary), "a percentage from 0 (no canary) to 99")
	case p.gpus < 0:
		return nil, bad("replica-gpus", strconv.Itoa(p.gpus), "0 or more")
	case p.timeout <= 0:
		return nil, bad("timeout", p.timeout.String(), "a positive duration such as 10m")
	}
	for _, q := range []struct{ param, v string }{{"cpu", p.cpu}, {"memory", p.memory}} {
		if _, err := resource.ParseQuantity(q.v); err != nil {
			return nil, bad(q.param, q.v, "a Kubernetes quantity such as 500m or 512Mi")
		}
	}
	if p.stop && p.target != "local" {
		return nil, usageErrorf("--stop stops a local deployment: use it with --target local")
	}
	if p.image == "" && !p.stop {
		return nil, usageErrorf("give the image to deploy with --image")
	}
	return p, nil
}

// keyValues parses KEY=VALUE pairs whose keys and values are valid
// Kubernetes label keys and values.
func keyValues(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("KEY=VALUE pairs; %q has no '='", kv)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("valid label keys; %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("valid label values; %q: %s", v, errs[0])
		}
		out[k] = v
	}
	return out, nil
}

// runDeploy is `ferry deploy` and the deploy action.
func runDeploy(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	p, err := readDeployParams(env, in)
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(env.Stderr, "ferry deploy: "+format+"\n", args...) }
	if p.target == "local" {
		return deployLocal(ctx, env, p, logf)
	}
	if p.name != "" {
		if err := deploy.ValidateNames(p.name, p.namespace); err != nil {
			return nil, usageErrorf("%v", err)
		}
	}
	image, sha, located, err := locateImage(ctx, env, p, logf)
	if err != nil {
		return nil, err
	}
	pinned, err := deploy.Resolve(ctx, image, p.remote...)
	if errors.Is(err, deploy.ErrNotFound) && located != "" {
		// The merged pull request (or pushed commit) produced no image:
		// it changed nothing the model is made from. Nothing to roll out.
		summary := fmt.Sprintf("### ⏭️ Nothing to deploy\n\n%s has no image (%s): it changed no file of the model, so the train step packaged nothing. What serves, and the champion tag, stay as they are.\n", located, image)
		logf("skipped: %s has no image %s", located, image)
		return &Result{Outputs: map[string]string{"status": "skipped"}, Summary: summary}, nil
	}
	if err != nil {
		return nil, err
	}
	if p.recheck {
		if res, err := recheck(ctx, in, p, pinned, logf); err != nil || res != nil {
			return res, err
		}
	}
	if p.name == "" {
		p.name = pinned.Context().RepositoryStr()[strings.LastIndexByte(pinned.Context().RepositoryStr(), '/')+1:]
	}
	if err := deploy.ValidateNames(p.name, p.namespace); err != nil {
		return nil, usageErrorf("%v", err)
	}
	cfg, err := kube.Config(p.kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kube.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	k := &deploy.Kubernetes{
		Client: cs,
		Spec: manifests.Deploy{
			Name: p.name, Namespace: p.namespace, Service: p.name, Model: p.name,
			Replicas: p.replicas, MaxReplicas: p.maxReplicas, TargetCPUPercent: 70, Port: oci.ServePort,
			CPU: p.cpu, Memory: p.memory, GPUs: p.gpus, NodeSelector: p.nodeSelector, Tolerations: p.tolerations, Labels: p.labels,
			GitSHA: sha, PullRequest: p.pr, ProgressDeadlineSeconds: int(max(p.timeout, 10*time.Second).Seconds()),
		},
		CreateNamespace: p.createNamespace, Timeout: p.timeout,
		Canary: p.canary, Analysis: p.analysis, UnschedulableGrace: p.unschedulableGrace,
		Log: logf,
	}
	res, derr := k.Deploy(ctx, pinned.String())
	out := map[string]string{"digest": digestOf(res.Image), "ref": res.Image, "previous-digest": digestOf(res.Previous), "status": res.Status}
	summary := deploySummary(p, res, derr)
	if derr == nil && p.promote {
		prev, err := deploy.Promote(ctx, pinned, p.remote...)
		if err != nil {
			derr = fmt.Errorf("deployed %s, but moving the champion tag failed: %w", pinned, err)
		} else if prev != pinned.String() {
			logf("champion is now %s (champion-prev: %s)", pinned.DigestStr(), cmp.Or(prev, "none"))
		}
	}
	if env.Action != nil && p.token != "" && res.Status != "" {
		recordDeployment(ctx, env, p, sha, res, derr, logf)
	}
	if derr == nil {
		fmt.Fprintln(env.Stdout, res.Image)
	}
	return &Result{Outputs: out, Summary: summary, Err: derr}, nil
}

// locateImage turns --image into a reference to resolve: as given when it
// has a tag or digest; for a bare repository, the merged pull request's
// pr-N tag (found from the pushed commit through the GitHub API when
// --pull-request is not given), else sha-COMMIT. It also returns the git
// sha the image was built from, for the objects' labels, and, when ferry
// chose the tag, what it stands for ("pull request #7", "commit abc1234"),
// so that a missing image can be reported as nothing to deploy.
func locateImage(ctx context.Context, env *Env, p *deployParams, logf func(string, ...any)) (image, sha, located string, err error) {
	if env.Event != nil {
		sha = env.Event.HeadSHA
	}
	ref, err := name.ParseReference(p.image, name.WithDefaultTag(""))
	if err != nil {
		return "", "", "", usageErrorf("--image %q: %v", p.image, err)
	}
	if t, ok := ref.(name.Tag); !ok || t.TagStr() != "" {
		return p.image, sha, "", nil
	}
	if p.pr == 0 && env.Event != nil && env.Event.Name == "push" && p.token != "" {
		fc, err := forge.ForRepository(p.token, env.Event.APIURL, env.Event.Repository)
		if err != nil {
			return "", "", "", err
		}
		number, head, err := fc.MergedPullRequest(ctx, env.Event.SHA)
		if err != nil {
			return "", "", "", err
		}
		if number > 0 {
			p.pr, sha = number, head
			logf("commit %s merged pull request #%d (head %s)", short(env.Event.SHA, 7), number, short(head, 7))
		}
	}
	if p.pr > 0 {
		return p.image + ":pr-" + strconv.Itoa(p.pr), sha, "pull request #" + strconv.Itoa(p.pr), nil
	}
	if sha == "" {
		return "", "", "", usageErrorf("--image %s names a repository without a tag: give IMAGE:TAG or IMAGE@DIGEST, or --pull-request N", p.image)
	}
	return p.image + ":sha-" + sha, sha, "commit " + short(sha, 7), nil
}

func deployLocal(ctx context.Context, env *Env, p *deployParams, logf func(string, ...any)) (*Result, error) {
	if p.name == "" {
		p.name = "model"
	}
	if errs := validation.IsDNS1123Label(p.name); len(errs) > 0 {
		return nil, usageErrorf("invalid --name %q: %s", p.name, errs[0])
	}
	if p.stop {
		if err := deploy.StopLocal(p.localDir, p.name); err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stdout, "stopped %s\n", p.name)
		return &Result{Outputs: map[string]string{"status": "stopped"}}, nil
	}
	img, digest, err := oci.OpenImage(ctx, p.image, v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, p.remote...)
	if err != nil {
		return nil, err
	}
	l := &deploy.Local{Dir: p.localDir, Name: p.name, Log: logf}
	res, err := l.Deploy(ctx, img)
	if err != nil {
		return nil, err
	}
	if env.Action != nil {
		// Inside the action's container the server would die with the
		// step: what ran is a smoke test, so stop it and say so.
		if err := deploy.StopLocal(p.localDir, p.name); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("%s: the image's ferry-serve started, loaded the model and answered the smoke test at %s, then was stopped: "+
			"a server started inside the action's container ends with the step. To keep a model serving, deploy with target: kubernetes.", p.name, res.URL)
		env.Action.Notice(actionio.Annotation{Title: "ferry deploy: smoke test only", Message: msg})
		return &Result{
			Outputs: map[string]string{"digest": digest.String(), "status": "smoke-tested"},
			Summary: fmt.Sprintf("### ✅ %s: smoke test passed\n\n%s\n", p.name, msg),
		}, nil
	}
	logf("%s serves %s at %s (PID %d); stop it with: ferry deploy --target local --name %s --stop", p.name, digest, res.URL, res.PID, p.name)
	fmt.Fprintln(env.Stdout, res.URL)
	return &Result{
		Outputs: map[string]string{"digest": digest.String(), "status": deploy.StatusDeployed, "url": res.URL},
		Summary: fmt.Sprintf("### 🚀 %s serves locally\n\n%s at %s\n", p.name, digest, res.URL),
	}, nil
}

// recordDeployment records a GitHub deployment with its final status. A
// failure to record is a warning: the rollout itself is what counts.
func recordDeployment(ctx context.Context, env *Env, p *deployParams, sha string, res deploy.Result, derr error, logf func(string, ...any)) {
	fc, err := forge.ForRepository(p.token, env.Event.APIURL, env.Event.Repository)
	if err != nil {
		logf("not recording a GitHub deployment: %v", err)
		return
	}
	state, desc := "success", fmt.Sprintf("%s %s", res.Status, res.Image)
	if derr != nil {
		state = "failure"
	}
	ref := sha
	if ref == "" {
		ref = env.Event.SHA
	}
	if _, err := fc.RecordDeployment(ctx, forge.Deployment{Ref: ref, Environment: p.environment, Description: truncate(desc, 140),
		State: state, LogURL: env.Event.RunURL, Payload: map[string]any{"image": res.Image, "namespace": p.namespace, "name": p.name}}); err != nil {
		env.Action.Warning(actionio.Annotation{Message: err.Error()})
	}
}

func deploySummary(p *deployParams, res deploy.Result, err error) string {
	var b strings.Builder
	icon := "🚀"
	if err != nil {
		icon = "🛑"
	}
	fmt.Fprintf(&b, "### %s %s: %s\n\n", icon, p.name, res.Status)
	fmt.Fprintf(&b, "| | |\n|---|---|\n| serving | `%s` |\n| before | `%s` |\n| namespace | `%s` |\n", cmp.Or(res.Image, "none"), cmp.Or(res.Previous, "none"), p.namespace)
	if p.canary > 0 {
		fmt.Fprintf(&b, "| canary | %d%% for %s |\n", p.canary, p.analysis)
	}
	if err != nil {
		fmt.Fprintf(&b, "\n%s\n", err)
	}
	return b.String()
}

func digestOf(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

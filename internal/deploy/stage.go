package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/ferry-ml/ferry/internal/forge"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
	"github.com/ferry-ml/ferry/templates/manifests"
)

// Config is the deploy stage's: which image, where, and how it rolls out.
// A front end fills it from flags or action inputs; its errors name
// parameters by their declared names.
type Config struct {
	Target                                string // "kubernetes" or "local"
	Image                                 string // IMAGE:TAG, IMAGE@DIGEST, a repository alone, or (local) an OCI layout DIR@DIGEST
	Name, Namespace, Kubeconfig           string
	CreateNamespace, Promote, Stop        bool
	Replicas, MaxReplicas, GPUs, Canary   int
	PullRequest                           int // the merged pull request whose pr-N image to deploy; 0: from the push
	Timeout, Analysis, UnschedulableGrace time.Duration
	CPU, Memory                           string
	PodLabels, NodeSelector, Tolerations  []string // as written: KEY=VALUE, KEY[=VALUE][:EFFECT]
	LocalDir                              string
	// Recheck evaluates the image against the champion that serves now
	// before anything rolls out (Deps.Recheck).
	Recheck bool

	// In an action: the run's GitHub context, the environment to record
	// the deployment in, and the token to find the merged pull request and
	// record it with.
	Event              *actionio.Event
	Environment, Token string

	labels, nodeSelector map[string]string
	tolerations          []manifests.Toleration
}

// Validate checks the config and parses its lists.
func (c *Config) Validate() error {
	bad := func(param, value, want string) error { return &input.Error{Name: param, Value: value, Want: want} }
	var err error
	if c.labels, err = kube.ParseLabels(c.PodLabels); err != nil {
		return bad("pod-label", strings.Join(c.PodLabels, ","), err.Error())
	}
	if c.nodeSelector, err = kube.ParseLabels(c.NodeSelector); err != nil {
		return bad("node-selector", strings.Join(c.NodeSelector, ","), err.Error())
	}
	c.tolerations = nil
	for _, s := range c.Tolerations {
		t, err := kube.ParseToleration(s)
		if err != nil {
			return bad("toleration", s, err.Error())
		}
		c.tolerations = append(c.tolerations, manifests.Toleration{Key: t.Key, Value: t.Value, Effect: string(t.Effect)})
	}
	switch {
	case c.Replicas < 1 || c.Replicas > 1000:
		return bad("replicas", strconv.Itoa(c.Replicas), "a number of replicas from 1 to 1000")
	case c.MaxReplicas != 0 && c.MaxReplicas < c.Replicas:
		return bad("max-replicas", strconv.Itoa(c.MaxReplicas), "0 (no autoscaler) or at least the replicas")
	case c.Canary < 0 || c.Canary >= 100:
		return bad("canary", strconv.Itoa(c.Canary), "a percentage from 0 (no canary) to 99")
	case c.GPUs < 0:
		return bad("replica-gpus", strconv.Itoa(c.GPUs), "0 or more")
	case c.Timeout <= 0:
		return bad("timeout", c.Timeout.String(), "a positive duration such as 10m")
	}
	for _, q := range []struct{ param, v string }{{"cpu", c.CPU}, {"memory", c.Memory}} {
		if _, err := resource.ParseQuantity(q.v); err != nil {
			return bad(q.param, q.v, "a Kubernetes quantity such as 500m or 512Mi")
		}
	}
	if c.Stop && c.Target != "local" {
		return bad("stop", "true", "false with target "+c.Target+": it stops a local deployment (target local)")
	}
	if c.Image == "" && !c.Stop {
		return &input.Error{Name: "image", Missing: true, Want: "the image to deploy: IMAGE:TAG, IMAGE@DIGEST or a repository"}
	}
	if c.Target == "local" {
		if c.Name == "" {
			c.Name = "model"
		}
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			return bad("name", c.Name, errs[0])
		}
		return nil
	}
	return c.validateNames()
}

// validateNames checks the name (when set) and the namespace.
func (c *Config) validateNames() error {
	if p := nameProblem("name", c.Name); c.Name != "" && p != "" {
		return &input.Error{Name: "name", Value: c.Name, Want: "a DNS-1123 label: " + p}
	}
	if p := nameProblem("namespace", c.Namespace); p != "" {
		return &input.Error{Name: "namespace", Value: c.Namespace, Want: "a DNS-1123 label: " + p}
	}
	return nil
}

// Deps are what Run uses of the outside world.
type Deps struct {
	Stdout io.Writer // the deployed reference (or the local URL)
	Log    func(format string, args ...any)
	// Action, in an action, takes the annotations; nil on the command line.
	Action *actionio.Action
	Remote []remote.Option // registry credentials
	// Recheck, called when Config.Recheck, evaluates pinned against the
	// champion that serves now; an Outcome stops the rollout with it. It
	// is the front end's, so that deploy links no learner.
	Recheck func(ctx context.Context, pinned name.Digest, logf func(string, ...any)) (*Outcome, error)
}

// Outcome is what a deploy stage reports: its outputs, its summary, and
// the error that fails it after they are written.
type Outcome struct {
	Outputs map[string]string
	Summary string
	Err     error
}

// Run deploys; cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, deps Deps) (*Outcome, error) {
	logf := deps.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if cfg.Target == "local" {
		return runLocal(ctx, cfg, deps, logf)
	}
	image, sha, located, err := locateImage(ctx, &cfg, logf)
	if err != nil {
		return nil, err
	}
	pinned, err := Resolve(ctx, image, deps.Remote...)
	if errors.Is(err, ErrNotFound) && located != "" {
		// The merged pull request (or pushed commit) produced no image:
		// it changed nothing the model is made from. Nothing to roll out.
		summary := fmt.Sprintf("### ⏭️ Nothing to deploy\n\n%s has no image (%s): it changed no file of the model, so the train step packaged nothing. What serves, and the champion tag, stay as they are.\n", located, image)
		logf("skipped: %s has no image %s", located, image)
		return &Outcome{Outputs: map[string]string{"status": "skipped"}, Summary: summary}, nil
	}
	if err != nil {
		return nil, err
	}
	if cfg.Recheck && deps.Recheck != nil {
		if out, err := deps.Recheck(ctx, pinned, logf); err != nil || out != nil {
			return out, err
		}
	}
	if cfg.Name == "" {
		repo := pinned.Context().RepositoryStr()
		cfg.Name = repo[strings.LastIndexByte(repo, '/')+1:]
		if err := ValidateNames(cfg.Name, cfg.Namespace); err != nil {
			return nil, &input.Error{Name: "name", Missing: true, Want: fmt.Sprintf("a name for the deployment: the image's (%s) is not one: %v", cfg.Name, err)}
		}
	}
	rc, err := kube.Config(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kube.Connect(ctx, rc)
	if err != nil {
		return nil, err
	}
	k := &Kubernetes{
		Client: cs,
		Spec: manifests.Deploy{
			Name: cfg.Name, Namespace: cfg.Namespace, Service: cfg.Name, Model: cfg.Name,
			Replicas: cfg.Replicas, MaxReplicas: cfg.MaxReplicas, TargetCPUPercent: 70, Port: oci.ServePort,
			CPU: cfg.CPU, Memory: cfg.Memory, GPUs: cfg.GPUs, NodeSelector: cfg.nodeSelector, Tolerations: cfg.tolerations, Labels: cfg.labels,
			GitSHA: sha, PullRequest: cfg.PullRequest, ProgressDeadlineSeconds: int(max(cfg.Timeout, 10*time.Second).Seconds()),
		},
		CreateNamespace: cfg.CreateNamespace, Timeout: cfg.Timeout,
		Canary: cfg.Canary, Analysis: cfg.Analysis, UnschedulableGrace: cfg.UnschedulableGrace,
		Log: logf,
	}
	res, derr := k.Deploy(ctx, pinned.String())
	out := map[string]string{"digest": digestOf(res.Image), "ref": res.Image, "previous-digest": digestOf(res.Previous), "status": res.Status}
	summary := summaryOf(cfg, res, derr)
	if derr == nil && cfg.Promote {
		prev, err := Promote(ctx, pinned, deps.Remote...)
		if err != nil {
			derr = fmt.Errorf("deployed %s, but moving the champion tag failed: %w", pinned, err)
		} else if prev != pinned.String() {
			logf("champion is now %s (champion-prev: %s)", pinned.DigestStr(), cmp.Or(prev, "none"))
		}
	}
	if cfg.Event != nil && deps.Action != nil && cfg.Token != "" && res.Status != "" {
		record(ctx, cfg, deps, sha, res, derr, logf)
	}
	if derr == nil {
		fmt.Fprintln(deps.Stdout, res.Image)
	}
	return &Outcome{Outputs: out, Summary: summary, Err: derr}, nil
}

// locateImage turns the image parameter into a reference to resolve: as
// given when it has a tag or digest; for a bare repository, the merged pull
// request's pr-N tag (found from the pushed commit through the GitHub API
// when PullRequest is not set), else sha-COMMIT. It also returns the git
// sha the image was built from, for the objects' labels, and, when ferry
// chose the tag, what it stands for ("pull request #7", "commit abc1234"),
// so that a missing image can be reported as nothing to deploy.
func locateImage(ctx context.Context, cfg *Config, logf func(string, ...any)) (image, sha, located string, err error) {
	ev := cfg.Event
	if ev != nil {
		sha = ev.HeadSHA
	}
	ref, err := name.ParseReference(cfg.Image, name.WithDefaultTag(""))
	if err != nil {
		return "", "", "", &input.Error{Name: "image", Value: cfg.Image, Want: "an image reference: " + err.Error()}
	}
	if t, ok := ref.(name.Tag); !ok || t.TagStr() != "" {
		return cfg.Image, sha, "", nil
	}
	if cfg.PullRequest == 0 && ev != nil && ev.Name == "push" && cfg.Token != "" {
		fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
		if err != nil {
			return "", "", "", err
		}
		number, head, err := fc.MergedPullRequest(ctx, ev.SHA)
		if err != nil {
			return "", "", "", err
		}
		if number > 0 {
			cfg.PullRequest, sha = number, head
			logf("commit %s merged pull request #%d (head %s)", short(ev.SHA), number, short(head))
		}
	}
	if cfg.PullRequest > 0 {
		return cfg.Image + ":pr-" + strconv.Itoa(cfg.PullRequest), sha, "pull request #" + strconv.Itoa(cfg.PullRequest), nil
	}
	if sha == "" {
		return "", "", "", &input.Error{Name: "image", Value: cfg.Image,
			Want: "IMAGE:TAG or IMAGE@DIGEST, or a repository with the pull request to deploy (pull-request N): it names a repository without a tag"}
	}
	return cfg.Image + ":sha-" + sha, sha, "commit " + short(sha), nil
}

func short(sha string) string { return sha[:min(7, len(sha))] }

// runLocal runs the image's own ferry-serve as a local process (or stops
// one).
func runLocal(ctx context.Context, cfg Config, deps Deps, logf func(string, ...any)) (*Outcome, error) {
	if cfg.Stop {
		if err := StopLocal(cfg.LocalDir, cfg.Name); err != nil {
			return nil, err
		}
		fmt.Fprintf(deps.Stdout, "stopped %s\n", cfg.Name)
		return &Outcome{Outputs: map[string]string{"status": "stopped"}}, nil
	}
	img, digest, err := oci.OpenImage(ctx, cfg.Image, v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, deps.Remote...)
	if err != nil {
		return nil, err
	}
	l := &Local{Dir: cfg.LocalDir, Name: cfg.Name, Log: logf}
	res, err := l.Deploy(ctx, img)
	if err != nil {
		return nil, err
	}
	if deps.Action != nil {
		// Inside the action's container the server would die with the
		// step: what ran is a smoke test, so stop it and say so.
		if err := StopLocal(cfg.LocalDir, cfg.Name); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("%s: the image's ferry-serve started, loaded the model and answered the smoke test at %s, then was stopped: "+
			"a server started inside the action's container ends with the step. To keep a model serving, deploy with target: kubernetes.", cfg.Name, res.URL)
		deps.Action.Notice(actionio.Annotation{Title: "ferry deploy: smoke test only", Message: msg})
		return &Outcome{
			Outputs: map[string]string{"digest": digest.String(), "status": "smoke-tested"},
			Summary: fmt.Sprintf("### ✅ %s: smoke test passed\n\n%s\n", cfg.Name, msg),
		}, nil
	}
	logf("%s serves %s at %s (PID %d); stop it with: ferry deploy --target local --name %s --stop", cfg.Name, digest, res.URL, res.PID, cfg.Name)
	fmt.Fprintln(deps.Stdout, res.URL)
	return &Outcome{
		Outputs: map[string]string{"digest": digest.String(), "status": StatusDeployed, "url": res.URL},
		Summary: fmt.Sprintf("### 🚀 %s serves locally\n\n%s at %s\n", cfg.Name, digest, res.URL),
	}, nil
}

// record records a GitHub deployment with its final status. A failure to
// record is a warning: the rollout itself is what counts.
func record(ctx context.Context, cfg Config, deps Deps, sha string, res Result, derr error, logf func(string, ...any)) {
	ev := cfg.Event
	fc, err := forge.ForRepository(cfg.Token, ev.APIURL, ev.Repository)
	if err != nil {
		logf("not recording a GitHub deployment: %v", err)
		return
	}
	state, desc := "success", fmt.Sprintf("%s %s", res.Status, res.Image)
	if derr != nil {
		state = "failure"
	}
	payload := map[string]any{"image": res.Image, "namespace": cfg.Namespace, "name": cfg.Name}
	if cfg.PullRequest > 0 {
		payload["pull_request"] = cfg.PullRequest // for ferry model history
	}
	if _, err := fc.RecordDeployment(ctx, forge.Deployment{Ref: cmp.Or(sha, ev.SHA), Environment: cfg.Environment, Description: truncate(desc, 140),
		State: state, LogURL: ev.RunURL, Payload: payload}); err != nil {
		deps.Action.Warning(actionio.Annotation{Message: err.Error()})
	}
}

func summaryOf(cfg Config, res Result, err error) string {
	var b strings.Builder
	icon := "🚀"
	if err != nil {
		icon = "🛑"
	}
	fmt.Fprintf(&b, "### %s %s: %s\n\n", icon, cfg.Name, res.Status)
	fmt.Fprintf(&b, "| | |\n|---|---|\n| serving | `%s` |\n| before | `%s` |\n| namespace | `%s` |\n", cmp.Or(res.Image, "none"), cmp.Or(res.Previous, "none"), cfg.Namespace)
	if cfg.Canary > 0 {
		fmt.Fprintf(&b, "| canary | %d%% for %s |\n", cfg.Canary, cfg.Analysis)
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

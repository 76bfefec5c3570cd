package templates_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry/templates/manifests"
	"github.com/ferry-ml/ferry/templates/report"
	"github.com/ferry-ml/ferry/templates/workflows"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

var sampleReport = report.Report{
	Model: "ranker", Verdict: "pass", Headline: "NDCG@10 +0.0123, significant", Confidence: 0.95,
	Metrics: []report.MetricRow{
		{Name: "ndcg@10", Champion: 0.7431, Candidate: 0.7554, Delta: 0.0123, Low: 0.0041, High: 0.0207, HasInterval: true, Verdict: "better"},
		{Name: "mrr", Champion: 0.61, Candidate: 0.6050, Delta: -0.005, Low: -0.012, High: 0.003, HasInterval: true, Verdict: "no significant change"},
		{Name: "rows", Champion: math.NaN(), Candidate: 768, Delta: math.NaN(), Verdict: ""},
	},
	Gates:   []report.GateRow{{Text: "ndcg@10 max-drop 1%", Pass: true, Message: "ndcg@10 went from 0.7431 to 0.7554 (+1.66%), gate ndcg@10 max-drop 1%"}},
	Charts:  []string{"xychart-beta\n    x-axis [ndcg@10, mrr]\n    bar [0.7431, 0.61]\n    bar [0.7554, 0.605]"},
	Details: "Trained on 3,005 rows.", Version: "0.1.0",
	RunURL: "https://github.com/shop/ranker/actions/runs/42", HeadSHA: "cccccccccccccccccccccccccccccccccccccccc",
}

func TestComment(t *testing.T) {
	got, err := report.Comment(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, report.CommentMarker("ranker")+"\n") {
		t.Errorf("the comment does not start with its marker:\n%s", got)
	}
	golden(t, "comment.md", got)
}

func TestSummary(t *testing.T) {
	got, err := report.Summary(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "<!-- ferry:report") {
		t.Error("the summary carries the comment's marker")
	}
	golden(t, "summary.md", got)
}

var sampleDeploy = manifests.Deploy{
	Name: "ranker-canary", Namespace: "search", Service: "ranker", Model: "ranker",
	Image:    "registry.example.com/shop/ranker@sha256:" + strings.Repeat("a", 64),
	Replicas: 3, MaxReplicas: 6, TargetCPUPercent: 70, Port: 8080, CPU: "250m", Memory: "256Mi",
	GPUs: 1, NodeSelector: map[string]string{"ferry.dev/pool": "gpu"},
	Tolerations: []manifests.Toleration{{Key: "ferry.dev/real-node", Effect: "NoSchedule"}, {Key: "dedicated", Value: "search"}},
	GitSHA:      strings.Repeat("c", 40), PullRequest: 42, ProgressDeadlineSeconds: 120,
	Track: "canary", Labels: map[string]string{"team": "search"},
}

// The manifests decode strictly into the Kubernetes API types: a typo in a
// field name fails here, not in the cluster.
func TestManifests(t *testing.T) {
	objs := map[string]any{
		"deployment.yaml.tmpl": &appsv1.Deployment{},
		"service.yaml.tmpl":    &corev1.Service{},
		"pdb.yaml.tmpl":        &policyv1.PodDisruptionBudget{},
		"hpa.yaml.tmpl":        &autoscalingv2.HorizontalPodAutoscaler{},
	}
	if len(objs) != len(manifests.Manifests) {
		t.Fatalf("test covers %d manifests, templates has %d", len(objs), len(manifests.Manifests))
	}
	for _, name := range manifests.Manifests {
		out, err := manifests.Render(name, sampleDeploy)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict([]byte(out), objs[name]); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
		golden(t, strings.TrimSuffix(name, ".tmpl"), out)
	}
	d := objs["deployment.yaml.tmpl"].(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != sampleDeploy.Image {
		t.Errorf("image %q", c.Image)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/v2/health/ready" || c.LivenessProbe.HTTPGet.Path != "/v2/health/live" {
		t.Error("probes do not use the Open Inference Protocol's health endpoints")
	}
	want := map[string]string{
		"app.kubernetes.io/name": "ranker", "app.kubernetes.io/instance": "ranker-canary",
		"app.kubernetes.io/managed-by": "ferry", "ferry.dev/model": "ranker",
		"ferry.dev/git-sha": sampleDeploy.GitSHA, "ferry.dev/pull-request": "42",
		"ferry.dev/track": "canary", "team": "search",
	}
	if diff := cmp.Diff(want, d.Spec.Template.Labels); diff != "" {
		t.Errorf("pod labels (-want +got):\n%s", diff)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template", k, v)
		}
	}
	if g := c.Resources.Limits["nvidia.com/gpu"]; g.Value() != 1 {
		t.Errorf("gpu limit %v", g)
	}
	wantTol := []corev1.Toleration{
		{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: "ferry.dev/real-node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "search"},
	}
	if diff := cmp.Diff(wantTol, d.Spec.Template.Spec.Tolerations); diff != "" {
		t.Errorf("a GPU pod tolerates the nvidia.com/gpu taint, then the ones asked for (-want +got):\n%s", diff)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("with a HorizontalPodAutoscaler the Deployment leaves replicas to it, got %d", *d.Spec.Replicas)
	}
}

func TestWorkflowsAreYAML(t *testing.T) {
	for file, name := range workflows.Workflows {
		for _, trainer := range []string{"builtin", "command"} {
			out, err := workflows.Render(name, workflows.Workflow{Version: "0.1.0", Trainer: trainer, RunsOn: "[self-hosted, gpu]"})
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
				t.Errorf("%s (%s): %v", file, trainer, err)
			}
			// retrain.yml only opens a pull request; model.yml then runs ferry.
			usesFerry := strings.Contains(out, "ferry-ml/ferry/actions/") || file == ".github/workflows/retrain.yml"
			if !usesFerry || strings.Contains(out, "[[") {
				t.Errorf("%s (%s) is not rendered:\n%s", file, trainer, out)
			}
		}
	}
}

func TestCommentSaysWhatIsUndefined(t *testing.T) {
	out, err := report.Comment(report.Report{Model: "ranker", Confidence: 0.95, Undefined: []string{"auc", "ndcg@1"},
		Metrics: []report.MetricRow{{Name: "logloss", Champion: math.NaN(), Candidate: 0.3, Delta: math.NaN()}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Undefined on this data, so not shown: auc, ndcg@1") {
		t.Errorf("comment:\n%s", out)
	}
}

// Text from a model or a user shows as written in a comment: a model name
// cannot add a heading, a link or end the hidden marker; a gate with
// backticks stays one code span.
func TestCommentEscapesUserText(t *testing.T) {
	model := "ranker\n# Approved --> <script>[click](http://x)"
	out, err := report.Comment(report.Report{Model: model, Verdict: "pass", Headline: "better", Confidence: 0.95,
		Gates: []report.GateRow{{Text: "auc >= 0.8 `rm`", Pass: true, Message: "ok"}}})
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(out, "\n")
	if strings.Count(first, "-->") != 1 || !strings.HasSuffix(first, "-->") {
		t.Errorf("the marker line was broken: %q", first)
	}
	for _, bad := range []string{"\n# Approved", "<script>", "[click](http://x)"} {
		if strings.Contains(rest, bad) {
			t.Errorf("comment contains %q unescaped:\n%s", bad, out)
		}
	}
	if !strings.Contains(rest, "``auc >= 0.8 `rm` ``") && !strings.Contains(rest, "`` auc >= 0.8 `rm` ``") {
		t.Errorf("the gate is not one code span:\n%s", out)
	}
	if report.CommentMarker(model) != first {
		t.Errorf("CommentMarker %q differs from the comment's first line %q", report.CommentMarker(model), first)
	}
}

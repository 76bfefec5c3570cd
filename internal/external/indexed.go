package external

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
)

// indexEnv is the variable that holds a pod's index in an Indexed Job of
// trials, set from the Job controller's annotation in every container.
const indexEnv = "FERRY_INDEX"

// RunIndexed runs jobs, the runs of a search's batch (one command, each
// with its own trial's environment), as one Indexed Job, one run per
// index, with the GPUs, node selector and tolerations of the backend. Each
// index fails on its own (backoffLimitPerIndex 0), so one trial's failure
// leaves the others running. Each index's collector pushes its output to
// ARTIFACT:train-NAME-INDEX, which is pulled into that run's FERRY_OUTPUT.
// It returns each run's outcome, in order (an *ExitError for a command
// that failed); its error is the engine's (a pod that cannot be scheduled
// or pulled), which fails the whole batch.
func (k Kubernetes) RunIndexed(ctx context.Context, jobs []Job, log io.Writer) ([]error, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	common, per, outs := splitEnv(jobs)
	name := "ferry-train-" + rand.String(6)
	artifact := k.Artifact + ":train-" + name
	job := jobs[0]
	job.Command = indexCase(per) + job.Command
	spec := k.jobSpec(name, artifact, job, common)
	indexed(spec, len(jobs))
	jc := k.Client.BatchV1().Jobs(k.Namespace)
	if _, err := jc.Create(ctx, spec, metav1.CreateOptions{FieldManager: kube.FieldManager}); err != nil {
		return nil, fmt.Errorf("create the trials' Job in namespace %s: %w", k.Namespace, err)
	}
	defer func() {
		bg := metav1.DeletePropagationBackground
		_ = jc.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{PropagationPolicy: &bg})
	}()
	fmt.Fprintf(log, "kubernetes: Job %s/%s runs %d trials, one per index (image %s)\n", k.Namespace, name, len(jobs), k.Image)
	if err := k.follow(ctx, name, func(*corev1.Pod) error { return nil }); err != nil {
		return nil, err
	}
	return k.indexOutcomes(ctx, name, artifact, outs)
}

// splitEnv sorts the runs' environments into what every pod shares and,
// per index, what differs (the trial's parameters and number), and keeps
// each run's output directory on this machine.
func splitEnv(jobs []Job) (common []corev1.EnvVar, per [][]corev1.EnvVar, outs []string) {
	envs := make([][]corev1.EnvVar, len(jobs))
	outs = make([]string, len(jobs))
	for i, j := range jobs {
		envs[i], outs[i] = podEnv(j.Env)
	}
	shared := func(v corev1.EnvVar) bool {
		for _, e := range envs {
			if !slices.Contains(e, v) {
				return false
			}
		}
		return true
	}
	per = make([][]corev1.EnvVar, len(jobs))
	for i, e := range envs {
		for _, v := range e {
			switch {
			case !shared(v):
				per[i] = append(per[i], v)
			case i == 0:
				common = append(common, v)
			}
		}
	}
	return common, per, outs
}

// indexCase is the shell that sets each index's own variables before the
// command: a case on the pod's index, each value single-quoted.
func indexCase(per [][]corev1.EnvVar) string {
	var b strings.Builder
	fmt.Fprintf(&b, "case \"$%s\" in\n", indexEnv)
	for i, vars := range per {
		fmt.Fprintf(&b, "%d) export", i)
		for _, v := range vars {
			fmt.Fprintf(&b, " %s=%s", v.Name, shellQuote(v.Value))
		}
		b.WriteString(" ;;\n")
	}
	fmt.Fprintf(&b, "*) echo \"ferry: no trial for index $%s\" >&2; exit 2 ;;\nesac\n", indexEnv)
	return b.String()
}

// shellQuote single-quotes s for sh: every ' becomes '\”.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// indexed makes spec an Indexed Job of n pods at once whose indexes fail
// on their own, with each container told its index and each collector
// pushing to the artifact's tag with the index appended.
func indexed(spec *batchv1.Job, n int) {
	spec.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	spec.Spec.Completions, spec.Spec.Parallelism = ptr.To(int32(n)), ptr.To(int32(n))
	spec.Spec.BackoffLimit, spec.Spec.BackoffLimitPerIndex = nil, ptr.To(int32(0))
	index := corev1.EnvVar{Name: indexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + indexAnnotation + "']"}}}
	pod := &spec.Spec.Template.Spec
	pod.InitContainers[0].Env = append([]corev1.EnvVar{index}, pod.InitContainers[0].Env...)
	collect := &pod.Containers[0]
	collect.Env = append(collect.Env, index)
	collect.Args[len(collect.Args)-1] += "-$(" + indexEnv + ")"
}

// indexOutcomes reads each index's outcome once the Job has finished: a
// pod that succeeded has its output pulled into the run's directory; one
// that failed gives its command's exit status and last lines.
func (k Kubernetes) indexOutcomes(ctx context.Context, job, artifact string, outs []string) ([]error, error) {
	pods, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil {
		return nil, fmt.Errorf("pods of the trials' Job %s: %w", job, err)
	}
	errs := make([]error, len(outs))
	seen := make([]bool, len(outs))
	for _, p := range pods.Items {
		i, err := strconv.Atoi(rankOf(&p))
		if err != nil || i < 0 || i >= len(outs) {
			continue
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			seen[i] = true
			ref := artifact + "-" + strconv.Itoa(i)
			if _, err := oci.PullModelPack(ctx, ref, outs[i], k.Remote...); err != nil {
				errs[i] = fmt.Errorf("the trial succeeded, but its model could not be collected from %s: %w", ref, err)
			}
		case corev1.PodFailed:
			seen[i] = true
			errs[i] = fmt.Errorf("pod %s failed", p.Name)
			if container, code, tail, ok := podExit(&p); ok && container == "train" {
				errs[i] = &ExitError{Code: code, Tail: tail}
			} else if ok {
				errs[i] = fmt.Errorf("the training command succeeded, but the pod's %s container exited with status %d: %s", container, code, strings.Join(tail, "; "))
			}
		}
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("the trials' Job %s finished, but index %d has no finished pod", job, i)
		}
	}
	return errs, nil
}

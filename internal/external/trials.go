package external

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
)

// RowsMediaType is the layer of the artifact that carries a search's rows
// to its trials' pods.
const RowsMediaType = "application/vnd.ferry.search.rows.v1+gob"

// TrialBatchEnv carries a batch's trials (train.TrialBatch, JSON) into each
// trial pod; the pod's index in the Indexed Job picks its trial.
const TrialBatchEnv = "FERRY_TRIAL_BATCH"

// Ship pushes a search's rows to the artifact repository, tagged
// search-RANDOM, for the trials' pods to pull by digest.
func (k Kubernetes) Ship(ctx context.Context, rows []byte) (string, error) {
	if k.Artifact == "" {
		return "", input.Paramf("artifact", "trials on the cluster need a repository to carry the search's rows to their pods: give it with %s")
	}
	d, err := oci.PushBlob(ctx, k.Artifact+":search-"+rand.String(6), RowsMediaType, rows, k.Remote...)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// PullRows is what a trial's pod does with Ship's reference: the rows,
// checked against their digest.
func PullRows(ctx context.Context, ref string, opts ...remote.Option) ([]byte, error) {
	return oci.PullBlob(ctx, ref, RowsMediaType, opts...)
}

// RunBatch runs a batch of n trials of ferry's own trainers as one
// Indexed Job: each pod runs ferry's image (`ferry search-trial`) on the
// rows at ref, its trial picked by its index, and writes the scored trial
// to its termination message, which this reads back once the Job
// completes. A trial that fails is a result; a pod that cannot run, or
// exits non-zero, is the engine's error and fails the batch with its last
// lines. The Job goes when the batch is read or fails.
func (k Kubernetes) RunBatch(ctx context.Context, ref string, spec []byte, n int, log io.Writer) ([][]byte, error) {
	if k.CollectorImage == "" {
		return nil, input.Paramf("collector-image", "trials on the cluster run ferry's own image: give it with %s")
	}
	name := "ferry-search-" + rand.String(6)
	jobs := k.Client.BatchV1().Jobs(k.Namespace)
	if _, err := jobs.Create(ctx, k.trialJob(name, ref, spec, n), metav1.CreateOptions{FieldManager: kube.FieldManager}); err != nil {
		return nil, fmt.Errorf("create the trials' Job in namespace %s: %w", k.Namespace, err)
	}
	defer func() {
		bg := metav1.DeletePropagationBackground
		_ = jobs.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{PropagationPolicy: &bg})
	}()
	fmt.Fprintf(log, "kubernetes: Job %s/%s runs %d trials (image %s)\n", k.Namespace, name, n, k.CollectorImage)
	err := k.follow(ctx, name, func(p *corev1.Pod) error {
		if _, code, tail, ok := podExit(p); ok {
			return fmt.Errorf("trial pod %s (index %s) exited with status %d: %s", p.Name, rankOf(p), code, strings.Join(tail, "; "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k.trialResults(ctx, name, n)
}

// trialResults reads each index's result from its pod's termination
// message.
func (k Kubernetes) trialResults(ctx context.Context, job string, n int) ([][]byte, error) {
	pods, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil {
		return nil, fmt.Errorf("pods of the trials' Job %s: %w", job, err)
	}
	out := make([][]byte, n)
	for _, p := range pods.Items {
		i, err := strconv.Atoi(rankOf(&p))
		if err != nil || i < 0 || i >= n || p.Status.Phase != corev1.PodSucceeded {
			continue
		}
		for _, s := range p.Status.ContainerStatuses {
			if t := s.State.Terminated; s.Name == "trial" && t != nil && t.Message != "" {
				out[i] = []byte(t.Message)
			}
		}
	}
	for i, r := range out {
		if r == nil {
			return nil, fmt.Errorf("the trials' Job %s completed, but index %d left no result in its termination message", job, i)
		}
	}
	return out, nil
}

// trialJob is the Indexed Job of one batch: n pods at once, none retried
// (a trial that fails is recorded as failed; a pod that fails is the
// engine's failure), on the nodes the run's selector and tolerations
// allow, without the GPU request of the command trainer: ferry's trainers
// run on the CPU.
func (k Kubernetes) trialJob(name, ref string, spec []byte, n int) *batchv1.Job {
	labels := map[string]string{"app.kubernetes.io/managed-by": "ferry", "app.kubernetes.io/component": "search"}
	for key, v := range k.Labels {
		labels[key] = v
	}
	trial := corev1.Container{
		Name: "trial", Image: k.CollectorImage, Args: []string{"search-trial", "--rows", ref},
		Env:             []corev1.EnvVar{{Name: TrialBatchEnv, Value: string(spec)}},
		SecurityContext: nonRoot(),
		// The result is the termination message; a pod that crashes
		// before writing one leaves its last log lines there instead.
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	var volumes []corev1.Volume
	if k.RegistrySecret != "" {
		volumes = append(volumes, k.registryCredentials(&trial))
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    ptr.To(int32(n)), Parallelism: ptr.To(int32(n)),
			BackoffLimit:            ptr.To(int32(0)),
			TTLSecondsAfterFinished: ptr.To(int32(3600)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, NodeSelector: k.NodeSelector, Tolerations: k.Tolerations,
					AutomountServiceAccountToken: ptr.To(false),
					Containers:                   []corev1.Container{trial},
					Volumes:                      volumes,
				},
			},
		},
	}
}

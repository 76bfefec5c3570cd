package external

import (
	"context"
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ferry-ml/ferry/internal/kube"
)

// MasterPort is the rendezvous port of a training Job across nodes: rank
// 0's, as PyTorch's default.
const MasterPort = 29500

// indexAnnotation is where the Job controller writes a pod's index in an
// Indexed Job.
const indexAnnotation = "batch.kubernetes.io/job-completion-index"

// distribute makes spec a training Job across k.Nodes pods: an Indexed Job
// whose pods all run at once under the headless Service of the Job's name
// (createService), so that rank 0 is reachable as NAME-0.NAME. Each
// training container gets PyTorch's rendezvous variables, one process per
// pod as Kubeflow's PyTorchJob sets them (MASTER_ADDR, MASTER_PORT,
// WORLD_SIZE = nodes, RANK = the pod's index, LOCAL_RANK 0,
// LOCAL_WORLD_SIZE 1), and torchrun's own (PET_NNODES, PET_NODE_RANK,
// PET_NPROC_PER_NODE = the pod's GPUs, PET_MASTER_ADDR, PET_MASTER_PORT),
// so that `torchrun train.py` runs a process per GPU with no flags. Only
// rank 0's output is collected: the other pods' collectors exit at once.
// One failing pod fails the Job (no retries).
func (k Kubernetes) distribute(spec *batchv1.Job) {
	name := spec.Name
	n := int32(k.Nodes)
	spec.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	spec.Spec.Completions, spec.Spec.Parallelism = ptr.To(n), ptr.To(n)
	pod := &spec.Spec.Template.Spec
	pod.Subdomain = name
	rank := corev1.EnvVar{Name: "RANK", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + indexAnnotation + "']"}}}
	value := func(k, v string) corev1.EnvVar { return corev1.EnvVar{Name: k, Value: v} }
	nodeRank := rank
	nodeRank.Name = "PET_NODE_RANK"
	env := []corev1.EnvVar{rank, nodeRank,
		value("WORLD_SIZE", strconv.Itoa(k.Nodes)), value("LOCAL_RANK", "0"), value("LOCAL_WORLD_SIZE", "1"),
		value("MASTER_ADDR", masterAddr(name)), value("MASTER_PORT", strconv.Itoa(MasterPort)),
		value("PET_NNODES", strconv.Itoa(k.Nodes)), value("PET_NPROC_PER_NODE", strconv.Itoa(max(1, k.GPUs))),
		value("PET_MASTER_ADDR", masterAddr(name)), value("PET_MASTER_PORT", strconv.Itoa(MasterPort)),
	}
	train := &pod.InitContainers[0]
	train.Env = append(train.Env, env...)
	train.Ports = []corev1.ContainerPort{{Name: "rendezvous", ContainerPort: MasterPort}}
	collect := &pod.Containers[0]
	collect.Env = append(collect.Env, rank)
	collect.Args = append(collect.Args, "--rank", "$(RANK)")
}

// masterAddr is rank 0's host name inside the Job's namespace.
func masterAddr(job string) string { return job + "-0." + job }

// createService creates the headless Service that gives the Job's pods
// their host names. It publishes pods that are not ready, since training
// runs in an init container before any pod is, and is owned by the Job, so
// it goes when the Job goes.
func (k Kubernetes) createService(ctx context.Context, job *batchv1.Job) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name, Labels: job.Labels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true)}}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true,
			Selector: map[string]string{"batch.kubernetes.io/job-name": job.Name},
			Ports:    []corev1.ServicePort{{Name: "rendezvous", Port: MasterPort}},
		},
	}
	if _, err := k.Client.CoreV1().Services(k.Namespace).Create(ctx, svc, metav1.CreateOptions{FieldManager: kube.FieldManager}); err != nil {
		return fmt.Errorf("create the training Job's headless Service %s/%s: %w", k.Namespace, job.Name, err)
	}
	return nil
}

// rankOf is a training pod's rank: its index in an Indexed Job, 0 for the
// one pod of a Job on one node.
func rankOf(p *corev1.Pod) string {
	if r, ok := p.Annotations[indexAnnotation]; ok {
		return r
	}
	return "0"
}

package external

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/kube"
	"github.com/ferry-ml/ferry/internal/oci"
)

// PodOutput is where the training container writes its model in a
// Kubernetes Job (FERRY_OUTPUT there); the collector reads it. Not under
// /ferry: in ferry's image, the collector's, that is the program.
const PodOutput = "/ferry-output"

// ArtifactAnnotation on the Job names the ModelPack artifact its collector
// pushes and ferry pulls back.
const ArtifactAnnotation = "ferry.dev/artifact"

// Kubernetes runs the training command as a Kubernetes Job: the user's
// image runs the command as an init container writing to an emptyDir at
// PodOutput, then the collector (ferry's own image) pushes that directory
// as a CNCF ModelPack artifact (`ferry package --kind modelpack`), and ferry
// pulls the artifact into the run's FERRY_OUTPUT on the runner. GPU
// requests become nvidia.com/gpu limits with a toleration of the
// nvidia.com/gpu taint; a Job that cannot schedule, whose image cannot be
// pulled or whose command fails is a clear error; the Job is deleted on
// cancellation and after success.
type Kubernetes struct {
	Client         kubernetes.Interface
	Namespace      string
	Image          string // the user's training image
	CollectorImage string // ferry's image
	// Artifact is the repository the collector pushes to; each run uses
	// the tag train-JOBNAME.
	Artifact     string
	GPUs         int
	NodeSelector map[string]string
	// Tolerations let the pod onto tainted nodes, besides the GPU taint's.
	Tolerations []corev1.Toleration
	Labels      map[string]string // extra pod labels
	// RegistrySecret, when set, is a Secret of type
	// kubernetes.io/dockerconfigjson mounted for the collector's push.
	RegistrySecret string
	// RunAsRoot runs the training container as its image's user (often
	// root). By default it runs as NonRootUID, with HOME=/tmp unless the
	// job sets HOME, without privileges and with no capabilities.
	RunAsRoot bool
	// UnschedulableGrace is how long the pod may wait for a node.
	UnschedulableGrace time.Duration
	// Nodes above 1 train across that many pods: an Indexed Job behind a
	// headless Service, with PyTorch's rendezvous variables (distributed).
	Nodes int
	// Remote carries the credentials for pulling the artifact back.
	Remote []remote.Option
}

// Run implements Backend.
func (k Kubernetes) Run(ctx context.Context, job Job, log io.Writer) error {
	if err := k.check(); err != nil {
		return err
	}
	env, localOut := podEnv(job.Env)
	name := "ferry-train-" + rand.String(6)
	artifact := k.Artifact + ":train-" + name
	j := k.jobSpec(name, artifact, job, env)
	jobs := k.Client.BatchV1().Jobs(k.Namespace)
	created, err := jobs.Create(ctx, j, metav1.CreateOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return fmt.Errorf("create the training Job in namespace %s: %w", k.Namespace, err)
	}
	cleanup := func() {
		bg := metav1.DeletePropagationBackground
		_ = jobs.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{PropagationPolicy: &bg})
	}
	if k.Nodes > 1 {
		if err := k.createService(ctx, created); err != nil {
			cleanup()
			return err
		}
		fmt.Fprintf(log, "kubernetes: Job %s/%s created (image %s): %d pods, rank 0 at %s:%d\n", k.Namespace, name, k.Image, k.Nodes, masterAddr(name), MasterPort)
	} else {
		fmt.Fprintf(log, "kubernetes: Job %s/%s created (image %s)\n", k.Namespace, name, k.Image)
	}
	if err := k.wait(ctx, name, log); err != nil {
		cleanup()
		return err
	}
	cleanup()
	if _, err := oci.PullModelPack(ctx, artifact, localOut, k.Remote...); err != nil {
		return fmt.Errorf("the training Job succeeded, but its model could not be collected from %s: %w", artifact, err)
	}
	fmt.Fprintf(log, "kubernetes: collected the model from %s\n", artifact)
	return nil
}

// check says what the backend lacks to run a Job.
func (k Kubernetes) check() error {
	if k.Image == "" {
		return input.Paramf("image", "the kubernetes backend needs the training image: give it with %s")
	}
	if k.Artifact == "" {
		return input.Paramf("artifact", "the kubernetes backend needs a repository to carry the model back: give it with %s")
	}
	return nil
}

// podEnv is a Job's environment as the pod gets it, FERRY_OUTPUT pointing
// at PodOutput, and the output directory on this machine.
func podEnv(jobEnv []string) (env []corev1.EnvVar, localOut string) {
	for _, kv := range jobEnv {
		key, value, _ := strings.Cut(kv, "=")
		switch key {
		case "FERRY_OUTPUT":
			localOut, value = value, PodOutput
		case "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES":
			continue // the device plugin picks the GPUs in the cluster
		}
		env = append(env, corev1.EnvVar{Name: key, Value: value})
	}
	return env, localOut
}

func (k Kubernetes) jobSpec(name, artifact string, job Job, env []corev1.EnvVar) *batchv1.Job {
	labels := map[string]string{"app.kubernetes.io/managed-by": "ferry", "app.kubernetes.io/component": "train"}
	for key, v := range k.Labels {
		labels[key] = v
	}
	resources := corev1.ResourceRequirements{}
	var tolerations []corev1.Toleration
	if k.GPUs > 0 {
		resources.Limits = corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(int64(k.GPUs), resource.DecimalSI)}
		tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	tolerations = append(tolerations, k.Tolerations...)
	mount := []corev1.VolumeMount{{Name: "output", MountPath: PodOutput}}
	// The collector is ferry (static): it runs as a user, without
	// privileges; it only reads the output and pushes it.
	collector := corev1.Container{
		Name: "collect", Image: k.CollectorImage,
		Args:            []string{"package", "--kind", "modelpack", "--model", PodOutput, "--image", artifact},
		VolumeMounts:    mount,
		SecurityContext: nonRoot(),
	}
	volumes := []corev1.Volume{{Name: "output", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if k.RegistrySecret != "" {
		volumes = append(volumes, k.registryCredentials(&collector))
	}
	if !k.RunAsRoot && !slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == "HOME" }) {
		// A user without a home of its own: caches (pip, torch) go to /tmp.
		env = append(env, corev1.EnvVar{Name: "HOME", Value: "/tmp"})
	}
	workDir := ""
	if job.Dir != "" && filepath.IsAbs(job.Dir) {
		workDir = job.Dir
	}
	spec := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{ArtifactAnnotation: artifact}},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(int32(0)),
			TTLSecondsAfterFinished: ptr.To(int32(3600)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					NodeSelector:  k.NodeSelector,
					Tolerations:   tolerations,
					// Training needs no Kubernetes API: no token in the pod.
					AutomountServiceAccountToken: ptr.To(false),
					InitContainers: []corev1.Container{{
						Name: "train", Image: k.Image, Command: []string{"/bin/sh", "-c", job.Command},
						WorkingDir: workDir, Env: env, Resources: resources, VolumeMounts: mount,
						SecurityContext: k.trainerSecurity(),
						// A failing command's last log lines become its
						// termination message: the error ferry reports.
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
					Containers: []corev1.Container{collector},
					Volumes:    volumes,
				},
			},
		},
	}
	if job.Timeout > 0 {
		spec.Spec.ActiveDeadlineSeconds = ptr.To(int64(job.Timeout.Seconds()))
	}
	if k.Nodes > 1 {
		k.distribute(spec)
	}
	return spec
}

// registryCredentials mounts the RegistrySecret into ferry's container c,
// where DOCKER_CONFIG points its registry client, and returns the volume.
func (k Kubernetes) registryCredentials(c *corev1.Container) corev1.Volume {
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "registry", MountPath: "/ferry/docker", ReadOnly: true})
	c.Env = append(c.Env, corev1.EnvVar{Name: "DOCKER_CONFIG", Value: "/ferry/docker"})
	return corev1.Volume{Name: "registry", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: k.RegistrySecret, Items: []corev1.KeyToPath{{Key: ".dockerconfigjson", Path: "config.json"}}}}}
}

// NonRootUID is the user and group the Job's containers run as unless
// RunAsRoot: distroless's nonroot.
const NonRootUID = 65532

// trainerSecurity is the training container's security context: no
// privilege escalation either way; a fixed non-root user and no
// capabilities unless RunAsRoot.
func (k Kubernetes) trainerSecurity() *corev1.SecurityContext {
	if k.RunAsRoot {
		return &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)}
	}
	return nonRoot()
}

// nonRoot is a container security context without root, privileges or
// capabilities.
func nonRoot() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(NonRootUID)), RunAsGroup: ptr.To(int64(NonRootUID)),
		AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// wait follows the Job until it completes, streaming the training
// container's log once it starts, and fails early on a pod that cannot
// schedule or pull its image.
func (k Kubernetes) wait(ctx context.Context, name string, log io.Writer) error {
	var streaming sync.Once
	var logs sync.WaitGroup
	defer logs.Wait()
	return k.follow(ctx, name, func(p *corev1.Pod) error {
		if trainStarted(p) && rankOf(p) == "0" {
			streaming.Do(func() {
				logs.Add(1)
				go func() { defer logs.Done(); k.streamLog(ctx, p.Name, log) }()
			})
		}
		if container, code, tail, ok := podExit(p); ok {
			if k.Nodes > 1 {
				tail = append(tail, fmt.Sprintf("(rank %s of %d, pod %s)", rankOf(p), k.Nodes, p.Name))
			}
			if container != "train" {
				return fmt.Errorf("the training command succeeded, but the Job's %s container (image %s) exited with status %d: %s",
					container, k.CollectorImage, code, strings.Join(tail, "; "))
			}
			return &ExitError{Code: code, Tail: tail}
		}
		return nil
	})
}

// follow polls Job name until it completes, handing each of its pods to
// each on every poll (an error from it ends the wait), and fails early on
// a pod that cannot schedule or pull its image, and on the Job's failure.
func (k Kubernetes) follow(ctx context.Context, name string, each func(*corev1.Pod) error) error {
	sel := "batch.kubernetes.io/job-name=" + name
	for {
		j, err := k.Client.BatchV1().Jobs(k.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("training Job %s: %w", name, ctx.Err())
			}
			return fmt.Errorf("training Job %s: %w", name, err)
		}
		pods, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("pods of training Job %s: %w", name, err)
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if f := kube.PodFailure(p, time.Now(), k.UnschedulableGrace); f != nil {
				if f.Reason == "Unschedulable" {
					asked := fmt.Sprintf("%d GPUs", k.GPUs)
					if len(k.NodeSelector) > 0 {
						asked += fmt.Sprintf(", node selector %v", k.NodeSelector)
					}
					return fmt.Errorf("the training Job cannot be scheduled (it asks for %s): %s", asked, f.Message)
				}
				return fmt.Errorf("the training Job's pod failed: %w", f)
			}
			if err := each(p); err != nil {
				return err
			}
		}
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				return nil
			case batchv1.JobFailed:
				if c.Reason == batchv1.JobReasonFailedIndexes {
					return nil // each index's outcome is its own (RunIndexed)
				}
				if c.Reason == "DeadlineExceeded" {
					return &ExitError{Code: -1, TimedOut: true}
				}
				return fmt.Errorf("the training Job %s failed: %s: %s", name, c.Reason, c.Message)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("training Job %s: %w", name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func trainStarted(p *corev1.Pod) bool {
	for _, s := range p.Status.InitContainerStatuses {
		if s.Name == "train" && (s.State.Running != nil || s.State.Terminated != nil) {
			return true
		}
	}
	return false
}

// podExit reports the first of a pod's containers that exited non-zero:
// its name, status and termination message (the kubelet's, or the last
// lines of its log), with the reason last.
func podExit(p *corev1.Pod) (string, int, []string, bool) {
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			var tail []string
			if t.Message != "" {
				tail = strings.Split(strings.TrimSpace(t.Message), "\n")
			}
			tail = append(tail, fmt.Sprintf("(container %s: %s)", s.Name, t.Reason))
			return s.Name, int(t.ExitCode), tail, true
		}
	}
	return "", 0, nil, false
}

// streamLog copies the training container's log to log as it comes. A
// cluster that cannot serve logs (simulated nodes) just says so.
func (k Kubernetes) streamLog(ctx context.Context, pod string, log io.Writer) {
	rc, err := k.Client.CoreV1().Pods(k.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: "train", Follow: true}).Stream(ctx)
	if err != nil {
		fmt.Fprintf(log, "kubernetes: no log from pod %s: %v\n", pod, err)
		return
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fmt.Fprintln(log, sc.Text())
	}
}

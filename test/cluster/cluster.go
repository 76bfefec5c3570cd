package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Binaries are the programs Up runs, looked up in Options.BinDir; `make
// cluster-build` builds them from the Go module proxy.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

//go:embed kwok-stages.yaml
var kwokStages []byte

// Options says where the binaries are, where the state goes and which
// simulated nodes to create.
type Options struct {
	BinDir   string // etcd, kube-apiserver, ... (Binaries)
	Dir      string // state: certificates, kubeconfig, logs, PIDs, etcd's data
	CPUNodes int    // simulated nodes without GPUs
	GPUNodes int    // simulated nodes with nvidia.com/gpu capacity, tainted nvidia.com/gpu:NoSchedule
	GPUs     int    // nvidia.com/gpu per GPU node
	// RealNode adds a real node (containerd and a kubelet on this machine)
	// and the registry it pulls from; see RealNode.
	RealNode bool
}

// DefaultOptions are what `make cluster-up` starts: two simulated CPU
// nodes, one simulated node with four GPUs, and the real node.
func DefaultOptions(binDir, dir string) Options {
	return Options{BinDir: binDir, Dir: dir, CPUNodes: 2, GPUNodes: 1, GPUs: 4, RealNode: true}
}

// Cluster is a started control plane.
type Cluster struct {
	Dir        string
	Kubeconfig string // the admin kubeconfig (system:masters)
	Server     string // https://127.0.0.1:PORT
	// Registry is the plain-HTTP registry the real node pulls from
	// and the pods push to (10.89.0.1:PORT, the pod network's gateway);
	// empty without a real node.
	Registry string
	procs    []*process
}

// process is one started program. exited closes when a program this
// process started exits; its error says how.
type process struct {
	name   string
	pid    int
	exited chan struct{}
	err    error
}

// Up starts a cluster in opts.Dir, which must not hold a running one, and
// returns once the API server is ready, the nodes are Ready and the default
// service account exists. On failure it stops whatever it started and the
// error carries the tail of the failing program's log.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	bins := Binaries
	if opts.RealNode {
		bins = append(slices.Clone(bins), realNodeBinaries...)
	}
	for _, b := range bins {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s is not built in %s: run `make cluster-build`", b, opts.BinDir)
		}
	}
	if running, _ := runningPIDs(opts.Dir); len(running) > 0 {
		return nil, fmt.Errorf("a cluster is already running from %s (PIDs %v): stop it with `make cluster-down`", opts.Dir, running)
	}
	if err := stopNode(opts.Dir); err != nil {
		return nil, fmt.Errorf("clean the real node's leftovers: %w", err)
	}
	dirs := []string{"pki", "logs", "pids"}
	if opts.RealNode {
		dirs = append(dirs, "node")
	}
	for _, d := range dirs {
		if err := os.RemoveAll(filepath.Join(opts.Dir, d)); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(opts.Dir, "etcd")); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: opts.Dir, Kubeconfig: filepath.Join(opts.Dir, "kubeconfig")}
	if err := c.up(ctx, opts); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) up(ctx context.Context, opts Options) error {
	// Every port is picked at once: a port picked later could be one a
	// program started earlier has not bound yet.
	ports, err := freePorts(9)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	p, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	steps := []func() error{
		p.serviceAccountKey,
		func() error {
			return p.issue("apiserver", "kube-apiserver", nil, "127.0.0.1", "localhost", "10.96.0.1",
				"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
		},
		func() error { return p.issue("admin", "ferry-admin", []string{"system:masters"}) },
		func() error { return p.issue("controller-manager", "system:kube-controller-manager", nil) },
		func() error { return p.issue("scheduler", "system:kube-scheduler", nil) },
		func() error { return p.issue("kwok", "kwok", []string{"system:masters"}) },
		// The API server's client certificate for kubelets: logs, exec and
		// the pod proxy of the real node.
		func() error {
			return p.issue("apiserver-kubelet", "kube-apiserver-kubelet-client", []string{"system:masters"})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
	}
	for _, user := range []string{"admin", "controller-manager", "scheduler", "kwok"} {
		file := filepath.Join(c.Dir, "pki", user+".kubeconfig")
		if user == "admin" {
			file = c.Kubeconfig
		}
		if err := writeKubeconfig(file, c.Server, p, user); err != nil {
			return err
		}
	}
	stages := filepath.Join(c.Dir, "pki", "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		return err
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	if err := c.start(opts.BinDir, "etcd",
		"--name=ferry", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=ferry="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, "etcd", etcdURL+"/health"); err != nil {
		return err
	}
	pk := func(f string) string { return filepath.Join(c.Dir, "pki", f) }
	if err := c.start(opts.BinDir, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+pk("apiserver.crt"), "--tls-private-key-file="+pk("apiserver.key"),
		"--client-ca-file="+pk("ca.crt"),
		"--service-account-key-file="+pk("sa.pub"), "--service-account-signing-key-file="+pk("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		"--kubelet-client-certificate="+pk("apiserver-kubelet.crt"), "--kubelet-client-key="+pk("apiserver-kubelet.key"),
		"--kubelet-certificate-authority="+pk("ca.crt"), "--kubelet-preferred-address-types=InternalIP",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false", "--v=0"); err != nil {
		return err
	}
	cs, err := c.Client()
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	if err := c.start(opts.BinDir, "kube-controller-manager",
		"--kubeconfig="+pk("controller-manager.kubeconfig"),
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(cmPort),
		"--service-account-private-key-file="+pk("sa.key"), "--root-ca-file="+pk("ca.crt"),
		"--use-service-account-credentials=true",
		"--profiling=false", "--v=0"); err != nil {
		return err
	}
	if err := c.start(opts.BinDir, "kube-scheduler",
		"--kubeconfig="+pk("scheduler.kubeconfig"),
		"--authentication-kubeconfig="+pk("scheduler.kubeconfig"), "--authorization-kubeconfig="+pk("scheduler.kubeconfig"),
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--profiling=false", "--v=0"); err != nil {
		return err
	}
	if err := c.start(opts.BinDir, "kwok",
		"--kubeconfig="+pk("kwok.kubeconfig"), "--config="+stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
		"--node-ip=10.0.0.1", "--cidr=10.244.0.0/16"); err != nil {
		return err
	}
	if err := createNodes(ctx, cs, opts); err != nil {
		return err
	}
	if opts.RealNode {
		if err := c.startNode(ctx, opts, p, cs, ports[6:9]); err != nil {
			return err
		}
	}
	return c.waitFor(ctx, "nodes Ready and the default service account", func(ctx context.Context) error {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, n := range nodes.Items {
			if !nodeReady(&n) {
				return fmt.Errorf("node %s is not Ready", n.Name)
			}
			// The node lifecycle controller lifts this taint once it sees the
			// node Ready; until then nothing schedules there.
			for _, taint := range n.Spec.Taints {
				if taint.Key == corev1.TaintNodeNotReady {
					return fmt.Errorf("node %s still has the %s taint", n.Name, taint.Key)
				}
			}
		}
		_, err = cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// Client returns a clientset for the admin kubeconfig.
func (c *Cluster) Client() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

// Stop stops every program of the cluster, newest first.
func (c *Cluster) Stop() error { return c.stop() }

func (c *Cluster) stop() error { return Down(c.Dir) }

// start runs a program of binDir detached from this process's session,
// logging to logs/NAME.log and recording its PID in pids/NAME.pid.
func (c *Cluster) start(binDir, name string, args ...string) error {
	return c.startPath(name, filepath.Join(binDir, name), args...)
}

// startPath is start for a program found by path (or on PATH).
func (c *Cluster) startPath(name, path string, args ...string) error {
	log, err := os.Create(filepath.Join(c.Dir, "logs", name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, pid: cmd.Process.Pid, exited: make(chan struct{})}
	c.procs = append(c.procs, p)
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	order := len(c.procs)
	return os.WriteFile(filepath.Join(c.Dir, "pids", fmt.Sprintf("%02d-%s.pid", order, name)), []byte(strconv.Itoa(p.pid)), 0o600)
}

// waitFor polls check until it succeeds, ctx ends, a minute passes or one of
// the started programs exits; the error then carries that program's log tail.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		for _, p := range c.procs {
			select {
			case <-p.exited:
				return fmt.Errorf("%s exited (%v) while waiting for %s; last lines of %s:\n%s",
					p.name, p.err, what, c.logPath(p.name), tail(c.logPath(p.name), 15))
			default:
			}
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v); logs in %s", what, ctx.Err(), last, filepath.Join(c.Dir, "logs"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitHTTP(ctx context.Context, what, url string) error {
	return c.waitFor(ctx, what, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	})
}

func (c *Cluster) logPath(name string) string { return filepath.Join(c.Dir, "logs", name+".log") }

// Down stops, newest first, the programs whose PIDs Up recorded in dir:
// SIGTERM, then SIGKILL after ten seconds. A PID whose program is no longer
// one of Binaries (the PID was reused) is left alone.
func Down(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if err != nil {
		return err
	}
	var errs []error
	for i := len(files) - 1; i >= 0; i-- {
		pid, ok := ownPID(files[i])
		if ok {
			if err := terminate(pid, 10*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(files[i]), err))
				continue
			}
		}
		if err := os.Remove(files[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := stopNode(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Status lists each recorded program and whether it runs.
func Status(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(files))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		if _, n, ok := strings.Cut(name, "-"); ok {
			name = n
		}
		_, alive := ownPID(f)
		out[name] = alive
	}
	return out, nil
}

func runningPIDs(dir string) ([]int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range files {
		if pid, ok := ownPID(f); ok {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ownPID reads a PID file and reports whether that process is alive and
// still runs one of the cluster's binaries.
func ownPID(file string) (int, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	if slices.Contains(Binaries, filepath.Base(argv0)) || slices.Contains(RealNodePrograms, filepath.Base(argv0)) || slices.Contains(realNodeBinaries, filepath.Base(argv0)) {
		return pid, true
	}
	return 0, false
}

// alive reports whether pid runs and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func terminate(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeKubeconfig(file, server string, p *pki, user string) error {
	ca, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(p.path(user + ".crt"))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(p.path(user + ".key"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ferry-local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["ferry-local"] = &clientcmdapi.Context{Cluster: "ferry-local", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "ferry-local"
	return clientcmd.WriteToFile(*cfg, file)
}

// createNodes registers the simulated nodes for kwok to manage.
func createNodes(ctx context.Context, cs kubernetes.Interface, opts Options) error {
	mk := func(name string, gpus int) *corev1.Node {
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("32"),
			corev1.ResourceMemory: resource.MustParse("128Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					"type": "kwok",
				},
			},
		}
		if gpus > 0 {
			capacity["nvidia.com/gpu"] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
			n.Labels["nvidia.com/gpu.present"] = "true"
			n.Spec.Taints = []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}}
		}
		n.Status.Capacity, n.Status.Allocatable = capacity, capacity
		return n
	}
	var nodes []*corev1.Node
	for i := range opts.CPUNodes {
		nodes = append(nodes, mk(fmt.Sprintf("kwok-cpu-%d", i), 0))
	}
	for i := range opts.GPUNodes {
		nodes = append(nodes, mk(fmt.Sprintf("kwok-gpu-%d", i), opts.GPUs))
	}
	for _, n := range nodes {
		if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

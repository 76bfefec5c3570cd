package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The real node: containerd and a kubelet on this machine, registered as
// RealNode beside kwok's simulated nodes. It carries the label
// RealNodeLabel=real and the taint RealNodeTaint, so only pods that ask for
// it (a toleration and a node selector) run real containers; everything
// else stays on kwok's nodes.
const (
	RealNode      = "ferry-node-0"
	RealNodeLabel = "ferry.dev/node"
	RealNodeTaint = "ferry.dev/real-node"
	// cniBridge and cniSubnet are the real node's pod network: Debian's CNI
	// bridge and host-local plugins on a range of its own.
	cniBridge = "ferry0"
	cniSubnet = "10.89.0.0/24"
	// cniGateway is the bridge's address on the host, where the registry
	// listens: containerd pulls from it and the pods push to it (a Job's
	// collector), the same address from either side.
	cniGateway = "10.89.0.1"
)

// RealNodePrograms are what the real node needs besides Binaries: from
// Debian (containerd, runc, the CNI plugins, the registry) and from `make
// cluster-build` (kubelet, pause).
var RealNodePrograms = []string{"containerd", "runc", "docker-registry", "ip"}

// realNodeBinaries are the real node's programs `make cluster-build` puts in
// Options.BinDir: the kubelet, the pod sandbox's process and the cluster's
// DNS server (hack/cluster/dns).
var realNodeBinaries = []string{"kubelet", "pause", "cluster-dns"}

// The cluster's DNS: the pods' resolver (the kubelet's clusterDNS) is
// hack/cluster/dns on the bridge's gateway, answering the names of
// Services and of the pods behind headless ones under ClusterDomain.
const (
	ClusterDomain = "cluster.local"
	dnsAddr       = cniGateway + ":53"
)

// RealNodeToleration and RealNodeSelector put a pod on the real node.
var (
	RealNodeToleration = corev1.Toleration{Key: RealNodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	RealNodeSelector   = map[string]string{RealNodeLabel: "real"}
)

// startNode starts the cluster's registry, containerd and the kubelet, and
// waits for the node to be Ready. ports are three free ports (the
// registry's, the kubelet's and its healthz's), picked with the others.
func (c *Cluster) startNode(ctx context.Context, opts Options, p *pki, cs kubernetes.Interface, ports []int) error {
	for _, prog := range RealNodePrograms {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("the real node needs %s: run `make deps` (apt-get install containerd runc docker-registry iproute2 containernetworking-plugins)", prog)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return fmt.Errorf("the real node needs the CNI plugins in /usr/lib/cni: run `make deps` (apt-get install containernetworking-plugins)")
	}
	dir := filepath.Join(c.Dir, "node")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := claimHost(c.Dir); err != nil {
		return err
	}
	regPort, kubeletPort, healthzPort := ports[0], ports[1], ports[2]

	// The registry the node pulls from and the pods push to, plain HTTP on
	// the pod network's gateway (a private address: go-containerregistry
	// speaks HTTP to it without being told). The bridge is made here, before
	// the CNI plugin would make it, so that the registry can listen on it.
	if err := bridgeUp(); err != nil {
		return err
	}
	c.Registry = net.JoinHostPort(cniGateway, strconv.Itoa(regPort))
	regConf := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(regConf, []byte(fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\nlog:\n  level: warn\n",
		filepath.Join(dir, "registry"), c.Registry)), 0o600); err != nil {
		return err
	}
	if err := c.startPath("registry", "docker-registry", "serve", regConf); err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, "the registry", "http://"+c.Registry+"/v2/"); err != nil {
		return err
	}
	if err := c.startDNS(ctx, opts.BinDir); err != nil {
		return err
	}
	pause := c.Registry + "/ferry/pause:1"
	if err := pushPause(ctx, filepath.Join(opts.BinDir, "pause"), pause); err != nil {
		return fmt.Errorf("push the pause image: %w", err)
	}

	// containerd, with the CRI plugin's sandbox image from that registry.
	sock := filepath.Join(dir, "containerd.sock")
	hosts := filepath.Join(dir, "certs.d", c.Registry)
	if err := os.MkdirAll(hosts, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(fmt.Sprintf("server = \"http://%[1]s\"\n\n[host.\"http://%[1]s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", c.Registry)), 0o600); err != nil {
		return err
	}
	cniDir := filepath.Join(dir, "cni")
	if err := os.MkdirAll(cniDir, 0o700); err != nil {
		return err
	}
	conflist := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "ferry", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
`, cniBridge, cniSubnet, filepath.Join(dir, "ipam"))
	if err := os.WriteFile(filepath.Join(cniDir, "10-ferry.conflist"), []byte(conflist), 0o600); err != nil {
		return err
	}
	ctrConf := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(ctrConf, []byte(fmt.Sprintf(`version = 2
root = %q
state = %q

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd-state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"),
		pause, cniDir, filepath.Join(dir, "certs.d"))), 0o600); err != nil {
		return err
	}
	if err := c.startPath("containerd", "containerd", "--config", ctrConf); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd's socket", func(context.Context) error {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
		}
		return err
	}); err != nil {
		return err
	}

	// The kubelet: a node's certificate (authorized as a node through RBAC,
	// as the API server runs RBAC only), its own serving certificate, x509
	// authentication of the API server and no anonymous access.
	nodeIP, err := hostIP()
	if err != nil {
		return err
	}
	if err := p.issue("node", "system:node:"+RealNode, []string{"system:nodes"}); err != nil {
		return err
	}
	if err := p.issue("kubelet", RealNode, nil, nodeIP, "127.0.0.1", RealNode); err != nil {
		return err
	}
	if err := writeKubeconfig(filepath.Join(c.Dir, "pki", "node.kubeconfig"), c.Server, p, "node"); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-real-node"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "system:node:" + RealNode}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bind the node's user to system:node: %w", err)
	}
	pk := func(f string) string { return filepath.Join(c.Dir, "pki", f) }
	kubeletConf := filepath.Join(dir, "kubelet.yaml")
	if err := os.WriteFile(kubeletConf, []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
tlsCertFile: %q
tlsPrivateKeyFile: %q
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
resolvConf: ""
clusterDNS: [%s]
clusterDomain: %s
serializeImagePulls: false
maxPods: 30
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
`, nodeIP, kubeletPort, healthzPort, pk("ca.crt"), pk("kubelet.crt"), pk("kubelet.key"), sock, cniGateway, ClusterDomain)), 0o600); err != nil {
		return err
	}
	if err := c.start(opts.BinDir, "kubelet",
		"--config="+kubeletConf, "--kubeconfig="+pk("node.kubeconfig"),
		"--root-dir="+filepath.Join(dir, "kubelet"), "--hostname-override="+RealNode, "--node-ip="+nodeIP,
		"--node-labels="+RealNodeLabel+"=real", "--register-with-taints="+RealNodeTaint+"=true:NoSchedule",
		"--v=1"); err != nil {
		return err
	}
	return c.waitFor(ctx, "the real node Ready", func(ctx context.Context) error {
		n, err := cs.CoreV1().Nodes().Get(ctx, RealNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !nodeReady(n) {
			return fmt.Errorf("node %s is not Ready", RealNode)
		}
		return nil
	})
}

// startDNS starts the cluster's DNS server on the bridge's gateway and
// waits until it resolves the API server's own Service.
func (c *Cluster) startDNS(ctx context.Context, binDir string) error {
	if err := c.start(binDir, "cluster-dns", "-kubeconfig", c.Kubeconfig, "-listen", dnsAddr, "-domain", ClusterDomain); err != nil {
		return err
	}
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}
	return c.waitFor(ctx, "the cluster's DNS", func(ctx context.Context) error {
		_, err := res.LookupHost(ctx, "kubernetes.default.svc."+ClusterDomain+".")
		return err
	})
}

// bridgeUp makes the pod network's bridge with the gateway's address, as
// the CNI bridge plugin would (it takes an existing bridge as it is). Each
// step is idempotent, so a bridge left by an earlier cluster on this
// machine is taken over rather than refused: the link is added only when
// absent, and "addr replace" succeeds whether or not the address is there
// (iproute2's "addr add" wording for that case changes between versions).
func bridgeUp() error {
	steps := [][]string{
		{"addr", "replace", cniGateway + "/24", "dev", cniBridge},
		{"link", "set", cniBridge, "up"},
	}
	if _, err := net.InterfaceByName(cniBridge); err != nil {
		steps = append([][]string{{"link", "add", cniBridge, "type", "bridge"}}, steps...)
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// hostLock records which state directory's real node runs on this
// machine: one at a time, as they would share the bridge, the pod subnet
// and the kubelet's cgroups.
const hostLock = "/run/ferry-real-node"

// claimHost takes the machine for dir's real node, unless another
// cluster's real node still runs.
func claimHost(dir string) error {
	if b, err := os.ReadFile(hostLock); err == nil {
		other := strings.TrimSpace(string(b))
		if other != dir {
			if running, _ := runningPIDs(other); len(running) > 0 {
				return fmt.Errorf("a real node already runs on this machine, from %s (one per machine): stop that cluster first (`go run ./hack/cluster -dir %s down`)", other, other)
			}
		}
	}
	return os.WriteFile(hostLock, []byte(dir+"\n"), 0o644)
}

// holdsHost reports whether dir's real node holds the machine.
func holdsHost(dir string) bool {
	b, err := os.ReadFile(hostLock)
	return err == nil && strings.TrimSpace(string(b)) == dir
}

// releaseHost gives the machine back if dir holds it.
func releaseHost(dir string) {
	if holdsHost(dir) {
		os.Remove(hostLock)
	}
}

// hostIP is this machine's first non-loopback IPv4 address outside the
// pod network: the node's address (the API server's node proxy refuses
// loopback ones).
func hostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	_, pods, err := net.ParseCIDR(cniSubnet)
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !pods.Contains(ipn.IP) {
			return ipn.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address for the real node")
}

// pushPause pushes a one-file image of the pause program to ref.
func pushPause(ctx context.Context, bin, ref string) error {
	b, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%w: run `make cluster-build`", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(b); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/pause"}})
	if err != nil {
		return err
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(r, img, remote.WithContext(ctx))
}

// stopNode cleans what the real node leaves behind once its programs are
// stopped: the containers' shims, the mounts under the state directory,
// the pods' network namespaces and the bridge.
func stopNode(dir string) error {
	node := filepath.Join(dir, "node")
	if _, err := os.Stat(filepath.Join(node, "containerd.toml")); err != nil {
		return nil // this cluster ran no real node: nothing of the machine's is its to clean
	}
	var errs []error
	// Shims outlive containerd: they are found by the socket they serve.
	sock := filepath.Join(node, "containerd.sock")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte("containerd-shim")) || !bytes.Contains(b, []byte(sock)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err == nil {
		lines := strings.Split(string(mounts), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			f := strings.Fields(lines[i])
			if len(f) > 1 && strings.HasPrefix(f[1], node+"/") {
				if err := syscall.Unmount(f[1], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
					errs = append(errs, fmt.Errorf("unmount %s: %w", f[1], err))
				}
			}
		}
	}
	// The bridge is the machine's: only the cluster that holds the machine
	// deletes it (another cluster's real node, and its registry on the
	// gateway, may be using it).
	if holdsHost(dir) {
		if out, err := exec.Command("ip", "link", "delete", cniBridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Errorf("delete the bridge %s: %v: %s", cniBridge, err, out))
		}
	}
	releaseHost(dir)
	return errors.Join(errs...)
}

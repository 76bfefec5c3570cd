package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Registry is a CNCF distribution registry (Debian's docker-registry)
// running on loopback without auth, for the integration tests and the
// benchmarks.
type Registry struct {
	Addr string // host:port
	cmd  *exec.Cmd
	log  bytes.Buffer
}

// StartRegistry starts the registry program bin, storing under dir, and
// waits until it answers.
func StartRegistry(bin, dir string) (*Registry, error) { return startRegistry(bin, dir, "") }

// StartRegistryWithAuth is StartRegistry with htpasswd authentication: only
// the users of htpasswd (lines user:bcrypt-hash) may pull or push.
func StartRegistryWithAuth(bin, dir, htpasswd string) (*Registry, error) {
	return startRegistry(bin, dir, htpasswd)
}

func startRegistry(bin, dir, htpasswd string) (*Registry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	conf := filepath.Join(dir, "config.yml")
	body := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: error\n", filepath.Join(dir, "data"), addr)
	if htpasswd != "" {
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, []byte(htpasswd), 0o600); err != nil {
			return nil, err
		}
		body += fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", path)
	}
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	r := &Registry{Addr: addr, cmd: exec.Command(bin, "serve", conf)}
	r.cmd.Stdout, r.cmd.Stderr = &r.log, &r.log
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || htpasswd != "" && resp.StatusCode == http.StatusUnauthorized {
				return r, nil
			}
		}
	}
	r.Stop()
	return nil, fmt.Errorf("the registry on %s did not answer in 30 s: %s", addr, r.log.String())
}

// Stop kills the registry.
func (r *Registry) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

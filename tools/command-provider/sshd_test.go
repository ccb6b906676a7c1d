package main

// A real OpenSSH server on 127.0.0.1 for the remote tests.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

type testSSHD struct {
	port        int
	dir         string
	clientKey   string // OpenSSH PEM private key authorized for root
	hostKeyLine string // "ssh-ed25519 AAAA... comment"
	cmd         *exec.Cmd
	stderr      *bytes.Buffer
	done        chan struct{}
}

func newKeyPair() (ed25519.PrivateKey, ssh.PublicKey, string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		return nil, nil, "", err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, nil, "", err
	}
	return priv, pub, string(pem.EncodeToMemory(block)), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// sshdVariant selects the configuration of a test server.
type sshdVariant struct {
	sftp      bool   // offer the SFTP subsystem
	acceptEnv string // the AcceptEnv line; "" = "ACCEPTED_*"
}

// debianAcceptEnv is Debian's default: only locale variables pass.
const debianAcceptEnv = "LANG LC_*"

// startSSHD runs `sshd -D -e` with a private config in a temp dir.
func startSSHD(v sshdVariant) (*testSSHD, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("%s not installed (apt-get install -y openssh-server)", sshdPath)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the sshd fixture logs in as root and must run as root")
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cmdprov-sshd-")
	if err != nil {
		return nil, err
	}
	_, hostPub, hostPEM, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	_, clientPub, clientPEM, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	hostKeyFile := filepath.Join(dir, "host_ed25519")
	if err := os.WriteFile(hostKeyFile, []byte(hostPEM), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	acceptEnv := v.acceptEnv
	if acceptEnv == "" {
		acceptEnv = "ACCEPTED_*"
	}
	subsystem := "Subsystem sftp internal-sftp"
	if !v.sftp {
		subsystem = "# no sftp subsystem"
	}
	conf := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKeyFile,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"AcceptEnv " + acceptEnv,
		"AllowTcpForwarding yes",
		"LogLevel ERROR",
		subsystem,
		"",
	}, "\n")
	confFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	d := &testSSHD{
		port: port, dir: dir, clientKey: clientPEM, stderr: &bytes.Buffer{}, done: make(chan struct{}),
		hostKeyLine: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub))) + " test-host",
	}
	d.cmd = exec.Command(sshdPath, "-D", "-e", "-f", confFile, "-p", fmt.Sprint(port))
	d.cmd.Stderr = d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Per-connection children (own sessions) may hold stderr open after the
	// listener is gone; do not wait for them.
	d.cmd.WaitDelay = 2 * time.Second
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			banner := make([]byte, 7)
			_, rerr := c.Read(banner)
			c.Close()
			if rerr == nil && string(banner) == "SSH-2.0" {
				return d, nil
			}
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("sshd exited: %s", d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("sshd did not come up: %s", d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *testSSHD) stop() {
	if d == nil || d.cmd == nil || d.cmd.Process == nil {
		return
	}
	// Kill the listener and any session children it forked (own group).
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	os.RemoveAll(d.dir)
}

// connection returns the connection input for this server (secret, like the
// SDK sends it), with the server's host key pinned. extra adds or replaces
// fields; a nil value removes one.
func (d *testSSHD) connection(extra map[string]any) resource.PropertyValue {
	m := map[string]any{
		"host":       "127.0.0.1",
		"port":       float64(d.port),
		"user":       "root",
		"privateKey": d.clientKey,
		"hostKey":    d.hostKeyLine,
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return resource.MakeSecret(resource.NewPropertyValue(m))
}

var (
	sshdMu    sync.Mutex
	sshdByKey = map[sshdVariant]*testSSHD{}
	sshdErrs  = map[sshdVariant]error{}
)

// needSSHD returns a shared server (one with SFTP, one without), or skips.
func needSSHD(t *testing.T, withSFTP bool) *testSSHD {
	t.Helper()
	return needSSHDVariant(t, sshdVariant{sftp: withSFTP})
}

// needSSHDVariant returns the shared server of one configuration, or skips.
func needSSHDVariant(t *testing.T, v sshdVariant) *testSSHD {
	t.Helper()
	sshdMu.Lock()
	defer sshdMu.Unlock()
	if d, ok := sshdByKey[v]; ok {
		return d
	}
	if err, ok := sshdErrs[v]; ok {
		t.Skipf("sshd cannot run here: %v", err)
	}
	d, err := startSSHD(v)
	if err != nil {
		sshdErrs[v] = err
		t.Skipf("sshd cannot run here: %v", err)
	}
	sshdByKey[v] = d
	return d
}

func TestMain(m *testing.M) {
	dialRetryScale = 0.05
	code := m.Run()
	sshdMu.Lock()
	for _, d := range sshdByKey {
		d.stop()
	}
	sshdMu.Unlock()
	os.Exit(code)
}

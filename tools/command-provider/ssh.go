package main

// SSH connection handling for the command:remote:* resources.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// connFields lists every field of the connection type in the 1.2.1 SDK.
var connFields = []string{
	"agentSocketPath", "dialErrorLimit", "host", "hostKey", "password", "perDialTimeout",
	"port", "privateKey", "privateKeyPassword", "proxy", "user",
}

// Defaults, identical to the ones the SDK applies client-side.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

type connConfig struct {
	host               string
	port               int
	user               string
	password           string
	privateKey         string
	privateKeyPassword string
	agentSocketPath    string // explicit; empty = use SSH_AUTH_SOCK if present
	hostKey            ssh.PublicKey
	dialErrorLimit     int // -1 = unlimited
	perDialTimeout     time.Duration
	proxy              *connConfig
}

// withConnDefaults fills in port/user/dialErrorLimit/perDialTimeout on a
// connection (and its proxy), preserving secret wrappers and unknowns.
func withConnDefaults(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(withConnDefaults(v.SecretValue().Element))
	case v.IsObject():
		m := v.ObjectValue().Copy()
		set := func(k string, d resource.PropertyValue) {
			if cur, ok := m[resource.PropertyKey(k)]; !ok || cur.IsNull() {
				m[resource.PropertyKey(k)] = d
			}
		}
		set("port", resource.NewNumberProperty(defaultPort))
		set("user", resource.NewStringProperty(defaultUser))
		set("dialErrorLimit", resource.NewNumberProperty(defaultDialErrorLimit))
		set("perDialTimeout", resource.NewNumberProperty(defaultPerDialTimeout))
		if p, ok := m["proxy"]; ok && !p.IsNull() {
			m["proxy"] = withConnDefaults(p)
		}
		return resource.NewObjectProperty(m)
	default:
		return v // unknown, null or malformed: left for validation
	}
}

// checkConnection validates a connection value. Unknown parts are accepted.
func checkConnection(prefix string, v resource.PropertyValue, allowProxy bool) []string {
	v = plain(v)
	if v.IsComputed() {
		return nil
	}
	if !v.IsObject() {
		return []string{fmt.Sprintf("%s must be an object, got %s", prefix, v.TypeString())}
	}
	var problems []string
	m := v.ObjectValue()
	for _, k := range m.StableKeys() {
		known := false
		for _, f := range connFields {
			if string(k) == f {
				known = true
			}
		}
		if !known {
			problems = append(problems, fmt.Sprintf("%s.%s is not a connection field this provider knows", prefix, k))
		}
	}
	host, hasHost := m["host"]
	if !hasHost || host.IsNull() {
		problems = append(problems, prefix+".host is required")
	} else if !host.IsComputed() && (!host.IsString() || host.StringValue() == "") {
		problems = append(problems, prefix+".host must be a non-empty string")
	}
	for _, k := range []string{"user", "password", "privateKey", "privateKeyPassword", "agentSocketPath", "hostKey"} {
		if e, ok := m[resource.PropertyKey(k)]; ok && !e.IsNull() && !e.IsComputed() && !e.IsString() {
			problems = append(problems, fmt.Sprintf("%s.%s must be a string", prefix, k))
		}
	}
	for _, k := range []string{"port", "dialErrorLimit", "perDialTimeout"} {
		if e, ok := m[resource.PropertyKey(k)]; ok && !e.IsNull() && !e.IsComputed() {
			if !e.IsNumber() || e.NumberValue() != math.Trunc(e.NumberValue()) {
				problems = append(problems, fmt.Sprintf("%s.%s must be an integer", prefix, k))
			}
		}
	}
	if p, ok := m["port"]; ok && p.IsNumber() && (p.NumberValue() < 1 || p.NumberValue() > 65535) {
		problems = append(problems, prefix+".port must be between 1 and 65535")
	}
	if d, ok := m["dialErrorLimit"]; ok && d.IsNumber() && d.NumberValue() < -1 {
		problems = append(problems, prefix+".dialErrorLimit must be -1 (unlimited) or >= 0")
	}
	if d, ok := m["perDialTimeout"]; ok && d.IsNumber() && d.NumberValue() < 0 {
		problems = append(problems, prefix+".perDialTimeout must be >= 0")
	}
	if hk, ok := m["hostKey"]; ok && hk.IsString() {
		if _, err := parseHostKey(hk.StringValue()); err != nil {
			problems = append(problems, fmt.Sprintf("%s.hostKey: %v", prefix, err))
		}
	}
	if pk, ok := m["privateKey"]; ok && pk.IsString() {
		pp, hasPP := m["privateKeyPassword"]
		if !hasPP || !pp.IsComputed() {
			pass := ""
			if hasPP && pp.IsString() {
				pass = pp.StringValue()
			}
			if _, err := parseSigner(pk.StringValue(), pass); err != nil {
				problems = append(problems, fmt.Sprintf("%s.privateKey: %v", prefix, err))
			}
		}
	}
	if p, ok := m["proxy"]; ok && !p.IsNull() {
		if !allowProxy {
			problems = append(problems, prefix+".proxy: a proxy connection cannot itself have a proxy")
		} else {
			problems = append(problems, checkConnection(prefix+".proxy", p, false)...)
		}
	}
	return problems
}

// parseConnection turns a (validated, fully known) connection value into a config.
func parseConnection(v resource.PropertyValue) (*connConfig, error) {
	v = plain(v)
	if v.ContainsUnknowns() {
		return nil, errors.New("connection is not fully known")
	}
	if !v.IsObject() {
		return nil, errors.New("connection must be an object")
	}
	m := v.ObjectValue()
	c := &connConfig{}
	var err error
	str := func(k string) string {
		if err != nil {
			return ""
		}
		s, _, e := getString(m, k)
		if e != nil {
			err = fmt.Errorf("connection.%w", e)
		}
		return s
	}
	num := func(k string, d float64) float64 {
		if err != nil {
			return d
		}
		n, e := getNumber(m, k, d)
		if e != nil {
			err = fmt.Errorf("connection.%w", e)
		}
		return n
	}
	c.host = str("host")
	c.user = str("user")
	c.password = str("password")
	c.privateKey = str("privateKey")
	c.privateKeyPassword = str("privateKeyPassword")
	c.agentSocketPath = str("agentSocketPath")
	hostKey := str("hostKey")
	c.port = int(num("port", defaultPort))
	c.dialErrorLimit = int(num("dialErrorLimit", defaultDialErrorLimit))
	c.perDialTimeout = time.Duration(num("perDialTimeout", defaultPerDialTimeout) * float64(time.Second))
	if err != nil {
		return nil, err
	}
	if c.host == "" {
		return nil, errors.New("connection.host is required")
	}
	if c.user == "" {
		c.user = defaultUser
	}
	if hostKey != "" {
		if c.hostKey, err = parseHostKey(hostKey); err != nil {
			return nil, fmt.Errorf("connection.hostKey: %w", err)
		}
	}
	if p, ok := m["proxy"]; ok && !p.IsNull() {
		if c.proxy, err = parseConnection(p); err != nil {
			return nil, fmt.Errorf("proxy %w", err)
		}
		if c.proxy.proxy != nil {
			return nil, errors.New("connection.proxy: nested proxies are not supported")
		}
	}
	return c, nil
}

// sensitive returns the credential strings of the connection (for log scrubbing).
func (c *connConfig) sensitive() []string {
	if c == nil {
		return nil
	}
	out := []string{c.password, c.privateKey, c.privateKeyPassword}
	return append(out, c.proxy.sensitive()...)
}

// parseHostKey accepts "ssh-ed25519 AAAA... [comment]" (authorized_keys form),
// "host ssh-ed25519 AAAA..." (known_hosts form) or the bare base64 blob.
func parseHostKey(s string) (ssh.PublicKey, error) {
	s = strings.TrimSpace(s)
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		return k, nil
	}
	if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		return k, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
		if k, err := ssh.ParsePublicKey(raw); err == nil {
			return k, nil
		}
	}
	return nil, errors.New(`not a public key; expected the authorized_keys form "ssh-ed25519 AAAA..." ` +
		`(as in /etc/ssh/ssh_host_ed25519_key.pub) or a known_hosts line`)
}

func parseSigner(key, passphrase string) (ssh.Signer, error) {
	var s ssh.Signer
	var err error
	if passphrase != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	} else {
		s, err = ssh.ParsePrivateKey([]byte(key))
	}
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("the private key is encrypted; set privateKeyPassword")
	}
	if err != nil {
		// Never echo key material; the parser errors do not contain it.
		return nil, fmt.Errorf("cannot parse private key: %v", err)
	}
	return s, nil
}

// hostKeyMismatch is returned by the host key callback when a pinned key does
// not match. Dialing is not retried after it.
type hostKeyMismatch struct {
	addr     string
	expected ssh.PublicKey
	got      ssh.PublicKey
}

func (e *hostKeyMismatch) Error() string {
	return fmt.Sprintf("host key mismatch for %s: connection.hostKey pins %s %s, but the server presented %s %s; "+
		"refusing to connect (update hostKey if the server was legitimately re-keyed)",
		e.addr, e.expected.Type(), ssh.FingerprintSHA256(e.expected), e.got.Type(), ssh.FingerprintSHA256(e.got))
}

// hostKeyAlgorithms restricts negotiation to the algorithms that can verify
// the pinned key, so that the server presents that key and not another one.
func hostKeyAlgorithms(k ssh.PublicKey) []string {
	switch k.Type() {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	default:
		return []string{k.Type()}
	}
}

type agentCloser interface{ Close() error }

// clientConfig builds the ssh.ClientConfig. The returned closer (maybe nil)
// releases the agent connection.
func (c *connConfig) clientConfig() (*ssh.ClientConfig, agentCloser, error) {
	cfg := &ssh.ClientConfig{User: c.user}
	if c.hostKey != nil {
		want := c.hostKey
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want)
		cfg.HostKeyCallback = func(hostname string, remote net.Addr, got ssh.PublicKey) error {
			if string(got.Marshal()) != string(want.Marshal()) {
				return &hostKeyMismatch{addr: hostname, expected: want, got: got}
			}
			return nil
		}
	} else {
		// Same as upstream: without a pinned key the host key is not verified.
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec
	}

	var signers []ssh.Signer
	if c.privateKey != "" {
		s, err := parseSigner(c.privateKey, c.privateKeyPassword)
		if err != nil {
			return nil, nil, err
		}
		signers = append(signers, s)
	}
	var closer agentCloser
	sock := c.agentSocketPath
	explicit := sock != ""
	if !explicit {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if explicit {
				return nil, nil, fmt.Errorf("cannot reach SSH agent at agentSocketPath %s: %v", sock, err)
			}
		} else {
			closer = conn
			if as, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, as...)
			} else if explicit {
				conn.Close()
				return nil, nil, fmt.Errorf("cannot list keys of SSH agent at %s: %v", sock, err)
			}
		}
	}
	// The client tries each method name once, so all keys go in one method.
	if len(signers) > 0 {
		all := signers
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return all, nil }))
	}
	if c.password != "" {
		pw := c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(cfg.Auth) == 0 {
		if closer != nil {
			closer.Close()
		}
		return nil, nil, errors.New("connection has no credentials: set privateKey, password, " +
			"or agentSocketPath (or run with SSH_AUTH_SOCK pointing at an agent with keys)")
	}
	return cfg, closer, nil
}

// sshClient is a connected client, possibly tunnelled through a proxy.
type sshClient struct {
	*ssh.Client
	proxy   *sshClient
	closers []agentCloser
	stop    chan struct{}
}

func (s *sshClient) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	err := s.Client.Close()
	for _, c := range s.closers {
		c.Close()
	}
	if s.proxy != nil {
		s.proxy.Close()
	}
	return err
}

// keepAlive pings the server so dead peers are noticed during long commands.
func (s *sshClient) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, _, err := s.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				fails++
				if fails >= 4 {
					s.Client.Close()
					return
				}
			} else {
				fails = 0
			}
		}
	}
}

// dialBackoff returns the pause before retry number n (n >= 1).
func dialBackoff(n int) time.Duration {
	d := time.Duration(float64(time.Second) * math.Pow(1.5, float64(n-1)))
	if d > 10*time.Second {
		d = 10 * time.Second
	}
	return d
}

// dialRetryScale shortens the retry pauses in tests.
var dialRetryScale = 1.0

// dialSSH connects according to c, retrying up to dialErrorLimit times.
// progress (maybe nil) receives a message for each failed attempt.
func dialSSH(ctx context.Context, c *connConfig, progress func(string)) (*sshClient, error) {
	var via *sshClient
	if c.proxy != nil {
		p, err := dialSSH(ctx, c.proxy, progress)
		if err != nil {
			return nil, fmt.Errorf("connecting to proxy %s: %w", c.proxy.host, err)
		}
		via = p
	}
	cfg, closer, err := c.clientConfig()
	if err != nil {
		if via != nil {
			via.Close()
		}
		return nil, err
	}
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	for attempt := 1; ; attempt++ {
		client, err := dialOnce(ctx, addr, cfg, c.perDialTimeout, via)
		if err == nil {
			s := &sshClient{Client: client, proxy: via, stop: make(chan struct{})}
			if closer != nil {
				s.closers = append(s.closers, closer)
			}
			go s.keepAlive(30 * time.Second)
			return s, nil
		}
		var mismatch *hostKeyMismatch
		permanent := errors.As(err, &mismatch) || ctx.Err() != nil
		exhausted := c.dialErrorLimit >= 0 && attempt >= max(c.dialErrorLimit, 1)
		if permanent || exhausted {
			if via != nil {
				via.Close()
			}
			if closer != nil {
				closer.Close()
			}
			if permanent {
				return nil, err
			}
			return nil, fmt.Errorf("could not connect to %s@%s after %d attempt(s) (dialErrorLimit %d): %w",
				c.user, addr, attempt, c.dialErrorLimit, err)
		}
		wait := time.Duration(float64(dialBackoff(attempt)) * dialRetryScale)
		if progress != nil {
			limit := "unlimited"
			if c.dialErrorLimit >= 0 {
				limit = strconv.Itoa(max(c.dialErrorLimit, 1))
			}
			progress(fmt.Sprintf("ssh %s@%s: attempt %d/%s failed (%v); retrying in %s",
				c.user, addr, attempt, limit, err, wait.Round(100*time.Millisecond)))
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig, timeout time.Duration,
	via *sshClient,
) (*ssh.Client, error) {
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var conn net.Conn
	var err error
	if via != nil {
		conn, err = via.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	// Bound the SSH handshake by the same per-dial deadline / cancellation.
	handshakeDone := make(chan struct{})
	aborted := make(chan struct{})
	go func() {
		select {
		case <-dctx.Done():
			conn.Close()
			close(aborted)
		case <-handshakeDone:
		}
	}()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	close(handshakeDone)
	if err != nil {
		conn.Close()
		select {
		case <-aborted:
			return nil, fmt.Errorf("ssh handshake with %s did not finish within %s: %w", addr, timeout, err)
		default:
		}
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		ok := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// exportPrefix renders `export K='v'; ` statements for variables the server
// refused to accept via the SSH "env" request.
func exportPrefix(env map[string]string, keys []string) (string, error) {
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if !validEnvName(k) {
			return "", fmt.Errorf("environment variable name %q cannot be exported by a shell "+
				"(the SSH server refused it as an env request too)", k)
		}
		b.WriteString("export ")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(shellQuote(env[k]))
		b.WriteString("; ")
	}
	return b.String(), nil
}

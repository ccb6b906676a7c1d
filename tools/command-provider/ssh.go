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
	"regexp"
	"slices"
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
	fixHost, fixPort := "", defaultPort
	if h, ok := m["host"]; ok && h.IsString() {
		fixHost = h.StringValue()
	}
	if p, ok := m["port"]; ok && !p.IsNull() {
		fixPort = 0 // unknown or given: only a known number is shown
		if p.IsNumber() {
			fixPort = int(p.NumberValue())
		}
	}
	switch hk, ok := m["hostKey"]; {
	case !ok || hk.IsNull():
		problems = append(problems, prefix+"."+hostKeyRequired(fixHost, fixPort).Error())
	case hk.IsString():
		if _, err := parseHostKey(hk.StringValue(), fixHost, fixPort); err != nil {
			problems = append(problems, prefix+"."+err.Error())
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
	// Also for states recorded before hostKey was required: never connect
	// to a host whose key is not pinned.
	if c.hostKey, err = parseHostKey(hostKey, c.host, c.port); err != nil {
		return nil, fmt.Errorf("connection.%w", err)
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

// ---- host keys ----
//
// connection.hostKey takes one form, the one lab:check and the benchmark
// runner take too: the public key line "<type> <base64> [comment]" (the
// authorized_keys / .pub form, as ssh-keyscan prints it after the host name).
// It is required: this provider never connects to a host whose key is not
// pinned (upstream skips the check when hostKey is unset). Fingerprints and
// known_hosts lines are refused with the command that gives the right form.

// hostKeyTypes are the accepted key types.
var hostKeyTypes = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSA,
}

// hostKeyFix tells how to get the accepted form for host:port (either may be
// unknown: "" / 0).
func hostKeyFix(host string, port int) string {
	if host == "" {
		host = "<host>"
	}
	p := "<port>"
	if port > 0 {
		p = strconv.Itoa(port)
	}
	return fmt.Sprintf(`fix: set hostKey to the server's public key line "<type> <base64> [comment]" `+
		`(as in /etc/ssh/ssh_host_ed25519_key.pub), e.g. the output of: `+
		`ssh-keyscan -t ed25519 -p %s %s | cut -d' ' -f2-`, p, host)
}

// hostKeyRequired is the error for a missing or empty hostKey.
func hostKeyRequired(host string, port int) error {
	return fmt.Errorf("hostKey is required: this provider never connects to a host whose key is not pinned; %s",
		hostKeyFix(host, port))
}

var legacyFingerprint = regexp.MustCompile(`^(?i)([0-9a-f]{2}:){15}[0-9a-f]{2}$`)

func isFingerprint(f []string) bool {
	fp := func(s string) bool {
		return strings.HasPrefix(s, "SHA256:") || strings.HasPrefix(s, "MD5:") || legacyFingerprint.MatchString(s)
	}
	if fp(f[0]) {
		return true
	}
	// `ssh-keygen -l` prints "<bits> <fingerprint> <comment> (<TYPE>)".
	if len(f) >= 2 && fp(f[1]) {
		_, err := strconv.Atoi(f[0])
		return err == nil
	}
	return false
}

// looksLikeKeyType reports whether s has the shape of an SSH key type name.
func looksLikeKeyType(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-", "sk-", "rsa-sha2-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// wireType returns the type string an SSH wire-format key blob starts with.
func wireType(blob []byte) (string, bool) {
	if len(blob) < 4 {
		return "", false
	}
	n := int(blob[0])<<24 | int(blob[1])<<16 | int(blob[2])<<8 | int(blob[3])
	if n <= 0 || n > 64 || 4+n > len(blob) {
		return "", false
	}
	return string(blob[4 : 4+n]), true
}

// parseHostKey accepts only the public key line "<type> <base64> [comment]"
// and returns the key. host and port (maybe "" / 0) go into the fix text.
// Errors start with "hostKey", for the caller to prefix with the field path.
func parseHostKey(s, host string, port int) (ssh.PublicKey, error) {
	fix := hostKeyFix(host, port)
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, hostKeyRequired(host, port)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("hostKey must be one line, a single public key; %s", fix)
	}
	f := strings.Fields(s)
	switch {
	case isFingerprint(f):
		return nil, fmt.Errorf("hostKey %q is a fingerprint; a fingerprint cannot be pinned here, the key "+
			"itself is needed; %s", s, fix)
	case slices.Contains(hostKeyTypes, f[0]):
		// the accepted form; checked below
	case len(f) >= 3 && (looksLikeKeyType(f[1]) || strings.HasPrefix(f[0], "@") || strings.HasPrefix(f[0], "|1|")):
		return nil, fmt.Errorf("hostKey looks like a known_hosts line (host names before the key) or an "+
			"authorized_keys line with options; give the public key line alone; %s", fix)
	case looksLikeKeyType(f[0]):
		return nil, fmt.Errorf("hostKey type %q is not accepted (use one of %s); %s",
			f[0], strings.Join(hostKeyTypes, ", "), fix)
	default:
		// A bare base64 blob, a private key, anything else. Never echo it.
		return nil, fmt.Errorf(`hostKey is not a public key line "<type> <base64> [comment]"; %s`, fix)
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("hostKey has a type (%s) but no key data; %s", f[0], fix)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return nil, fmt.Errorf("hostKey: the key data after %s is not valid base64 (%v); %s", f[0], err, fix)
	}
	if wt, ok := wireType(blob); ok && wt != f[0] {
		return nil, fmt.Errorf("hostKey says %s but its key data is a %q key; %s", f[0], wt, fix)
	}
	key, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return nil, fmt.Errorf("hostKey: the %s key data is damaged (%v); %s", f[0], err, fix)
	}
	if key.Type() != f[0] {
		return nil, fmt.Errorf("hostKey says %s but its key data is a %s key; %s", f[0], key.Type(), fix)
	}
	return key, nil
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
	if c.hostKey == nil {
		return nil, nil, fmt.Errorf("connection.%w", hostKeyRequired(c.host, c.port))
	}
	want := c.hostKey
	cfg := &ssh.ClientConfig{
		User:              c.user,
		HostKeyAlgorithms: hostKeyAlgorithms(want),
		HostKeyCallback: func(hostname string, remote net.Addr, got ssh.PublicKey) error {
			if string(got.Marshal()) != string(want.Marshal()) {
				return &hostKeyMismatch{addr: hostname, expected: want, got: got}
			}
			return nil
		},
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

// dialError is a failure to reach or log in to the server (after the
// retries), as opposed to a connection setting that cannot work.
type dialError struct {
	err   error  // the whole message
	cause error  // the last attempt's error
	where string // user@host:port
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dialRetryScale shortens the retry pauses in tests.
var dialRetryScale = 1.0

// forProbe returns a copy of c for a refresh check: one dial attempt, at
// most probeDialTimeout each (also for the proxy).
func (c *connConfig) forProbe() *connConfig {
	if c == nil {
		return nil
	}
	p := *c
	p.dialErrorLimit = 1
	if p.perDialTimeout <= 0 || p.perDialTimeout > probeDialTimeout {
		p.perDialTimeout = probeDialTimeout
	}
	p.proxy = c.proxy.forProbe()
	return &p
}

// probeDialTimeout bounds the connection of a refresh check (proxy included).
const probeDialTimeout = 5 * time.Second

// dialSSH connects according to c, retrying up to dialErrorLimit times.
// progress (maybe nil) receives a message for each failed attempt. A failure
// to connect is a *dialError; other errors are settings that cannot work.
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
			where := c.user + "@" + addr
			if permanent {
				return nil, &dialError{err: err, cause: err, where: where}
			}
			return nil, &dialError{cause: err, where: where, err: fmt.Errorf(
				"could not connect to %s after %d attempt(s) (dialErrorLimit %d): %w",
				where, attempt, c.dialErrorLimit, err)}
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
	go func() {
		select {
		case <-dctx.Done():
			conn.Close()
		case <-handshakeDone:
		}
	}()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	close(handshakeDone)
	if err != nil {
		conn.Close()
		// The handshake fails as soon as the watcher closes the connection,
		// so look at the context itself, not at the watcher.
		if dctx.Err() != nil {
			if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("ssh handshake with %s did not finish within %s: %w", addr, timeout, err)
			}
			return nil, fmt.Errorf("ssh handshake with %s aborted: %w", addr, ctx.Err())
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

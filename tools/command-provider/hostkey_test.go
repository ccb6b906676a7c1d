package main

// connection.hostKey: one form only, the public key line, and always set.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

const keyscanFix = `ssh-keyscan -t ed25519 -p 2222 dut.example | cut -d' ' -f2-`

func pubLine(t *testing.T, k any) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

func TestHostKeyForm(t *testing.T) {
	_, edPub, _, err := newKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ed := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(edPub)))
	edBlob := strings.Fields(ed)[1]
	good := map[string]string{
		"ed25519":              ed,
		"ed25519 with comment": ed + " root@dut the comment",
		"ed25519 .pub file":    ed + " root@dut\n",
	}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		good[c.Params().Name] = pubLine(t, &k.PublicKey)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good["rsa"] = pubLine(t, &rk.PublicKey) + " c"
	for name, line := range good {
		k, err := parseHostKey(line, "dut.example", 2222)
		if err != nil {
			t.Errorf("%s: %q refused: %v", name, line, err)
		} else if k.Type() != strings.Fields(line)[0] {
			t.Errorf("%s: parsed as %s", name, k.Type())
		}
	}

	// A real ed25519 blob presented under another type name.
	rsaBlob := strings.Fields(good["rsa"])[1]
	bad := map[string]struct{ line, want string }{
		"empty":               {"", "hostKey is required"},
		"blank":               {" \n ", "hostKey is required"},
		"sha256 fingerprint":  {"SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 32)), "="), "fingerprint"},
		"ssh-keygen -l line":  {"256 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s root@dut (ED25519)", "fingerprint"},
		"md5 fingerprint":     {"MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "fingerprint"},
		"legacy fingerprint":  {"16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "fingerprint"},
		"known_hosts":         {"dut.example " + ed, "known_hosts"},
		"known_hosts port":    {"[dut.example]:2222,10.0.0.1 " + ed, "known_hosts"},
		"known_hosts hashed":  {"|1|c2FsdA==|aGFzaA== " + ed, "known_hosts"},
		"known_hosts marker":  {"@cert-authority *.example " + ed, "known_hosts"},
		"bare base64":         {edBlob, "public key line"},
		"type mismatch":       {"ssh-rsa " + edBlob, "ssh-ed25519"},
		"rsa blob as ed25519": {"ssh-ed25519 " + rsaBlob, "ssh-rsa"},
		"unsupported type":    {"ssh-dss " + edBlob, "ssh-dss"},
		"security key":        {"sk-ssh-ed25519@openssh.com " + edBlob, "sk-ssh-ed25519@openssh.com"},
		"not base64":          {"ssh-ed25519 AAAA!!!", "base64"},
		"truncated blob":      {"ssh-ed25519 " + edBlob[:40], "ssh-ed25519"},
		"authorized options":  {`no-pty,from="10.0.0.1" ` + ed, "public key line"},
		"two keys":            {ed + "\n" + good["rsa"], "one line"},
		"only a type":         {"ssh-ed25519", "public key line"},
		"private key":         {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "public key line"},
	}
	for name, c := range bad {
		_, err := parseHostKey(c.line, "dut.example", 2222)
		if err == nil {
			t.Errorf("%s: %q accepted", name, c.line)
			continue
		}
		mustContain(t, name, err.Error(), c.want)
		mustContain(t, name, err.Error(), keyscanFix)
		if strings.Contains(c.line, "PRIVATE") && strings.Contains(err.Error(), "b3BlbnNzaC1rZXktdjEAAAAA") {
			t.Errorf("%s: key material echoed in %q", name, err)
		}
	}
}

// Check refuses a connection (or proxy) without a usable host key, for both
// remote resources; an unknown host key (preview) is accepted.
func TestHostKeyRequiredAtCheck(t *testing.T) {
	h := newHarness(t)
	_, edPub, _, _ := newKeyPair()
	ed := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(edPub)))
	conn := func(kv map[string]any) resource.PropertyValue {
		m := map[string]any{"host": "dut.example", "port": float64(2222), "password": "pw"}
		for k, v := range kv {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return resource.MakeSecret(resource.NewPropertyValue(m))
	}
	inputs := func(typ string, c resource.PropertyValue) resource.PropertyMap {
		if typ == copyRes {
			return props(map[string]any{"connection": c, "source": textAsset(t, "x"), "remotePath": "/tmp/x"})
		}
		return props(map[string]any{"connection": c, "create": "true"})
	}
	proxyWithout := map[string]any{"host": "bastion", "password": "pw"}
	for _, typ := range []string{remoteCmd, copyRes} {
		for name, c := range map[string]struct {
			conn resource.PropertyValue
			want string // "" = accepted
		}{
			"pinned":         {conn(map[string]any{"hostKey": ed}), ""},
			"unknown":        {conn(map[string]any{"hostKey": resource.MakeComputed(resource.NewStringProperty(""))}), ""},
			"missing":        {conn(nil), "hostKey is required"},
			"null":           {conn(map[string]any{"hostKey": resource.NewNullProperty()}), "hostKey is required"},
			"empty":          {conn(map[string]any{"hostKey": ""}), "hostKey is required"},
			"known_hosts":    {conn(map[string]any{"hostKey": "dut.example " + ed}), "known_hosts"},
			"fingerprint":    {conn(map[string]any{"hostKey": ssh.FingerprintSHA256(edPub)}), "fingerprint"},
			"proxy unpinned": {conn(map[string]any{"hostKey": ed, "proxy": proxyWithout}), "proxy.hostKey is required"},
		} {
			_, fails := h.check(typ, inputs(typ, c.conn))
			var reasons []string
			for _, f := range fails {
				reasons = append(reasons, f.Property+": "+f.Reason)
			}
			joined := strings.Join(reasons, "\n")
			switch {
			case c.want == "" && len(fails) > 0:
				t.Errorf("%s %s: refused: %s", typ, name, joined)
			case c.want != "" && !strings.Contains(joined, c.want):
				t.Errorf("%s %s: failures %q do not contain %q", typ, name, joined, c.want)
			case c.want != "" && name != "proxy unpinned" && !strings.Contains(joined, keyscanFix):
				t.Errorf("%s %s: failures %q lack the fix %q", typ, name, joined, keyscanFix)
			}
		}
	}
}

// A stored state without a host key (written before this rule) is not
// connected to either: delete and update fail with the fix, and nothing runs.
func TestHostKeyRequiredAtRun(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	marker := t.TempDir() + "/ran"
	state := props(map[string]any{
		"connection": d.connection(map[string]any{"hostKey": nil}),
		"create":     "touch " + marker,
		"delete":     "touch " + marker,
	})
	err := h.delete(remoteCmd, state)
	if err == nil {
		t.Fatal("delete connected to a host whose key is not pinned")
	}
	mustContain(t, "delete error", err.Error(), "hostKey is required")
	mustContain(t, "delete error", err.Error(), "ssh-keyscan -t ed25519 -p ")
	if _, _, err := h.create(remoteCmd, state, false); err == nil {
		t.Error("create connected to a host whose key is not pinned")
	}
	if _, err := h.s.Read(t.Context(), readReq(t, remoteCmd, withEnv(state, map[string]string{"PULUMI_COMMAND_READ": "touch " + marker}))); err == nil {
		t.Error("read connected to a host whose key is not pinned")
	}
	copyState := props(map[string]any{
		"connection": d.connection(map[string]any{"hostKey": nil}),
		"source":     textAsset(t, "x"), "remotePath": marker,
	})
	if _, _, err := h.create(copyRes, copyState, false); err == nil {
		t.Error("CopyToRemote connected to a host whose key is not pinned")
	}
	if fileExists(marker) {
		t.Errorf("a command ran on an unpinned host")
	}
}

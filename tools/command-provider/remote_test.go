package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

const (
	remoteCmd = tokRemoteCommand
	copyRes   = tokCopyToRemote
)

func TestRemoteCheckDefaultsAndValidation(t *testing.T) {
	h := newHarness(t)
	_, hostPub, _, err := newKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	in := h.checked(remoteCmd, props(map[string]any{
		"create": "true",
		"connection": resource.MakeSecret(resource.NewPropertyValue(map[string]any{
			"host": "example.invalid", "password": "pw", "hostKey": string(ssh.MarshalAuthorizedKey(hostPub)),
		})),
	}))
	conn := in["connection"]
	if !conn.IsSecret() {
		t.Fatalf("Check dropped the secret marker on connection")
	}
	c := plain(conn).ObjectValue()
	if c["port"].NumberValue() != 22 || c["user"].StringValue() != "root" ||
		c["dialErrorLimit"].NumberValue() != 10 || c["perDialTimeout"].NumberValue() != 15 {
		t.Errorf("defaults not applied: %v", c)
	}

	_, fails := h.check(remoteCmd, props(map[string]any{"create": "true"}))
	if len(fails) == 0 || fails[0].Property != "connection" {
		t.Errorf("missing connection accepted: %v", fails)
	}
	_, fails = h.check(remoteCmd, props(map[string]any{
		"create": "true",
		"connection": resource.NewPropertyValue(map[string]any{
			"host": "h", "hostKey": "not a key", "privateKey": "garbage", "port": float64(70000), "jumpHost": "x",
		}),
	}))
	joined := ""
	for _, f := range fails {
		joined += f.Reason + "\n"
	}
	for _, want := range []string{"hostKey", "privateKey", "port", "jumpHost"} {
		mustContain(t, "check failures", joined, want)
	}
	// Unknown connection during preview is fine.
	if _, fails := h.check(remoteCmd, props(map[string]any{
		"create": "true", "connection": resource.MakeComputed(resource.NewStringProperty("")),
	})); len(fails) > 0 {
		t.Errorf("unknown connection rejected: %v", fails)
	}
}

func TestRemoteCommandLifecycle(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	out := filepath.Join(t.TempDir(), "deleted")
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(nil),
		"create":     `echo "$ACCEPTED_ONE|$PLAIN"; cat; id -un; echo to-stderr >&2`,
		"update":     `printf '%s' "$PULUMI_COMMAND_STDOUT" | wc -l; echo "prev-err=$PULUMI_COMMAND_STDERR"`,
		"delete":     `echo "$PULUMI_COMMAND_STDOUT" > ` + out,
		"environment": map[string]any{
			"ACCEPTED_ONE": "via-setenv",        // sshd AcceptEnv lets this through
			"PLAIN":        `it's "$HOME" \n x`, // refused by sshd: exported by the shell
		},
		"stdin": "from stdin\n",
	}))
	state := h.mustCreate(remoteCmd, in)
	want := "via-setenv|it's \"$HOME\" \\n x\nfrom stdin\nroot"
	if got := str(t, state, "stdout"); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := str(t, state, "stderr"); got != "to-stderr" {
		t.Errorf("stderr = %q", got)
	}
	if !state["connection"].IsSecret() {
		t.Errorf("connection is not secret in the state")
	}
	if state["stdout"].IsSecret() {
		t.Errorf("plain command output became secret")
	}
	mustContain(t, "engine log", h.log.all(), "from stdin")
	if strings.Contains(h.log.all(), "PRIVATE KEY") {
		t.Errorf("key material reached the log")
	}

	news := in.Copy()
	news["stdin"] = resource.NewStringProperty("changed\n")
	if d := h.diff(remoteCmd, in, state, news); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) > 0 {
		t.Fatalf("diff = %v %v", d.Changes, d.Replaces)
	}
	state2, err := h.update(remoteCmd, in, state, news, false)
	if err != nil {
		t.Fatal(err)
	}
	// previous stdout had 3 lines (2 newlines without the trimmed last one)
	if got := str(t, state2, "stdout"); got != "2\nprev-err=to-stderr" {
		t.Errorf("update stdout = %q", got)
	}
	if err := h.delete(remoteCmd, state2); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != "2\nprev-err=to-stderr\n" {
		t.Errorf("delete wrote %q", got)
	}

	// Non-zero exit.
	bad := in.Copy()
	bad["create"] = resource.NewStringProperty("echo oops >&2; exit 5")
	_, _, err = h.create(remoteCmd, bad, false)
	if err == nil {
		t.Fatal("failing remote command succeeded")
	}
	mustContain(t, "error", err.Error(), "code 5")
	mustContain(t, "error", err.Error(), "oops")
}

func TestRemoteHostKeyPinning(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	run := func(hostKey string) (string, error) {
		in := h.checked(remoteCmd, props(map[string]any{
			"connection": d.connection(map[string]any{"hostKey": hostKey}),
			"create":     "echo pinned-ok",
		}))
		_, outs, err := h.create(remoteCmd, in, false)
		if err != nil {
			return "", err
		}
		return str(t, outs, "stdout"), nil
	}
	if got, err := run(d.hostKeyLine); err != nil || got != "pinned-ok" {
		t.Errorf("matching public-key-line host key: %q %v", got, err)
	}
	// The same key as a known_hosts line is refused at Check (one form only).
	knownHosts := "[127.0.0.1]:1234 " + strings.SplitN(d.hostKeyLine, " ", 3)[0] + " " +
		strings.SplitN(d.hostKeyLine, " ", 3)[1]
	_, fails := h.check(remoteCmd, props(map[string]any{
		"connection": d.connection(map[string]any{"hostKey": knownHosts}),
		"create":     "echo pinned-ok",
	}))
	if len(fails) != 1 || !strings.Contains(fails[0].Reason, "known_hosts") {
		t.Errorf("a known_hosts-form host key was not refused: %v", fails)
	}
	_, otherPub, _, err := newKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = run(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub))))
	if err == nil {
		t.Fatal("a mismatching pinned host key was accepted")
	}
	mustContain(t, "mismatch error", err.Error(), "host key mismatch")
	mustContain(t, "mismatch error", err.Error(), ssh.FingerprintSHA256(otherPub))
	if time.Since(start) > 5*time.Second {
		t.Errorf("a host key mismatch must not be retried (took %s)", time.Since(start))
	}
}

func TestRemoteDialErrors(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(map[string]any{"port": float64(closed), "dialErrorLimit": float64(3)}),
		"create":     "true",
	}))
	_, _, err = h.create(remoteCmd, in, false)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempt(s)") {
		t.Errorf("closed port error = %v", err)
	}

	// Wrong client key: authentication fails (retried up to the limit, then reported).
	_, _, otherKey, _ := newKeyPair()
	in = h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(map[string]any{"privateKey": otherKey, "dialErrorLimit": float64(1)}),
		"create":     "true",
	}))
	_, _, err = h.create(remoteCmd, in, false)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("wrong key error = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("key material in error")
	}

	// No credentials at all.
	t.Setenv("SSH_AUTH_SOCK", "")
	in = h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(map[string]any{"privateKey": nil}),
		"create":     "true",
	}))
	if _, _, err = h.create(remoteCmd, in, false); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("credential-less error = %v", err)
	}
}

func TestRemoteViaProxy(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	proxy := plain(d.connection(nil)).ObjectValue().Mappable()
	proxy["hostKey"] = d.hostKeyLine
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(map[string]any{"proxy": proxy}),
		"create":     "echo through-proxy",
	}))
	outs := h.mustCreate(remoteCmd, in)
	if got := str(t, outs, "stdout"); got != "through-proxy" {
		t.Errorf("stdout via proxy = %q", got)
	}
}

// ---- CopyToRemote ----

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st.Mode().Perm()
}

func fileAsset(t *testing.T, p string) resource.PropertyValue {
	a, err := asset.FromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewAssetProperty(a)
}

func textAsset(t *testing.T, s string) resource.PropertyValue {
	a, err := asset.FromText(s)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewAssetProperty(a)
}

func dirArchive(t *testing.T, p string) resource.PropertyValue {
	a, err := archive.FromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewArchiveProperty(a)
}

// makeTree creates src/{top.txt 0600, run.sh 0750, sub/deep.txt, link -> top.txt}.
func makeTree(t *testing.T, root string) string {
	src := filepath.Join(root, "payload")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "top.txt"), []byte("top\n"), 0o600))
	must(os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho run\n"), 0o750))
	must(os.WriteFile(filepath.Join(src, "sub", "deep.txt"), []byte("deep"), 0o644))
	must(os.Symlink("top.txt", filepath.Join(src, "link")))
	must(os.Chmod(filepath.Join(src, "sub"), 0o710))
	return src
}

func testCopy(t *testing.T, d *testSSHD) {
	h := newHarness(t)
	local := t.TempDir()
	remote := t.TempDir() // sshd runs on this machine: "remote" paths are local ones
	copyWith := func(source resource.PropertyValue, remotePath string) (resource.PropertyMap, error) {
		in := h.checked(copyRes, props(map[string]any{
			"connection": d.connection(nil), "source": source, "remotePath": remotePath,
		}))
		_, outs, err := h.create(copyRes, in, false)
		return outs, err
	}

	// A single executable file; missing parents are created, mode kept.
	script := filepath.Join(local, "tool.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho v1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(remote, "a", "b", "tool.sh")
	outs, err := copyWith(fileAsset(t, script), dest)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, dest) != "#!/bin/sh\necho v1\n" || mode(t, dest) != 0o755 {
		t.Errorf("file copy: %q mode %v", readFile(t, dest), mode(t, dest))
	}
	if !outs["connection"].IsSecret() || !outs["source"].IsAsset() {
		t.Errorf("outputs lost secret connection or source: %v", outs)
	}

	// Update = copy again: new content replaces the old file.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho v2\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(script, 0o700); err != nil { // WriteFile keeps the old mode
		t.Fatal(err)
	}
	in := h.checked(copyRes, props(map[string]any{"connection": d.connection(nil), "source": fileAsset(t, script), "remotePath": dest}))
	old := in.Copy()
	old["source"] = outs["source"]
	if diff := h.diff(copyRes, old, outs, in); diff.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(diff.Replaces) > 0 {
		t.Errorf("changed file content should diff as update, got %v %v", diff.Changes, diff.Replaces)
	}
	if _, err := h.update(copyRes, old, outs, in, false); err != nil {
		t.Fatal(err)
	}
	if readFile(t, dest) != "#!/bin/sh\necho v2\n" || mode(t, dest) != 0o700 {
		t.Errorf("re-copy: %q mode %v", readFile(t, dest), mode(t, dest))
	}
	leftovers, _ := filepath.Glob(filepath.Join(remote, "a", "b", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	// A file into an existing directory keeps its name.
	if _, err := copyWith(fileAsset(t, script), filepath.Join(remote, "a")); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(remote, "a", "tool.sh")) == "" {
		t.Errorf("file not copied into the directory")
	}

	// StringAsset to a file path; into a directory is an error.
	cfg := filepath.Join(remote, "etc", "app.conf")
	if _, err := copyWith(textAsset(t, "key=value\n"), cfg); err != nil {
		t.Fatal(err)
	}
	if readFile(t, cfg) != "key=value\n" || mode(t, cfg) != 0o644 {
		t.Errorf("string asset: %q %v", readFile(t, cfg), mode(t, cfg))
	}
	if _, err := copyWith(textAsset(t, "x"), filepath.Join(remote, "etc")); err == nil {
		t.Errorf("StringAsset onto a directory should fail")
	}

	// A directory into an existing directory lands under its own name.
	src := makeTree(t, local)
	if _, err := copyWith(dirArchive(t, src), remote); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(remote, "payload")
	checkTree := func(root string) {
		t.Helper()
		if readFile(t, filepath.Join(root, "top.txt")) != "top\n" || mode(t, filepath.Join(root, "top.txt")) != 0o600 {
			t.Errorf("%s/top.txt wrong", root)
		}
		if mode(t, filepath.Join(root, "run.sh")) != 0o750 {
			t.Errorf("%s/run.sh mode %v", root, mode(t, filepath.Join(root, "run.sh")))
		}
		if readFile(t, filepath.Join(root, "sub", "deep.txt")) != "deep" {
			t.Errorf("%s/sub/deep.txt wrong", root)
		}
		if mode(t, filepath.Join(root, "sub")) != 0o710 {
			t.Errorf("%s/sub mode %v", root, mode(t, filepath.Join(root, "sub")))
		}
		if readFile(t, filepath.Join(root, "link")) != "top\n" {
			t.Errorf("%s/link (followed symlink) wrong", root)
		}
	}
	checkTree(got)

	// A directory to a new path becomes that path.
	fresh := filepath.Join(remote, "new", "place")
	if _, err := copyWith(dirArchive(t, src), fresh); err != nil {
		t.Fatal(err)
	}
	checkTree(fresh)

	// A directory onto an existing file fails.
	if _, err := copyWith(dirArchive(t, src), cfg); err == nil {
		t.Errorf("directory onto a file should fail")
	}

	// AssetArchive: members placed inside remotePath.
	inner, _ := archive.FromPath(src)
	aa, err := archive.FromAssets(map[string]any{
		"readme.txt": mustAsset(asset.FromText("hello")),
		"bin/tool":   mustAsset(asset.FromPath(script)),
		"tree":       inner,
	})
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(remote, "bundle")
	if _, err := copyWith(resource.NewArchiveProperty(aa), target); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(target, "readme.txt")) != "hello" || mode(t, filepath.Join(target, "bin", "tool")) != 0o700 {
		t.Errorf("asset archive members wrong")
	}
	checkTree(filepath.Join(target, "tree"))

	// Delete leaves files alone.
	if err := h.delete(copyRes, outs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); err != nil {
		t.Errorf("delete removed the copied file")
	}
}

func mustAsset(a *asset.Asset, err error) *asset.Asset {
	if err != nil {
		panic(err)
	}
	return a
}

func TestCopyToRemoteSFTP(t *testing.T) {
	testCopy(t, needSSHD(t, true))
}

func TestCopyToRemoteShellFallback(t *testing.T) {
	// This server has no SFTP subsystem: the copy must fall back on its own.
	testCopy(t, needSSHD(t, false))
}

func TestCopyToRemoteCheck(t *testing.T) {
	h := newHarness(t)
	uri := &asset.Asset{Sig: asset.AssetSig, URI: "https://example.invalid/x", Hash: strings.Repeat("0", 64)}
	_, fails := h.check(copyRes, props(map[string]any{
		"connection": resource.NewPropertyValue(map[string]any{"host": "h"}),
		"source":     resource.NewAssetProperty(uri),
	}))
	got := map[string]string{}
	for _, f := range fails {
		got[f.Property] = f.Reason
	}
	if got["remotePath"] == "" || !strings.Contains(got["source"], "not supported") ||
		!strings.Contains(got["connection"], "hostKey is required") {
		t.Errorf("check failures = %v", got)
	}
	// Trigger change replaces; remotePath change updates.
	base := props(map[string]any{"connection": resource.NewPropertyValue(map[string]any{"host": "h"}),
		"source": textAsset(t, "x"), "remotePath": "/tmp/x", "triggers": []any{"1"}})
	n := base.Copy()
	n["remotePath"] = resource.NewStringProperty("/tmp/y")
	if d := h.diff(copyRes, base, base, n); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Errorf("remotePath diff = %v %v", d.Changes, d.Replaces)
	}
	n["triggers"] = resource.NewPropertyValue([]any{"2"})
	if d := h.diff(copyRes, base, base, n); len(d.Replaces) != 1 {
		t.Errorf("trigger diff replaces = %v", d.Replaces)
	}
}

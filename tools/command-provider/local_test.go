package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

const local = tokLocalCommand

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func TestPluginInfoAndSchema(t *testing.T) {
	h := newHarness(t)
	info, err := h.s.GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.Version != version {
		t.Fatalf("GetPluginInfo = %v, %v; want %s", info, err, version)
	}
	sch, err := h.s.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Name      string
		Resources map[string]any
	}
	if err := json.Unmarshal([]byte(sch.Schema), &parsed); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if parsed.Name != "command" || len(parsed.Resources) != 3 {
		t.Errorf("schema name %q with %d resources", parsed.Name, len(parsed.Resources))
	}
	conf, err := h.s.Configure(context.Background(), &pulumirpc.ConfigureRequest{})
	if err != nil || !conf.AcceptSecrets || !conf.SupportsPreview {
		t.Errorf("Configure = %v, %v", conf, err)
	}
	if _, _, err := kindOf("command:remote:CopyFile", ""); err == nil {
		t.Errorf("an unimplemented type must be refused")
	}
}

func TestLocalLifecycle(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "log")
	in := h.checked(local, props(map[string]any{
		"create":   "echo created >> " + marker + "; echo hello; echo warn >&2",
		"update":   "echo updated >> " + marker + "; echo again",
		"delete":   "echo deleted >> " + marker,
		"triggers": []any{"a"},
	}))
	state := h.mustCreate(local, in)
	if got := str(t, state, "stdout"); got != "hello" {
		t.Errorf("stdout = %q, want %q (one trailing newline trimmed)", got, "hello")
	}
	if got := str(t, state, "stderr"); got != "warn" {
		t.Errorf("stderr = %q", got)
	}
	if str(t, state, "create") != plain(in["create"]).StringValue() {
		t.Errorf("inputs are not part of the outputs")
	}

	// Same inputs: no diff.
	if d := h.diff(local, in, state, in); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("identical inputs diff as %v %v", d.Changes, d.Diffs)
	}

	// Changing the update command: update, no replacement, and `update` runs.
	news := in.Copy()
	news["update"] = resource.NewStringProperty("echo updated2 >> " + marker + "; echo again2")
	d := h.diff(local, in, state, news)
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Fatalf("update diff = %v replaces=%v", d.Changes, d.Replaces)
	}
	if d.DetailedDiff["update"].GetKind() != pulumirpc.PropertyDiff_UPDATE {
		t.Errorf("detailed diff = %v", d.DetailedDiff)
	}
	state2, err := h.update(local, in, state, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, state2, "stdout"); got != "again2" {
		t.Errorf("stdout after update = %q", got)
	}

	// Changing triggers: replacement.
	news2 := news.Copy()
	news2["triggers"] = resource.NewPropertyValue([]any{"b"})
	d = h.diff(local, news, state2, news2)
	if len(d.Replaces) != 1 || d.Replaces[0] != "triggers" {
		t.Errorf("trigger change must replace, got replaces=%v", d.Replaces)
	}
	if d.DetailedDiff["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Errorf("triggers detailed diff = %v", d.DetailedDiff["triggers"])
	}

	if err := h.delete(local, state2); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, marker); got != "created\nupdated2\ndeleted\n" {
		t.Errorf("commands ran as %q", got)
	}
}

func TestLocalUpdateFallsBackToCreate(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "echo one", "environment": map[string]any{"X": "1"}}))
	state := h.mustCreate(local, in)
	news := in.Copy()
	news["environment"] = resource.NewPropertyValue(map[string]any{"X": "2"})
	news["create"] = resource.NewStringProperty("echo two $X")
	if d := h.diff(local, in, state, news); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) > 0 {
		t.Fatalf("diff = %v %v", d.Changes, d.Replaces)
	}
	out, err := h.update(local, in, state, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, out, "stdout"); got != "two 2" {
		t.Errorf("update without `update` should rerun create, stdout = %q", got)
	}
}

func TestLocalOnlyDeleteChangedRunsNothing(t *testing.T) {
	h := newHarness(t)
	counter := filepath.Join(t.TempDir(), "count")
	in := h.checked(local, props(map[string]any{
		"create": "echo x >> " + counter + "; echo first",
		"delete": "true",
	}))
	state := h.mustCreate(local, in)
	news := in.Copy()
	news["delete"] = resource.NewStringProperty("echo bye")
	d := h.diff(local, in, state, news)
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Fatalf("delete change diff = %v %v", d.Changes, d.Replaces)
	}
	out, err := h.update(local, in, state, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, counter); got != "x\n" {
		t.Errorf("create re-ran on a delete-only change: %q", got)
	}
	if str(t, out, "stdout") != "first" || str(t, out, "delete") != "echo bye" {
		t.Errorf("outputs after delete-only change: %v", out)
	}
}

func TestLocalEnvStdinDirInterpreter(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	t.Setenv("INHERITED_FROM_PROVIDER", "yes")
	in := h.checked(local, props(map[string]any{
		"create":      `echo "$FOO|$INHERITED_FROM_PROVIDER|$(pwd)"; cat; [[ 1 == 1 ]] && echo bash`,
		"environment": map[string]any{"FOO": "it's a \"test\" $x"},
		"stdin":       "from-stdin\n",
		"dir":         dir,
		"interpreter": []any{"/bin/bash", "-c"},
	}))
	out := h.mustCreate(local, in)
	want := "it's a \"test\" $x|yes|" + dir + "\nfrom-stdin\nbash"
	if got := str(t, out, "stdout"); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestLocalNonZeroExit(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "echo partial; echo 'it broke' >&2; exit 3"}))
	_, _, err := h.create(local, in, false)
	if err == nil {
		t.Fatal("a failing command must fail Create")
	}
	mustContain(t, "error", err.Error(), "exited with code 3")
	mustContain(t, "error", err.Error(), "it broke")
	mustContain(t, "error", err.Error(), "partial")

	// A failing delete keeps the resource (error surfaces).
	st := props(map[string]any{"create": "true", "delete": "exit 7", "stdout": "", "stderr": ""})
	if err := h.delete(local, st); err == nil || !strings.Contains(err.Error(), "code 7") {
		t.Errorf("delete error = %v", err)
	}
}

func TestLocalAddPreviousOutputInEnv(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	dump := filepath.Join(dir, "deleted")
	in := h.checked(local, props(map[string]any{
		"create": "echo first; echo firsterr >&2",
		"update": `echo "prev=$PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR"`,
		"delete": `echo "$PULUMI_COMMAND_STDOUT" > ` + dump,
	}))
	state := h.mustCreate(local, in)
	news := in.Copy()
	news["update"] = resource.NewStringProperty(`echo "prev2=$PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR"`)
	out, err := h.update(local, in, state, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, out, "stdout"); got != "prev2=first/firsterr" {
		t.Errorf("update stdout = %q", got)
	}
	if err := h.delete(local, out); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dump); got != "prev2=first/firsterr\n" {
		t.Errorf("delete saw PULUMI_COMMAND_STDOUT = %q", got)
	}

	// Disabled: the variables are not set.
	off := news.Copy()
	off["addPreviousOutputInEnv"] = resource.NewBoolProperty(false)
	off["update"] = resource.NewStringProperty(`echo "prev=${PULUMI_COMMAND_STDOUT-unset}"`)
	out2, err := h.update(local, news, out, off, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, out2, "stdout"); got != "prev=unset" {
		t.Errorf("with addPreviousOutputInEnv=false stdout = %q", got)
	}
	// Create never gets them.
	c := h.mustCreate(local, h.checked(local, props(map[string]any{"create": `echo "${PULUMI_COMMAND_STDOUT-unset}"`})))
	if got := str(t, c, "stdout"); got != "unset" {
		t.Errorf("create saw PULUMI_COMMAND_STDOUT = %q", got)
	}
}

func TestLocalSecretsStaySecret(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{
		"create":      "echo token=$TOKEN",
		"environment": resource.NewObjectProperty(resource.PropertyMap{"TOKEN": resource.MakeSecret(resource.NewStringProperty("s3cr3t-value"))}),
	}))
	out := h.mustCreate(local, in)
	env := out["environment"].ObjectValue()["TOKEN"]
	if !env.IsSecret() {
		t.Errorf("environment.TOKEN lost its secret marker: %v", out["environment"])
	}
	if !out["stdout"].IsSecret() || !out["stderr"].IsSecret() {
		t.Errorf("stdout/stderr of a command fed secrets must be secret")
	}
	if got := str(t, out, "stdout"); got != "token=s3cr3t-value" {
		t.Errorf("stdout = %q", got)
	}
	logged := h.log.all()
	if strings.Contains(logged, "s3cr3t-value") || !strings.Contains(logged, "token=[secret]") {
		t.Errorf("secret not scrubbed from the engine log: %q", logged)
	}
	// The wire form keeps the secret signature too.
	s, err := marshal("t", out, false)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(s.AsMap())
	if !strings.Contains(string(raw), resource.SecretSig) {
		t.Errorf("marshalled outputs carry no secret signature: %s", raw)
	}

	// Non-secret inputs give plain outputs.
	plainOut := h.mustCreate(local, h.checked(local, props(map[string]any{"create": "echo hi"})))
	if plainOut["stdout"].IsSecret() {
		t.Errorf("stdout of a non-secret command should not be secret")
	}
}

func TestLocalLoggingModes(t *testing.T) {
	cases := map[string][2]bool{ // mode -> want stdout line, want stderr line
		"":                {true, true},
		"stdoutAndStderr": {true, true},
		"stdout":          {true, false},
		"stderr":          {false, true},
		"none":            {false, false},
	}
	for mode, want := range cases {
		h := newHarness(t)
		kv := map[string]any{"create": "echo line-out; echo line-err >&2"}
		if mode != "" {
			kv["logging"] = mode
		}
		h.mustCreate(local, h.checked(local, props(kv)))
		logged := h.log.all()
		if strings.Contains(logged, "line-out") != want[0] || strings.Contains(logged, "line-err") != want[1] {
			t.Errorf("logging %q forwarded %q", mode, logged)
		}
	}
}

func TestLocalStreamsWhileRunning(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "echo early; sleep 1.5; echo late"}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.mustCreate(local, in)
	}()
	time.Sleep(800 * time.Millisecond)
	if got := h.log.all(); got != "early" {
		t.Errorf("after 0.8s the log holds %q, want just the first line", got)
	}
	<-done
	if got := h.log.all(); got != "early\nlate" {
		t.Errorf("final log %q", got)
	}
}

func TestLocalPreviewRunsNothing(t *testing.T) {
	h := newHarness(t)
	marker := filepath.Join(t.TempDir(), "ran")
	in := h.checked(local, props(map[string]any{"create": "touch " + marker}))
	id, out, err := h.create(local, in, true)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" || !out["stdout"].IsComputed() {
		t.Errorf("preview create: id=%q stdout=%v", id, out["stdout"])
	}
	state := h.mustCreate(local, in)
	os.Remove(marker)
	news := in.Copy()
	news["create"] = resource.NewStringProperty("touch " + marker + "; echo new")
	up, err := h.update(local, in, state, news, true)
	if err != nil {
		t.Fatal(err)
	}
	if !up["stdout"].IsComputed() {
		t.Errorf("preview update stdout = %v", up["stdout"])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("preview executed the command")
	}
	// Unknown inputs during preview.
	unk := in.Copy()
	unk["create"] = resource.MakeComputed(resource.NewStringProperty(""))
	if _, fails := h.check(local, unk); len(fails) > 0 {
		t.Errorf("unknown create rejected: %v", fails)
	}
	if d := h.diff(local, in, state, unk); d.Changes != pulumirpc.DiffResponse_DIFF_SOME {
		t.Errorf("unknown input should diff as a change")
	}
}

func TestLocalCheckFailures(t *testing.T) {
	h := newHarness(t)
	_, fails := h.check(local, props(map[string]any{
		"create":     "true",
		"logging":    "everything",
		"assetPaths": []any{"*.txt"},
		"bogus":      "x",
	}))
	got := map[string]bool{}
	for _, f := range fails {
		got[f.Property] = true
	}
	for _, want := range []string{"logging", "assetPaths", "bogus"} {
		if !got[want] {
			t.Errorf("no check failure for %s (got %v)", want, fails)
		}
	}
	// No create at all is valid and stable (nothing to run).
	in := h.checked(local, props(map[string]any{"delete": "true"}))
	st := h.mustCreate(local, in)
	if d := h.diff(local, in, st, in); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("delete-only command diffs against itself: %v", d.Diffs)
	}
	// Diff against an old state without explicit old inputs ignores outputs.
	if d := h.diff(local, nil, st, in); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("state-only diff: %v", d.Diffs)
	}
}

func TestCancelAbortsRunningCommand(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "sleep 30 & sleep 30; echo done"}))
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, _, err := h.create(local, in, false)
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if _, err := h.s.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Errorf("cancelled create returned %v", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("cancel took %s", time.Since(start))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Cancel did not stop the command")
	}
}

// Cancel sends SIGTERM first (a command may undo what it was doing), SIGKILL after the grace.
func TestCancelTermThenKill(t *testing.T) {
	dir := t.TempDir()
	undone := filepath.Join(dir, "undone")
	cases := []struct {
		name, script string
		wantUndo     bool
		minS, maxS   float64
	}{
		{"traps TERM", "trap 'echo undo > " + undone + "; exit 143' TERM; sleep 30 & wait", true, 0, 2.5},
		{"ignores TERM", "trap '' TERM; sleep 30", false, 2.5, 8},
	}
	for _, c := range cases {
		h := newHarness(t)
		_ = os.Remove(undone)
		in := h.checked(local, props(map[string]any{"create": c.script}))
		errc := make(chan error, 1)
		go func() {
			_, _, err := h.create(local, in, false)
			errc <- err
		}()
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		if _, err := h.s.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			took := time.Since(start).Seconds()
			if err == nil {
				t.Errorf("%s: cancelled create succeeded", c.name)
			}
			if took < c.minS || took > c.maxS {
				t.Errorf("%s: cancel took %.1f s, want %.1f-%.1f s", c.name, took, c.minS, c.maxS)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: Cancel did not stop the command", c.name)
		}
		_, statErr := os.Stat(undone)
		if (statErr == nil) != c.wantUndo {
			t.Errorf("%s: undo ran = %v, want %v", c.name, statErr == nil, c.wantUndo)
		}
	}
}

func TestCreateTimeout(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "sleep 20"}))
	start := time.Now()
	_, err := h.s.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnFor(local, "r"), Type: local, Properties: mustStruct(t, in), Timeout: 0.5,
	})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("timeout not honoured: err=%v after %s", err, time.Since(start))
	}
}

func TestInvokeLocalRun(t *testing.T) {
	h := newHarness(t)
	args := mustStruct(t, props(map[string]any{"command": "echo $A-run", "environment": map[string]any{"A": "x"}}))
	resp, err := h.s.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: tokLocalRun, Args: args})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("Invoke: %v %v", err, resp.GetFailures())
	}
	if got := str(t, mustMap(t, resp.Return), "stdout"); got != "x-run" {
		t.Errorf("run stdout = %q", got)
	}
	resp, err = h.s.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: tokLocalRun, Args: mustStruct(t, props(map[string]any{}))})
	if err != nil || len(resp.Failures) == 0 {
		t.Errorf("run without command: %v %v", resp, err)
	}
}

func TestExportPrefixQuoting(t *testing.T) {
	env := map[string]string{
		"A": `it's "quoted" $HOME ` + "`id`" + ` \ back`,
		"B": "multi\nline\n",
		"C": "",
	}
	prefix, err := exportPrefix(env, []string{"C", "A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", prefix+`printf '%s|%s|%s' "$A" "$B" "$C"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := env["A"] + "|" + env["B"] + "|"; string(out) != want {
		t.Errorf("shell saw %q, want %q", out, want)
	}
	if _, err := exportPrefix(map[string]string{"BAD-NAME": "x"}, []string{"BAD-NAME"}); err == nil {
		t.Errorf("invalid variable name accepted")
	}
}

func TestLineSinkAndRedactor(t *testing.T) {
	var got []string
	s := newLineSink(func(l string) { got = append(got, l) })
	s.Write([]byte("a\r\nb"))
	s.Write([]byte("c\nd"))
	s.Close()
	if strings.Join(got, ",") != "a,bc,d" || s.String() != "a\r\nbc\nd" {
		t.Errorf("lines %q, all %q", got, s.String())
	}
	r := newRedactor([]string{"ab", "hunter22", "-----BEGIN KEY-----\nAAAAAAAAAAAA\n-----END KEY-----"})
	if out := r.apply("pw hunter22 ab AAAAAAAAAAAA"); out != "pw [secret] ab [secret]" {
		t.Errorf("redacted %q", out)
	}
	if tl := tail(strings.Repeat("x\n", 100), 3, 1000); tl != "...\nx\nx\nx" {
		t.Errorf("tail %q", tl)
	}
}

func TestLocalOversizedPreviousOutputIsNotExported(t *testing.T) {
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{
		"create": "head -c 200000 /dev/zero | tr '\\0' x",
		"update": `echo "len=${#PULUMI_COMMAND_STDOUT} err=${PULUMI_COMMAND_STDERR-unset}"; /bin/true && echo exec-ok`,
	}))
	state := h.mustCreate(local, in)
	if n := len(str(t, state, "stdout")); n != 200000 {
		t.Fatalf("captured %d bytes", n)
	}
	news := in.Copy()
	news["triggers"] = resource.NewPropertyValue([]any{}) // any change; update runs
	news["stdin"] = resource.NewStringProperty("")
	out, err := h.update(local, in, state, news, false)
	if err != nil {
		t.Fatalf("update with a huge previous stdout failed: %v", err)
	}
	if got := str(t, out, "stdout"); got != "len=0 err=\nexec-ok" {
		t.Errorf("stdout = %q", got)
	}
}

func TestLocalBackgroundChildDoesNotHang(t *testing.T) {
	old := localWaitDelay
	localWaitDelay = 500 * time.Millisecond
	defer func() { localWaitDelay = old }()
	h := newHarness(t)
	in := h.checked(local, props(map[string]any{"create": "sleep 5 & echo started"}))
	start := time.Now()
	out := h.mustCreate(local, in)
	if time.Since(start) > 4*time.Second {
		t.Errorf("create waited for the background child (%s)", time.Since(start))
	}
	if got := str(t, out, "stdout"); got != "started" {
		t.Errorf("stdout = %q", got)
	}
}

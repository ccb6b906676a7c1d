package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"google.golang.org/protobuf/types/known/emptypb"
)

// taggedProcs lists the processes on this machine that belong to a test
// run: TREE_MARKER=marker is in their environment (exec'd children) or the
// marker is in their command line (the remote login shell and its forked
// subshells, whose argv holds the export statement).
func taggedProcs(marker string) []int {
	return procsWith("TREE_MARKER="+marker, marker)
}

// procsWith lists the processes whose environment holds envEntry or whose
// command line contains cmdSubstr (zombies have neither).
func procsWith(envEntry, cmdSubstr string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, _ := os.ReadFile(p + "/environ")
		cmdline, _ := os.ReadFile(p + "/cmdline")
		if bytes.Contains(cmdline, []byte(cmdSubstr)) || bytes.Contains(environ, []byte(envEntry)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func procSummary(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		b.WriteString(strconv.Itoa(pid) + ": " + strings.ReplaceAll(string(cmd), "\x00", " ") + "\n")
	}
	return b.String()
}

func TestRemoteCancelKillsProcessTree(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	marker := randHex(16)
	t.Cleanup(func() { // never leak sleeps into other tests, even on failure
		for _, pid := range taggedProcs(marker) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// A grandchild tree, a forked subshell loop, a setsid daemon (own
	// session and group), and a subshell whose sleep ignores SIGTERM.
	in := h.checked(remoteCmd, props(map[string]any{
		"connection":  d.connection(nil),
		"environment": map[string]any{"TREE_MARKER": marker},
		// The marker in a comment tags the login shell and its forked
		// subshells (TREE_MARKER itself travels on stdin, not in argv).
		"create": "# " + marker + "\n" + `sh -c 'sleep 300 & sleep 301 & wait' &
(while :; do sleep 1; done) &
setsid sleep 302 </dev/null >/dev/null 2>&1 &
(trap '' TERM; sleep 303) &
echo started; wait`,
	}))
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.create(remoteCmd, in, false)
		errc <- err
	}()
	// Wait until the whole tree is up (how many shells there are depends on
	// the login shell; bash execs the last command of a subshell).
	up := func() bool {
		s := procSummary(taggedProcs(marker))
		for _, want := range []string{"sleep 300", "sleep 301", "sleep 302", "sleep 303", "sleep 1", "while"} {
			if !strings.Contains(s, want) {
				return false
			}
		}
		return strings.Contains(h.log.all(), "started")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !up() {
		if time.Now().After(deadline) {
			t.Fatalf("remote tree did not start; log %q, processes:\n%s", h.log.all(), procSummary(taggedProcs(marker)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("running before cancel:\n%s", procSummary(taggedProcs(marker)))

	start := time.Now()
	if _, err := h.s.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Errorf("cancelled create returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Cancel did not stop the command")
	}
	t.Logf("create returned %s after Cancel", time.Since(start).Round(time.Millisecond))
	// The cleanup has already run when Create returns; allow a moment for
	// the kernel to reap.
	for left := taggedProcs(marker); len(left) > 0; left = taggedProcs(marker) {
		if time.Since(start) > 15*time.Second {
			t.Logf("sshd stderr: %s", d.stderr.String())
			t.Fatalf("processes of the cancelled run survive:\n%s", procSummary(left))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("all processes gone %s after Cancel", time.Since(start).Round(time.Millisecond))
}

// The run id export must not change what a successful run returns.
func TestRemoteRunOutputUnchanged(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(nil),
		"create":     `printf 'line1\nline2\n'; echo err >&2; printf '%s' "$PULUMI_COMMAND_RUN_ID" | wc -c >&2`,
	}))
	out := h.mustCreate(remoteCmd, in)
	if got := str(t, out, "stdout"); got != "line1\nline2" {
		t.Errorf("stdout = %q", got)
	}
	if got := str(t, out, "stderr"); got != "err\n32" {
		t.Errorf("stderr = %q (want err and a 32-character run id)", got)
	}
	in["create"] = resource.NewStringProperty("echo partial; exit 7")
	_, _, err := h.create(remoteCmd, in, false)
	if err == nil {
		t.Fatal("exit 7 succeeded")
	}
	mustContain(t, "error", err.Error(), "code 7")
	mustContain(t, "error", err.Error(), "partial")
	if strings.Contains(err.Error()+h.log.all(), "PULUMI_COMMAND_RUN_ID") {
		t.Errorf("run id variable leaked into the error or log: %v", err)
	}
}

// killScript itself, run locally under each available shell and, when
// busybox is installed, with busybox applets only (as on Alpine).
func TestKillScriptShells(t *testing.T) {
	type variant struct{ name, shell, path string }
	var vs []variant
	for _, sh := range []string{"/bin/sh", "/bin/dash", "/bin/bash"} {
		if _, err := os.Stat(sh); err == nil {
			vs = append(vs, variant{sh, sh, os.Getenv("PATH")})
		}
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		dir := t.TempDir()
		for _, applet := range []string{"sh", "head", "tr", "awk", "sleep", "setsid"} {
			if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
				t.Fatal(err)
			}
		}
		vs = append(vs, variant{"busybox", filepath.Join(dir, "sh"), dir})
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel() // each waits 3 s for the sleep that ignores SIGTERM
			id := randHex(16)
			gone := func() []int { return procsWith(runIDVar+"="+id, id) }
			t.Cleanup(func() {
				for _, pid := range gone() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			start := func(script string) *exec.Cmd {
				c := exec.Command(v.shell, "-c", script)
				c.Env = []string{"PATH=" + v.path}
				c.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // like sshd
				return c
			}
			run := start("export " + runIDVar + "=" + shellQuote(id) + "; " +
				"sleep 300 & setsid sleep 301 & (trap '' TERM; sleep 302; :) & while :; do :; done")
			if err := run.Start(); err != nil {
				t.Fatal(err)
			}
			go run.Wait()
			for deadline := time.Now().Add(5 * time.Second); len(gone()) < 5; {
				if time.Now().After(deadline) {
					t.Fatalf("tree did not start:\n%s", procSummary(gone()))
				}
				time.Sleep(20 * time.Millisecond)
			}
			out, err := start("id=" + shellQuote(id) + "\n" + killScript).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("kill script: %v %q", err, out)
			}
			time.Sleep(100 * time.Millisecond) // let the kernel reap
			if left := gone(); len(left) > 0 {
				t.Errorf("left running:\n%s", procSummary(left))
			}
		})
	}
}

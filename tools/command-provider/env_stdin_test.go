package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellVariants lists the POSIX shells found here: /bin/sh, dash, bash and,
// when installed, busybox sh with busybox applets only (as on Alpine).
type shellVariant struct{ name, shell, path string }

func shellVariants(t *testing.T, applets ...string) []shellVariant {
	var vs []shellVariant
	for _, sh := range []string{"/bin/sh", "/bin/dash", "/bin/bash"} {
		if _, err := os.Stat(sh); err == nil {
			vs = append(vs, shellVariant{sh, sh, os.Getenv("PATH")})
		}
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		dir := t.TempDir()
		for _, applet := range append([]string{"sh"}, applets...) {
			if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
				t.Fatal(err)
			}
		}
		vs = append(vs, shellVariant{"busybox", filepath.Join(dir, "sh"), dir})
	} else {
		t.Logf("busybox not installed: busybox sh not covered")
	}
	return vs
}

// The command line and stdin the remote shell gets, run by each local shell
// the way sshd runs it (shell -c <command line>, stdin a pipe).
func TestEnvOverStdinShells(t *testing.T) {
	env := map[string]string{
		"A":     `it's "quoted" $HOME ` + "`id` $(id)" + ` \ back`,
		"B":     "multi\nline\n\n",
		"C":     "",
		"U":     "ünïcødé ✓ 🔑\t\r",
		"OTHER": "sent with the env request",
	}
	refused := []string{"C", "A", "B", "U"}
	payload, err := envPayload(env, refused)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(payload, "\n") != 1 || !strings.HasSuffix(payload, "\n") {
		t.Fatalf("payload is not one line: %q", payload)
	}
	runID := randHex(16)
	script := `printf '%s|%s|%s|%s|%s|%s|' "$A" "$B" "$C" "$U" "${OTHER-unset}" "$` + runIDVar + `"
env | grep -c '^A='; sh -c 'printf "<%s>" "$B"'; cat; echo "[${__pcenv-unset}]"`
	line := remoteCommandLine(true, runID, script)
	if strings.Contains(line, "quoted") {
		t.Fatalf("a value is in the command line: %q", line)
	}
	if !strings.Contains(line, runIDVar+"="+shellQuote(runID)+";") {
		t.Fatalf("the run id export (the cancel cleanup's needle) is missing: %q", line)
	}
	for _, v := range shellVariants(t, "base64", "printf", "cat", "env", "grep") {
		t.Run(v.name, func(t *testing.T) {
			for _, stdin := range []string{"", "user\nstdin without final newline", strings.Repeat("x", 100000) + "\n"} {
				c := exec.Command(v.shell, "-c", line)
				c.Env = []string{"PATH=" + v.path}
				c.Stdin = io2pipe(t, payload+stdin) // a pipe, like sshd's
				var stderr bytes.Buffer
				c.Stderr = &stderr
				out, err := c.Output()
				if err != nil {
					t.Fatalf("%v: %s", err, stderr.String())
				}
				want := env["A"] + "|" + env["B"] + "|" + "|" + env["U"] + "|unset|" + runID + "|1\n" +
					"<" + env["B"] + ">" + stdin + "[unset]\n"
				if string(out) != want {
					t.Errorf("stdin %d bytes: shell printed\n%q\nwant\n%q", len(stdin), out, want)
				}
			}
			// Without base64 (or with a broken payload) the command must not
			// run without its environment.
			for name, tc := range map[string]struct{ path, stdin string }{
				"no base64":      {t.TempDir(), payload},
				"bad payload":    {v.path, "!!!not base64!!!\n"},
				"empty stdin":    {v.path, ""},
				"truncated line": {v.path, strings.TrimSuffix(payload, "\n")},
			} {
				c := exec.Command(v.shell, "-c", line)
				c.Env = []string{"PATH=" + tc.path}
				c.Stdin = io2pipe(t, tc.stdin)
				out, err := c.CombinedOutput()
				code := -1
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if code != envExitCode || !strings.Contains(string(out), "environment") || strings.Contains(string(out), "|") {
					t.Errorf("%s: exit %d, output %q; want exit %d and an error about the environment",
						name, code, out, envExitCode)
				}
			}
		})
	}
}

// io2pipe returns the read end of a pipe fed with s.
func io2pipe(t *testing.T, s string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.WriteString(s)
		w.Close()
	}()
	t.Cleanup(func() { r.Close() })
	return r
}

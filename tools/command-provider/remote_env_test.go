package main

// Environment variables that sshd refuses reach the remote command through
// its stdin, never through a command line.

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// cmdlineSampler reads every /proc/*/cmdline on the machine, over and over,
// until stopped. It records the command lines holding secret, and counts the
// samples in which some command line held seen (proof that it sampled while
// the command ran).
type cmdlineSampler struct {
	secret, seen []byte
	stop         chan struct{}
	done         chan struct{}

	mu      sync.Mutex
	leaks   []string
	sawRun  int
	samples int
}

func sampleCmdlines(secret, seen string) *cmdlineSampler {
	s := &cmdlineSampler{secret: []byte(secret), seen: []byte(seen),
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			saw := false
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				if bytes.Contains(b, s.secret) {
					s.mu.Lock()
					s.leaks = append(s.leaks, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
					s.mu.Unlock()
				}
				if bytes.Contains(b, s.seen) {
					saw = true
				}
			}
			s.mu.Lock()
			s.samples++
			if saw {
				s.sawRun++
			}
			s.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return s
}

// finish stops sampling and fails the test on a leak or when no sample
// caught the command running.
func (s *cmdlineSampler) finish(t *testing.T, what string) {
	t.Helper()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.leaks) > 0 {
		t.Errorf("%s: the secret value is in a process command line (%d times), e.g.\n%s",
			what, len(s.leaks), s.leaks[0])
	}
	if s.sawRun == 0 {
		t.Errorf("%s: %d samples, none caught the command running", what, s.samples)
	}
	t.Logf("%s: %d samples, %d while the command ran", what, s.samples, s.sawRun)
}

// A server with Debian's default AcceptEnv refuses every variable but the
// locale ones. The refused ones, secret included, must reach the command
// with their exact value (create, update and delete), and never appear in
// the command line of any process on the machine while it runs.
func TestRemoteRefusedEnvNeverInArgv(t *testing.T) {
	d := needSSHDVariant(t, sshdVariant{sftp: true, acceptEnv: debianAcceptEnv})
	h := newHarness(t)
	dir := t.TempDir()
	token := "tok" + randHex(12)
	secret := token + ` it's "quoted" $(id) ` + "`id` \\ back\nsecond line\tünïcødé ✓ 🔑\n\n"
	marker := "run-" + randHex(8)
	// The command sleeps so that the sampler sees it; the marker in a
	// comment makes its shell recognisable.
	body := func(op string) string {
		return "# " + marker + "\n" +
			`printf '%s' "$SECRET_TOKEN" > ` + dir + `/` + op + `.secret
printf '%s' "$LANG|$PLAIN|${PULUMI_COMMAND_STDOUT-unset}" > ` + dir + `/` + op + `.env
cat > ` + dir + `/` + op + `.stdin
sh -c 'sleep 0.6; :'
echo ` + op + `-done`
	}
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(nil),
		"create":     body("create"),
		"update":     body("update"),
		"delete":     body("delete"),
		"environment": resource.NewObjectProperty(resource.PropertyMap{
			"SECRET_TOKEN": resource.MakeSecret(resource.NewStringProperty(secret)),
			"LANG":         resource.NewStringProperty("C.UTF-8"), // accepted by the env request
			"PLAIN":        resource.NewStringProperty("plain value"),
		}),
		"stdin": "user stdin line 1\nline 2 without newline",
	}))
	check := func(op, wantStdin, wantPrev string) {
		t.Helper()
		if got := readFile(t, filepath.Join(dir, op+".secret")); got != secret {
			t.Errorf("%s saw SECRET_TOKEN = %q, want %q", op, got, secret)
		}
		if got, want := readFile(t, filepath.Join(dir, op+".env")), "C.UTF-8|plain value|"+wantPrev; got != want {
			t.Errorf("%s saw LANG|PLAIN|PULUMI_COMMAND_STDOUT = %q, want %q", op, got, want)
		}
		if got := readFile(t, filepath.Join(dir, op+".stdin")); got != wantStdin {
			t.Errorf("%s read stdin %q, want %q", op, got, wantStdin)
		}
	}

	s := sampleCmdlines(token, marker)
	state := h.mustCreate(remoteCmd, in)
	s.finish(t, "create")
	check("create", "user stdin line 1\nline 2 without newline", "unset")
	if got := str(t, state, "stdout"); got != "create-done" {
		t.Errorf("create stdout = %q", got)
	}

	// Update, without stdin this time: the command reads an empty stdin.
	news := in.Copy()
	delete(news, "stdin")
	s = sampleCmdlines(token, marker)
	state2, err := h.update(remoteCmd, in, state, news, false)
	s.finish(t, "update")
	if err != nil {
		t.Fatal(err)
	}
	check("update", "", "create-done")

	s = sampleCmdlines(token, marker)
	err = h.delete(remoteCmd, state2)
	s.finish(t, "delete")
	if err != nil {
		t.Fatal(err)
	}
	check("delete", "", "update-done")
	if strings.Contains(h.log.all(), token) {
		t.Errorf("the secret reached the engine log")
	}
}

// Values far beyond the 128 KiB a single argument may hold arrive intact,
// and nothing is staged in a file on the server.
func TestRemoteLargeEnvironment(t *testing.T) {
	d := needSSHD(t, true)
	h := newHarness(t)
	big := strings.Repeat("0123456789'\"$x \n", 20000) // 320 KB, shell metacharacters included
	in := h.checked(remoteCmd, props(map[string]any{
		"connection": d.connection(nil),
		"create": `printf '%s' "$BIG" | md5sum | cut -c1-32; printf '%s' "$SMALL"; echo
ls /tmp/.pulumi-command-env-* 2>/dev/null | wc -l; cat`,
		"environment": map[string]any{"BIG": big[:100000], "SMALL": "s'q"},
		"stdin":       big,
	}))
	out := h.mustCreate(remoteCmd, in)
	got := str(t, out, "stdout")
	want := md5hex(big[:100000]) + "\ns'q\n0\n" + strings.TrimSuffix(big, "\n")
	if got != want {
		if len(got) > 200 {
			got = got[:200] + "..."
		}
		t.Errorf("large value or stdin arrived corrupted: %q", got)
	}
}

func md5hex(s string) string {
	return fmt.Sprintf("%x", md5.Sum([]byte(s)))
}

package main

// Read (refresh) runs the resource's PULUMI_COMMAND_READ probe.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const readVar = "PULUMI_COMMAND_READ"

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// withEnv returns a copy of m whose environment also holds env.
func withEnv(m resource.PropertyMap, env map[string]string) resource.PropertyMap {
	out := m.Copy()
	e := resource.PropertyMap{}
	if v, ok := m["environment"]; ok && v.IsObject() {
		e = v.ObjectValue().Copy()
	}
	for k, v := range env {
		e[resource.PropertyKey(k)] = resource.NewStringProperty(v)
	}
	out["environment"] = resource.NewObjectProperty(e)
	return out
}

// readReq is the request the engine sends on refresh: the stored state and
// the stored inputs.
func readReq(t *testing.T, typ string, state resource.PropertyMap) *pulumirpc.ReadRequest {
	t.Helper()
	k := kinds[typ]
	return &pulumirpc.ReadRequest{
		Id: "r-1234", Urn: urnFor(typ, "r"), Type: typ, Name: "r",
		Properties: mustStruct(t, state), Inputs: mustStruct(t, onlyInputs(state, k.inputKeys())),
	}
}

// read runs Read on state and returns the id and properties it answered.
func (h *harness) read(typ string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.s.Read(h.t.Context(), readReq(h.t, typ, state))
	if err != nil {
		return "", nil, err
	}
	return resp.Id, mustMap(h.t, resp.Properties), nil
}

// testReadProbe drives alive / gone / error / no probe against a created
// resource of type typ whose inputs are base (without environment).
func testReadProbe(t *testing.T, h *harness, typ string, base resource.PropertyMap) {
	dir := t.TempDir()
	thing := filepath.Join(dir, "thing")
	ran := filepath.Join(dir, "probe-ran")
	const secret = "hunter2-probe-secret"
	// The probe checks that it got the stored environment (secret included)
	// and stdin, records that it ran and with which previous output, then
	// says whether the thing exists.
	probe := `[ "$(cat)" = "stored stdin" ] || { echo "stdin wrong" >&2; exit 9; }
[ "$TOKEN" = "` + secret + `" ] || { echo "env wrong" >&2; exit 9; }
printf '%s' "$PULUMI_COMMAND_STDOUT" >> ` + ran + `
echo "probing with $TOKEN"
if [ -e ` + thing + ` ]; then exit 0; fi
if [ -e ` + thing + `.broken ]; then echo "probe broke, token $TOKEN" >&2; echo out-line; exit 7; fi
exit 3`
	in := base.Copy()
	in["create"] = resource.NewStringProperty("touch " + thing + "; echo made")
	in["stdin"] = resource.NewStringProperty("stored stdin")
	in["environment"] = resource.NewObjectProperty(resource.PropertyMap{
		"TOKEN":  resource.MakeSecret(resource.NewStringProperty(secret)),
		readVar:  resource.NewStringProperty(probe),
		"LC_ALL": resource.NewStringProperty("C"),
	})
	in = h.checked(typ, in)
	state := h.mustCreate(typ, in)

	// Alive: exit 0 keeps the state exactly as recorded.
	id, got, err := h.read(typ, state)
	if err != nil {
		t.Fatalf("alive: Read failed: %v", err)
	}
	if id != "r-1234" || !got.DeepEquals(state) {
		t.Errorf("alive: Read returned id %q and a changed state:\n%v\nwant\n%v", id, got, state)
	}
	if !fileExists(ran) || readFile(t, ran) != "made" {
		t.Errorf("alive: the probe did not run with the previous output (ran: %v)", fileExists(ran))
	}
	if !got["environment"].ObjectValue()["TOKEN"].IsSecret() {
		t.Errorf("alive: the secret lost its marker")
	}
	if strings.Contains(h.log.all()+h.log.allEphemeral(), secret) {
		t.Errorf("alive: the secret reached the engine log")
	}

	// Gone: exit 3 answers an empty id.
	if err := os.Remove(thing); err != nil {
		t.Fatal(err)
	}
	id, _, err = h.read(typ, state)
	if err != nil || id != "" {
		t.Errorf("gone: Read = id %q, err %v; want an empty id", id, err)
	}

	// Any other exit fails Read with the code and stderr, secrets redacted.
	if err := os.WriteFile(thing+".broken", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.read(typ, state)
	if err == nil {
		t.Fatal("error: a probe exiting 7 did not fail Read")
	}
	for _, want := range []string{"code 7", "probe broke, token [secret]", readVar} {
		mustContain(t, "error", err.Error(), want)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error: the secret is in the error: %v", err)
	}

	// Without the variable nothing runs and the state is kept.
	os.Remove(ran)
	noProbe := state.Copy()
	noProbe["environment"] = resource.NewObjectProperty(resource.PropertyMap{"TOKEN": resource.NewStringProperty("x")})
	id, got, err = h.read(typ, noProbe)
	if err != nil || id != "r-1234" || !got.DeepEquals(noProbe) {
		t.Errorf("no probe: Read = %q %v %v", id, got, err)
	}
	if fileExists(ran) {
		t.Errorf("no probe: something ran")
	}
}

func TestLocalReadProbe(t *testing.T) {
	h := newHarness(t)
	// The stored interpreter and dir apply to the probe too.
	dir := t.TempDir()
	testReadProbe(t, h, local, props(map[string]any{
		"interpreter": []any{"/bin/bash", "-c"},
		"dir":         dir,
	}))
	in := h.checked(local, props(map[string]any{
		"create":      "true",
		"interpreter": []any{"/bin/bash", "-c"},
		"dir":         dir,
		"environment": map[string]any{readVar: `[[ $(pwd) == ` + dir + ` ]] || exit 3`},
	}))
	if id, _, err := h.read(local, h.mustCreate(local, in)); err != nil || id == "" {
		t.Errorf("probe with interpreter and dir: id %q err %v", id, err)
	}
}

func TestRemoteReadProbe(t *testing.T) {
	// Debian's AcceptEnv: the probe's variables go through stdin too.
	d := needSSHDVariant(t, sshdVariant{sftp: true, acceptEnv: debianAcceptEnv})
	h := newHarness(t)
	testReadProbe(t, h, remoteCmd, props(map[string]any{"connection": d.connection(nil)}))
}

// An unreachable host is a warning: the state is kept, after one dial
// attempt that gives up within 5 s whatever the stored connection says.
func TestRemoteReadUnreachable(t *testing.T) {
	d := needSSHD(t, true)
	ran := filepath.Join(t.TempDir(), "ran")

	// A port nobody listens on: refused at once.
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// A listener that accepts and never answers (a host that is half up).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var accepts atomic.Int32
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			held = append(held, c)
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port

	for _, c := range []struct {
		name string
		port int
		max  time.Duration
	}{
		{"refused", closed, 2 * time.Second},
		{"silent", silentPort, 7 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			state := h.checked(remoteCmd, props(map[string]any{
				"connection": d.connection(map[string]any{
					"port": float64(c.port), "dialErrorLimit": float64(10), "perDialTimeout": float64(15),
				}),
				"create":      "true",
				"environment": map[string]any{readVar: "touch " + ran},
			}))
			state["stdout"], state["stderr"] = resource.NewStringProperty(""), resource.NewStringProperty("")
			start := time.Now()
			id, got, err := h.read(remoteCmd, state)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Read failed on an unreachable host: %v", err)
			}
			if id != "r-1234" || !got.DeepEquals(state) {
				t.Errorf("Read did not keep the state: id %q", id)
			}
			if took > c.max {
				t.Errorf("Read took %s (want at most %s: one attempt, <= 5 s)", took.Round(time.Millisecond), c.max)
			}
			w := h.log.allWarnings()
			mustContain(t, "warning", w, "cannot check "+urnFor(remoteCmd, "r")+": ")
			mustContain(t, "warning", w, "; kept as recorded")
			if strings.Contains(w, "PRIVATE KEY") {
				t.Errorf("key material in the warning")
			}
			t.Logf("took %s, warning %q", took.Round(time.Millisecond), w)
		})
	}
	if n := accepts.Load(); n != 1 {
		t.Errorf("the silent host saw %d connection attempts, want exactly 1", n)
	}
	if fileExists(ran) {
		t.Errorf("the probe ran somewhere")
	}
}

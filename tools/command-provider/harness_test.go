package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeLogger records what would be sent to the engine.
type fakeLogger struct {
	mu        sync.Mutex
	lines     []string // lasting messages, every severity
	warnings  []string // lasting messages of severity warning
	ephemeral []string // status messages (they vanish from the display)
}

func (f *fakeLogger) Log(_ context.Context, sev Severity, urn, msg string, ephemeral bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ephemeral:
		f.ephemeral = append(f.ephemeral, msg)
	default:
		f.lines = append(f.lines, msg)
		if sev == SevWarning {
			f.warnings = append(f.warnings, msg)
		}
	}
	return nil
}

func (f *fakeLogger) allWarnings() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.warnings, "\n")
}

func (f *fakeLogger) allEphemeral() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.ephemeral, "\n")
}

func (f *fakeLogger) all() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.lines, "\n")
}

// harness drives the provider through its gRPC methods, the way the engine
// does, without a network connection.
type harness struct {
	t   *testing.T
	s   *server
	log *fakeLogger
}

func newHarness(t *testing.T) *harness {
	l := &fakeLogger{}
	return &harness{t: t, s: newServer(l), log: l}
}

func urnFor(typ, name string) string {
	return "urn:pulumi:test::proj::" + typ + "::" + name
}

func mustStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal("test", m, true)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return s
}

func mustMap(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal("test", s)
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return m
}

// props builds a property map from plain Go values; PropertyValues are kept.
func props(kv map[string]any) resource.PropertyMap {
	m := resource.PropertyMap{}
	for k, v := range kv {
		if pv, ok := v.(resource.PropertyValue); ok {
			m[resource.PropertyKey(k)] = pv
		} else {
			m[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	return m
}

func (h *harness) check(typ string, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	h.t.Helper()
	resp, err := h.s.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: urnFor(typ, "r"), Type: typ, News: mustStruct(h.t, news),
	})
	if err != nil {
		h.t.Fatalf("Check: %v", err)
	}
	return mustMap(h.t, resp.Inputs), resp.Failures
}

// checked runs Check and fails the test on validation failures.
func (h *harness) checked(typ string, news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	in, fails := h.check(typ, news)
	for _, f := range fails {
		h.t.Errorf("unexpected check failure %s: %s", f.Property, f.Reason)
	}
	if len(fails) > 0 {
		h.t.FailNow()
	}
	return in
}

func (h *harness) create(typ string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.s.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnFor(typ, "r"), Type: typ, Name: "r", Properties: mustStruct(h.t, inputs), Preview: preview,
	})
	if err != nil {
		return "", nil, err
	}
	return resp.Id, mustMap(h.t, resp.Properties), nil
}

func (h *harness) mustCreate(typ string, inputs resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	id, outs, err := h.create(typ, inputs, false)
	if err != nil {
		h.t.Fatalf("Create: %v", err)
	}
	if id == "" {
		h.t.Fatalf("Create returned an empty id")
	}
	return outs
}

func (h *harness) diff(typ string, oldInputs, state, news resource.PropertyMap) *pulumirpc.DiffResponse {
	h.t.Helper()
	req := &pulumirpc.DiffRequest{
		Id: "id", Urn: urnFor(typ, "r"), Type: typ,
		Olds: mustStruct(h.t, state), News: mustStruct(h.t, news),
	}
	if oldInputs != nil {
		req.OldInputs = mustStruct(h.t, oldInputs)
	}
	resp, err := h.s.Diff(context.Background(), req)
	if err != nil {
		h.t.Fatalf("Diff: %v", err)
	}
	return resp
}

func (h *harness) update(typ string, oldInputs, state, news resource.PropertyMap, preview bool,
) (resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.s.Update(context.Background(), &pulumirpc.UpdateRequest{
		Id: "id", Urn: urnFor(typ, "r"), Type: typ, Olds: mustStruct(h.t, state),
		OldInputs: mustStruct(h.t, oldInputs), News: mustStruct(h.t, news), Preview: preview,
	})
	if err != nil {
		return nil, err
	}
	return mustMap(h.t, resp.Properties), nil
}

func (h *harness) delete(typ string, state resource.PropertyMap) error {
	h.t.Helper()
	_, err := h.s.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Id: "id", Urn: urnFor(typ, "r"), Type: typ, Properties: mustStruct(h.t, state),
	})
	return err
}

func str(t *testing.T, m resource.PropertyMap, key string) string {
	t.Helper()
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		t.Fatalf("output %q missing in %v", key, m)
	}
	v = plain(v)
	if !v.IsString() {
		t.Fatalf("output %q is %s, not a string", key, v.TypeString())
	}
	return v.StringValue()
}

func mustContain(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s: %q does not contain %q", what, got, want)
	}
}

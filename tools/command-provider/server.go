package main

// The ResourceProvider gRPC service.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Type tokens, exactly as registered by the @pulumi/command 1.2.1 SDK.
const (
	tokLocalCommand  = "command:local:Command"
	tokRemoteCommand = "command:remote:Command"
	tokCopyToRemote  = "command:remote:CopyToRemote"
	tokLocalRun      = "command:local:run"
)

var kinds = map[string]kind{
	tokLocalCommand:  commandKind{remote: false},
	tokRemoteCommand: commandKind{remote: true},
	tokCopyToRemote:  copyKind{},
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer

	mu     sync.Mutex
	log    Logger
	dial   func(addr string) (Logger, error) // connects to the engine (Handshake)
	ctx    context.Context                   // cancelled by Cancel
	cancel context.CancelFunc
}

// newServer builds a provider. log may be nil (no engine diagnostics).
func newServer(log Logger) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{log: log, ctx: ctx, cancel: cancel}
}

func (s *server) logger() Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

func opts(label string, keepUnknowns bool) plugin.MarshalOptions {
	return plugin.MarshalOptions{
		Label:        label,
		KeepUnknowns: keepUnknowns,
		KeepSecrets:  true,
		SkipNulls:    true,
		// No ComputeAssetHashes: the engine hashes assets before they reach
		// providers, and hashing here could mean fetching URI assets.
	}
}

func unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, opts(label, true))
}

func marshal(label string, m resource.PropertyMap, keepUnknowns bool) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, opts(label, keepUnknowns))
}

func kindOf(typ, urn string) (string, kind, error) {
	if typ == "" && urn != "" {
		typ = string(resource.URN(urn).Type())
	}
	k, ok := kinds[typ]
	if !ok {
		return typ, nil, status.Errorf(codes.InvalidArgument,
			"resource type %q is not implemented by this build of the command provider "+
				"(tools/command-provider implements %s, %s and %s)",
			typ, tokLocalCommand, tokRemoteCommand, tokCopyToRemote)
	}
	return typ, k, nil
}

// opCtx derives the context of one operation from the provider-wide one and
// the engine's custom timeout (seconds; 0 = none).
func (s *server) opCtx(ctx context.Context, timeout float64) (context.Context, context.CancelFunc) {
	merged, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	if timeout > 0 {
		var tcancel context.CancelFunc
		merged, tcancel = context.WithTimeout(merged, time.Duration(timeout*float64(time.Second)))
		return merged, func() { tcancel(); stop(); cancel() }
	}
	return merged, func() { stop(); cancel() }
}

// ---- plumbing ----

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (s *server) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	s.mu.Lock()
	if s.log == nil && s.dial != nil && req.GetEngineAddress() != "" {
		if l, err := s.dial(req.GetEngineAddress()); err == nil {
			s.log = l
		}
	}
	s.mu.Unlock()
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true}, nil
}

func (s *server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON()}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

// ---- resources ----

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("check.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, fails := k.check(news)
	inputs, err := marshal("check.inputs", checked, true)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, f := range fails {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.property, Reason: f.reason})
	}
	return resp, nil
}

// oldInputs picks the previous inputs: the engine sends them explicitly;
// older engines only send the state, which contains every input too.
func oldInputs(k kind, explicit, state *structpb.Struct) (resource.PropertyMap, error) {
	src := explicit
	if src == nil {
		src = state
	}
	m, err := unmarshal("olds", src)
	if err != nil {
		return nil, err
	}
	return onlyInputs(m, k.inputKeys()), nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := oldInputs(k, req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("diff.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	changed := changedKeys(olds, news, k.inputKeys())
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		HasDetailedDiff: true,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
	}
	if len(changed) == 0 {
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	resp.Diffs = changed
	for _, key := range changed {
		replace := key == keyTriggers
		if replace {
			resp.Replaces = append(resp.Replaces, key)
		}
		_, hadOld := olds[resource.PropertyKey(key)]
		nv, hasNew := news[resource.PropertyKey(key)]
		hasNew = hasNew && !nv.IsNull()
		kindOfDiff := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hadOld && hasNew:
			kindOfDiff = pulumirpc.PropertyDiff_ADD
		case hadOld && !hasNew:
			kindOfDiff = pulumirpc.PropertyDiff_DELETE
		}
		if replace {
			kindOfDiff++ // each *_REPLACE kind directly follows its plain kind
		}
		resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: kindOfDiff, InputDiff: true}
	}
	return resp, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newID(name string) string {
	if name == "" {
		name = "command"
	}
	return name + "-" + randHex(4)
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("create.properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	octx, done := s.opCtx(ctx, req.GetTimeout())
	defer done()
	op := opContext{ctx: octx, urn: req.GetUrn(), log: s.logger(), preview: req.GetPreview()}
	outs, err := k.create(op, news)
	if err != nil {
		return nil, err
	}
	props, err := marshal("create.outputs", outs, req.GetPreview())
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		name := req.GetName()
		if name == "" && req.GetUrn() != "" {
			name = resource.URN(req.GetUrn()).Name()
		}
		id = newID(name)
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (s *server) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	inputs := req.GetInputs()
	if inputs == nil && req.GetProperties() != nil {
		state, err := unmarshal("read.properties", req.GetProperties())
		if err != nil {
			return nil, err
		}
		if inputs, err = marshal("read.inputs", onlyInputs(state, k.inputKeys()), true); err != nil {
			return nil, err
		}
	}
	// A command's only observable state is what its refresh check says
	// (environment.PULUMI_COMMAND_READ, a project extension); without one,
	// what is stored is the truth.
	if p, ok := k.(prober); ok && req.GetProperties() != nil {
		state, err := unmarshal("read.properties", req.GetProperties())
		if err != nil {
			return nil, err
		}
		octx, done := s.opCtx(ctx, req.GetTimeout())
		defer done()
		gone, err := p.read(opContext{ctx: octx, urn: req.GetUrn(), log: s.logger()}, state)
		if err != nil {
			return nil, err
		}
		if gone {
			return &pulumirpc.ReadResponse{}, nil // no id: deleted out of band
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal("update.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	olds, err := oldInputs(k, req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("update.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	changed := changedKeys(olds, news, k.inputKeys())
	// Keys listed in ignoreChanges were already reverted by the engine, but
	// be defensive: they never count as a reason to run anything.
	changed = slices.DeleteFunc(changed, func(c string) bool { return slices.Contains(req.GetIgnoreChanges(), c) })

	octx, done := s.opCtx(ctx, req.GetTimeout())
	defer done()
	op := opContext{ctx: octx, urn: req.GetUrn(), log: s.logger(), preview: req.GetPreview()}
	outs, err := k.update(op, state, news, changed)
	if err != nil {
		return nil, err
	}
	props, err := marshal("update.outputs", outs, req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	_, k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal("delete.properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	octx, done := s.opCtx(ctx, req.GetTimeout())
	defer done()
	op := opContext{ctx: octx, urn: req.GetUrn(), log: s.logger()}
	if err := k.delete(op, state); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ---- invokes ----

// Invoke serves command:local:run (the SDK's local.run / local.runOutput).
func (s *server) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != tokLocalRun {
		return nil, status.Errorf(codes.Unimplemented,
			"function %q is not implemented by this build of the command provider (only %s is)",
			req.GetTok(), tokLocalRun)
	}
	args, err := unmarshal("invoke.args", req.GetArgs())
	if err != nil {
		return nil, err
	}
	// Reuse the local Command validation; "command" replaces "create".
	var fails []*pulumirpc.CheckFailure
	command, has, err := getString(args, "command")
	if err != nil || !has {
		fails = append(fails, &pulumirpc.CheckFailure{Property: "command", Reason: "command is required"})
	}
	asCommand := args.Copy()
	delete(asCommand, "command")
	_, cfails := commandKind{}.check(asCommand)
	for _, f := range cfails {
		fails = append(fails, &pulumirpc.CheckFailure{Property: f.property, Reason: f.reason})
	}
	if len(fails) > 0 {
		return &pulumirpc.InvokeResponse{Failures: fails}, nil
	}
	octx, done := s.opCtx(ctx, 0)
	defer done()
	op := opContext{ctx: octx, log: s.logger()}
	res, err := commandKind{}.execute(op, asCommand, command, nil)
	if err != nil {
		return nil, err
	}
	outs := withOutputs(args, res)
	ret, err := marshal("invoke.return", outs, false)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

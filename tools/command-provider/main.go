// Command pulumi-resource-command is a stand-in for the upstream Pulumi
// "command" provider plugin, implementing the subset of its resources that
// vhost-perf-lab uses (see README.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// version is reported to the engine; set with -ldflags "-X main.version=...".
var version = "1.2.1"

// engineLogger sends diagnostics to the engine's Log RPC.
type engineLogger struct {
	client pulumirpc.EngineClient
}

func dialEngine(addr string) (Logger, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return nil, err
	}
	return &engineLogger{client: pulumirpc.NewEngineClient(conn)}, nil
}

func (e *engineLogger) Log(ctx context.Context, sev Severity, urn, msg string, ephemeral bool) error {
	if ctx.Err() != nil {
		// The operation is over (cancelled); still deliver the line.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
	}
	_, err := e.client.Log(ctx, &pulumirpc.LogRequest{
		Severity:  pulumirpc.LogSeverity(sev),
		Message:   msg,
		Urn:       urn,
		Ephemeral: ephemeral,
	})
	return err
}

// engineAddress extracts the engine address from the plugin command line.
// The engine may pass logging/tracing flags first (--logtostderr, -v=N,
// --tracing URL); the address is the only positional argument.
func engineAddress(args []string) (string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--tracing" || a == "-tracing":
			i++ // skip its value
		case strings.HasPrefix(a, "-"):
			// --logtostderr, -v=9, --tracing=..., etc.: not used here.
		default:
			positional = append(positional, a)
		}
	}
	switch len(positional) {
	case 0:
		return "", nil // attach mode: the engine address comes with Handshake
	case 1:
		return positional[0], nil
	default:
		return "", fmt.Errorf("unexpected arguments %q", positional)
	}
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version)
		return
	}
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

func serve() error {
	addr, err := engineAddress(os.Args[1:])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	srv := newServer(nil)
	srv.dial = dialEngine
	if addr != "" {
		l, err := dialEngine(addr)
		if err != nil {
			return fmt.Errorf("could not connect to the engine at %s: %w", addr, err)
		}
		srv.log = l
		// When the engine goes away, abort running commands and exit.
		engineGone := func() { srv.cancel(); stop() }
		if err := rpcutil.Healthcheck(ctx, addr, 5*time.Minute, engineGone); err != nil {
			return fmt.Errorf("could not start the engine health check: %w", err)
		}
	}

	// SIGINT (sent by the engine when it is done with us, or by a terminal's
	// Ctrl-C) stops serving gracefully: in-flight operations finish. Running
	// commands are only aborted by the engine's Cancel call. Local commands
	// run in their own process group, so a terminal Ctrl-C does not hit them.
	stopServing := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stopServing)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(g *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(g, srv)
			return nil
		},
	})
	if err != nil {
		return err
	}
	// The plugin protocol: the first line on stdout is the port.
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}

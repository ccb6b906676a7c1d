package main

// Running a command locally or over SSH, streaming its output line by line.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Logging modes of the `logging` input.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

var loggingModes = []string{logStdout, logStderr, logStdoutAndStderr, logNone}

// runSpec is one command execution.
type runSpec struct {
	command string
	env     map[string]string
	stdin   *string
	logging string // one of loggingModes; "" means the default
	urn     string
	log     Logger
	red     redactor
}

type runResult struct {
	stdout string // trimmed like upstream
	stderr string
}

type executor interface {
	run(ctx context.Context, spec runSpec) (runResult, error)
}

// sinks creates the stdout/stderr capture writers, forwarding lines to the
// engine according to the logging mode.
func (spec runSpec) sinks(ctx context.Context) (stdout, stderr *lineSink) {
	mode := spec.logging
	if mode == "" {
		mode = logStdoutAndStderr
	}
	forward := func() func(string) {
		return func(line string) {
			logTo(ctx, spec.log, SevInfo, spec.urn, spec.red.apply(line), false)
		}
	}
	var outEmit, errEmit func(string)
	if spec.log != nil {
		if mode == logStdout || mode == logStdoutAndStderr {
			outEmit = forward()
		}
		if mode == logStderr || mode == logStdoutAndStderr {
			errEmit = forward()
		}
	}
	return newLineSink(outEmit), newLineSink(errEmit)
}

// ---- local ----

type localExecutor struct {
	interpreter []string
	dir         string
}

func (l localExecutor) run(ctx context.Context, spec runSpec) (runResult, error) {
	if len(l.interpreter) == 0 || l.interpreter[0] == "" {
		return runResult{}, errors.New("interpreter must name a program")
	}
	args := append(append([]string{}, l.interpreter[1:]...), spec.command)
	cmd := exec.CommandContext(ctx, l.interpreter[0], args...)
	cmd.Dir = l.dir
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(spec.env))
	for k := range spec.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+spec.env[k])
	}
	if spec.stdin != nil {
		cmd.Stdin = strings.NewReader(*spec.stdin)
	}
	out, errs := spec.sinks(ctx)
	cmd.Stdout, cmd.Stderr = out, errs
	// Own process group, so cancellation takes down the whole tree.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	err := cmd.Run()
	out.Close()
	errs.Close()
	res := runResult{stdout: trimOutput(out.String()), stderr: trimOutput(errs.String())}
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("command aborted: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		xe := &exitError{code: ee.ExitCode(), stdout: res.stdout, stderr: res.stderr, red: spec.red}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			xe.detail = "killed by signal " + ws.Signal().String()
		}
		return res, xe
	}
	return res, fmt.Errorf("starting %s: %w", l.interpreter[0], err)
}

// ---- remote ----

type remoteExecutor struct {
	client *sshClient
}

func (r remoteExecutor) run(ctx context.Context, spec runSpec) (runResult, error) {
	sess, err := r.client.NewSession()
	if err != nil {
		return runResult{}, fmt.Errorf("opening ssh session: %w", err)
	}
	defer sess.Close()

	// Try the SSH env request first (what upstream does); sshd only accepts
	// names listed in its AcceptEnv, so anything refused is exported by the
	// remote shell instead.
	var refused []string
	keys := make([]string, 0, len(spec.env))
	for k := range spec.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := sess.Setenv(k, spec.env[k]); err != nil {
			refused = append(refused, k)
		}
	}
	prefix, err := exportPrefix(spec.env, refused)
	if err != nil {
		return runResult{}, err
	}
	if spec.stdin != nil {
		sess.Stdin = strings.NewReader(*spec.stdin)
	}
	out, errs := spec.sinks(ctx)
	sess.Stdout, sess.Stderr = out, errs
	if err := sess.Start(prefix + spec.command); err != nil {
		return runResult{}, fmt.Errorf("starting remote command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		r.client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		err = fmt.Errorf("command aborted: %w", ctx.Err())
	}
	out.Close()
	errs.Close()
	res := runResult{stdout: trimOutput(out.String()), stderr: trimOutput(errs.String())}
	if err == nil {
		return res, nil
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &ee):
		xe := &exitError{code: ee.ExitStatus(), stdout: res.stdout, stderr: res.stderr, red: spec.red}
		if ee.Signal() != "" {
			xe.code = -1
			xe.detail = "killed by signal " + ee.Signal()
		}
		return res, xe
	case errors.As(err, &missing):
		return res, &exitError{code: -1, detail: "the connection closed without an exit status",
			stdout: res.stdout, stderr: res.stderr, red: spec.red}
	default:
		return res, err
	}
}

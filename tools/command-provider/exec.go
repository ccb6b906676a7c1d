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

// localWaitDelay is how long output pipes may stay open after the command
// exited (background children keeping them open).
var localWaitDelay = 10 * time.Second

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
	cmd.WaitDelay = localWaitDelay

	err := cmd.Run()
	out.Close()
	errs.Close()
	res := runResult{stdout: trimOutput(out.String()), stderr: trimOutput(errs.String())}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command exited successfully, but something it started in the
		// background still holds stdout/stderr. Do not wait for it forever.
		logTo(ctx, spec.log, SevWarning, spec.urn, "the command exited but a background process it started "+
			"still holds stdout/stderr; its later output is not captured (redirect it, e.g. >/dev/null 2>&1)", false)
		err = nil
	}
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

// maxInlinePrefix bounds the export statements put on the command line; sshd
// hands the whole command to the shell as one argument, and Linux limits a
// single argument to 128 KiB.
const maxInlinePrefix = 32 * 1024

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
	if len(prefix) > maxInlinePrefix {
		if prefix, err = r.stagePrefix(prefix); err != nil {
			return runResult{}, err
		}
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

// stagePrefix writes large export statements to a private remote file and
// returns a prefix that sources and removes it.
func (r remoteExecutor) stagePrefix(prefix string) (string, error) {
	sess, err := r.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("opening ssh session: %w", err)
	}
	defer sess.Close()
	name := "/tmp/.pulumi-command-env-" + randHex(8)
	sess.Stdin = strings.NewReader(prefix)
	var stderr strings.Builder
	sess.Stderr = &stderr
	if err := sess.Run("umask 077 && cat > " + shellQuote(name)); err != nil {
		return "", fmt.Errorf("staging environment in %s: %v %s", name, err, strings.TrimSpace(stderr.String()))
	}
	q := shellQuote(name)
	return ". " + q + "; rm -f " + q + "; ", nil
}

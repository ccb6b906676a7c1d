package main

// Running a command locally or over SSH, streaming its output line by line.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
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
	// ephemeral sends output lines as status messages, which the engine
	// shows while the command runs and then drops (refresh checks).
	ephemeral bool
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
			logTo(ctx, spec.log, SevInfo, spec.urn, spec.red.apply(line), spec.ephemeral)
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

// localKillGrace is how long a cancelled local command has between SIGTERM and
// SIGKILL (the same grace the remote cleanup gives).
var localKillGrace = 3 * time.Second

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
	// Own process group, so cancellation takes down the whole tree: SIGTERM first, so the
	// command can undo what it was doing (the benchmark runner restores thread policies),
	// SIGKILL to whatever of the group is left after localKillGrace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := -cmd.Process.Pid
		err := syscall.Kill(pgid, syscall.SIGTERM)
		go func() {
			time.Sleep(localKillGrace)
			_ = syscall.Kill(pgid, syscall.SIGKILL)
		}()
		return err
	}
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
	// The refused ones travel on stdin, ahead of the user's stdin, so that
	// their values never appear in a command line (see envPayload).
	payload, err := envPayload(spec.env, refused)
	if err != nil {
		return runResult{}, err
	}
	var stdin []io.Reader
	if payload != "" {
		stdin = append(stdin, strings.NewReader(payload))
	}
	if spec.stdin != nil {
		stdin = append(stdin, strings.NewReader(*spec.stdin))
	}
	if len(stdin) > 0 {
		sess.Stdin = io.MultiReader(stdin...)
	}
	out, errs := spec.sinks(ctx)
	sess.Stdout, sess.Stderr = out, errs
	// Tag the run (see "stopping a cancelled remote command" below).
	runID := randHex(16)
	if err := sess.Start(remoteCommandLine(payload != "", runID, spec.command)); err != nil {
		return runResult{}, fmt.Errorf("starting remote command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		if kerr := r.killRun(runID); kerr != nil {
			logTo(context.WithoutCancel(ctx), spec.log, SevWarning, spec.urn, spec.red.apply(
				"could not stop all remote processes of the cancelled command: "+kerr.Error()), false)
		}
		// Fallback for servers where the cleanup cannot work (no /proc):
		// OpenSSH answers this with killpg() on the session's process
		// group, but refuses it for root logins.
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

// ---- environment variables the server refused ----
//
// sshd only accepts the SSH "env" request for the names in its AcceptEnv
// (Debian: LANG LC_*). The other variables are set by the remote shell. Their
// values must not be written into the command line: sshd runs
// `<login shell> -c <command line>`, and any user on the server can read that
// in /proc/<pid>/cmdline for as long as the command runs. So they travel on
// the command's stdin instead: the provider first writes one line, the
// base64 of `export K='v'; ...` statements, then the user's stdin (if any).
// The command line starts with envStdinPrefix, which reads that one line and
// evaluates it:
//   - `read` reads a pipe one byte at a time (dash, bash, busybox ash), so it
//     stops right after the newline and leaves the user's stdin untouched;
//   - printf is a builtin, so the encoded value is never in an argv; the
//     decoded one only exists in the shell's memory and, once exported, in
//     the environment of the programs the command starts (as with the env
//     request);
//   - if the line is missing or cannot be decoded (no base64 on the server),
//     the command does not run without its environment: the shell exits with
//     envExitCode and says why.
// Base64 keeps the line free of newlines whatever the values hold, and the
// stdin transport has no size limit, unlike a single argument (128 KiB).

// envExitCode is the exit status of a remote run whose environment could not
// be read from stdin (written out in envStdinPrefix).
const envExitCode = 125

const envStdinPrefix = `IFS= read -r __pcenv && __pcenv=$(printf %s "$__pcenv" | base64 -d) && ` +
	`eval "$__pcenv" && unset __pcenv || { echo "pulumi-command: cannot set the environment: ` +
	`its line on stdin is missing or did not decode (the server needs base64)" >&2; exit 125; }` + "\n"

// envPayload renders the stdin line that sets the variables keys of env
// ("" when keys is empty).
func envPayload(env map[string]string, keys []string) (string, error) {
	if len(keys) == 0 {
		return "", nil
	}
	exports, err := exportPrefix(env, keys)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(exports)) + "\n", nil
}

// remoteCommandLine is what sshd hands to the login shell: the reader of the
// environment line when envOnStdin, then the run's tag, then the command.
// The tag `export PULUMI_COMMAND_RUN_ID='<id>';` stays inline: it is not
// secret, the cancel cleanup looks for it in the shell's command line, and
// coming after the user's variables it wins over a user-set value.
func remoteCommandLine(envOnStdin bool, runID, command string) string {
	tag := "export " + runIDVar + "=" + shellQuote(runID) + "; "
	if !envOnStdin {
		return tag + command
	}
	return envStdinPrefix + tag + command
}

// ---- stopping a cancelled remote command ----
//
// Closing the SSH session does not stop the remote command: without a PTY
// there is no SIGHUP, and the "signal" channel request is no answer either.
// OpenSSH's sshd turns it into killpg() on the process group of the login
// shell, which misses everything that left that group (setsid, job control),
// and it refuses the request outright for root logins ("session signalling
// requires privilege separation"), which is the lab's default user.
//
// So every remote run is tagged: its command line holds
// `export PULUMI_COMMAND_RUN_ID='<random>';`. On cancel, a second session on
// the same connection runs killScript, which finds the run's processes in
// /proc (Linux only):
//   - exec'd descendants have PULUMI_COMMAND_RUN_ID=<id> in their environ,
//     even those that detached with setsid or double forks;
//   - the login shell itself (and subshells it forked without exec) have it
//     in their command line, as the export statement.
// It sends SIGTERM to these processes and to their process groups, waits up
// to 3 s for them to exit, then sends SIGKILL to whatever is left and to all
// the groups it saw (which also reaches group members that dropped or
// overwrote their environment). Process groups are safe to signal: a group
// can only be joined inside its own session, so the groups of tagged
// processes hold nothing but processes started by the run.
//
// Daemons the command detached on purpose die too. That is wanted: on a
// cancelled create the resource is not recorded, so no delete would ever
// stop them. Processes of earlier, completed runs carry other ids and are
// left alone.
//
// Not covered: processes that both leave the run's process groups and lose
// the variable (sudo with env_reset, env -i, systemd-run); processes of
// other users when the login user cannot signal them; and a command cancelled
// within milliseconds of starting, before sshd has exec'd the shell.

// runIDVar names the variable that tags the processes of one remote run.
const runIDVar = "PULUMI_COMMAND_RUN_ID"

// remoteKillTimeout bounds the cleanup session of a cancelled command.
const remoteKillTimeout = 10 * time.Second

// killScript is a POSIX sh script; $id holds the run id. Needles are built at
// run time so that this script's own command line never matches, and the
// processes of this cleanup session (its own session id) are skipped anyway.
// `head` with several files prints a "==> 123/environ <==" header before each
// one; grep is not used because busybox grep stops reading at a NUL byte.
const killScript = `
cd /proc || exit 2
read -r st < "$$/stat"; set -- ${st##*") "}; own=$4
scan() {
	head -n 2147483647 -- [0-9]*/environ [0-9]*/cmdline 2>/dev/null | tr '\0' '\n' |
	awk -v id="$id" 'BEGIN { v = "` + runIDVar + `"; e = v "=" id; c = v "=\047" id "\047;" }
		/^==> [0-9]+\/[a-z]+ <==$/ { split($2, f, "/"); p = f[1]; next }
		($0 == e || index($0, c)) && !seen[p]++ { print p }'
}
groups=
stop() { # signal the run's processes and groups; false when none is left
	sig=$1 found=1
	for p in $(scan); do
		read -r st 2>/dev/null < "$p/stat" || continue
		set -- ${st##*") "}
		[ "$4" = "$own" ] || [ "$p" -le 1 ] && continue
		found=0
		kill -s "$sig" "$p" 2>/dev/null
		case " $groups " in *" $3 "*) ;; *) [ "$3" -gt 1 ] && groups="$groups $3" ;; esac
	done
	for g in $groups; do kill -s "$sig" -- "-$g" 2>/dev/null; done
	return $found
}
t=0.2 n=15
if stop TERM; then
	sleep $t 2>/dev/null || t=1 n=3
	while [ $n -gt 0 ] && stop 0; do sleep $t; n=$((n-1)); done
fi
n=5
while stop KILL; do
	[ $n -gt 0 ] || { echo "still running after SIGKILL:" $(scan); exit 1; }
	sleep $t; n=$((n-1))
done
`

// killRun stops every remote process of the run runID (see above), on a new
// session of the same connection, within remoteKillTimeout.
func (r remoteExecutor) killRun(runID string) error {
	done := make(chan error, 1)
	go func() {
		sess, err := r.client.NewSession()
		if err != nil {
			done <- fmt.Errorf("opening ssh session: %w", err)
			return
		}
		defer sess.Close()
		out, err := sess.CombinedOutput("id=" + shellQuote(runID) + "\n" + killScript)
		if err != nil {
			err = fmt.Errorf("%v %s", err, strings.TrimSpace(string(out)))
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(remoteKillTimeout):
		return fmt.Errorf("the cleanup did not finish within %s", remoteKillTimeout)
	}
}

package main

// command:local:Command and command:remote:Command.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// opContext carries what every operation needs.
type opContext struct {
	ctx     context.Context
	urn     string
	log     Logger
	preview bool
	// probe marks a refresh check (Read): one dial attempt with a short
	// timeout, output lines as status messages only.
	probe bool
}

// kind is one resource type served by this provider.
type kind interface {
	// inputKeys are the input properties, in the order used for diffs.
	inputKeys() []string
	// check validates inputs and applies defaults.
	check(news resource.PropertyMap) (resource.PropertyMap, []checkFailure)
	create(op opContext, news resource.PropertyMap) (resource.PropertyMap, error)
	// update receives the previous state, the keys whose input value changed
	// and the new inputs.
	update(op opContext, state, news resource.PropertyMap, changed []string) (resource.PropertyMap, error)
	delete(op opContext, state resource.PropertyMap) error
}

type checkFailure struct {
	property string
	reason   string
}

const (
	keyStdout   = "stdout"
	keyStderr   = "stderr"
	keyTriggers = "triggers"
)

var defaultInterpreter = []string{"/bin/sh", "-c"}

// maxEnvString is Linux's MAX_ARG_STRLEN: the longest single "NAME=value".
const maxEnvString = 128 * 1024

type commandKind struct {
	remote bool
}

func (k commandKind) inputKeys() []string {
	if k.remote {
		return []string{"addPreviousOutputInEnv", "connection", "create", "delete", "environment",
			"logging", "stdin", "triggers", "update"}
	}
	return []string{"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir",
		"environment", "interpreter", "logging", "stdin", "triggers", "update"}
}

func (k commandKind) check(news resource.PropertyMap) (resource.PropertyMap, []checkFailure) {
	var fails []checkFailure
	fail := func(p, format string, args ...any) {
		fails = append(fails, checkFailure{p, fmt.Sprintf(format, args...)})
	}
	keys := k.inputKeys()
	for _, key := range news.StableKeys() {
		if !slices.Contains(keys, string(key)) && !strings.HasPrefix(string(key), "__") {
			fail(string(key), "%q is not an input of this resource", string(key))
		}
	}
	known := func(key string) (resource.PropertyValue, bool) {
		v, ok := news[resource.PropertyKey(key)]
		if !ok {
			return v, false
		}
		v = plain(v)
		return v, !v.IsNull() && !v.ContainsUnknowns()
	}
	for _, key := range []string{"create", "update", "delete", "stdin", "dir"} {
		if v, ok := known(key); ok && !v.IsString() {
			fail(key, "%s must be a string, got %s", key, v.TypeString())
		}
	}
	if v, ok := known("addPreviousOutputInEnv"); ok && !v.IsBool() {
		fail("addPreviousOutputInEnv", "addPreviousOutputInEnv must be a boolean")
	}
	if v, ok := known("logging"); ok {
		if !v.IsString() || !slices.Contains(loggingModes, v.StringValue()) {
			fail("logging", "logging must be one of %s, got %v", strings.Join(loggingModes, ", "), v)
		}
	}
	if _, ok := known("environment"); ok {
		if _, err := getStringMap(news, "environment"); err != nil {
			fail("environment", "%v", err)
		}
	}
	if v, ok := known("triggers"); ok && !v.IsArray() {
		fail("triggers", "triggers must be a list")
	}
	if !k.remote {
		if _, ok := known("interpreter"); ok {
			list, _, err := getStringList(news, "interpreter")
			if err != nil {
				fail("interpreter", "%v", err)
			} else if len(list) == 0 || list[0] == "" {
				fail("interpreter", "interpreter must name a program, e.g. [\"/bin/bash\", \"-c\"]")
			}
		}
		for _, key := range []string{"assetPaths", "archivePaths"} {
			if isSet(news, key) {
				fail(key, "%s is not implemented by this build of the command provider "+
					"(tools/command-provider); collect files with a separate step instead", key)
			}
		}
		return news, fails
	}

	out := news.Copy()
	conn, ok := news["connection"]
	if !ok || conn.IsNull() {
		fail("connection", "connection is required")
		return out, fails
	}
	for _, p := range checkConnection("connection", conn, true) {
		fail("connection", "%s", p)
	}
	out["connection"] = withConnDefaults(conn)
	return out, fails
}

// runsSecret reports whether the inputs that shape a command's output contain
// secrets; the captured output is then stored as a secret too.
func runsSecret(inputs resource.PropertyMap) bool {
	for _, k := range []string{"create", "update", "stdin", "environment", "command"} {
		if v, ok := inputs[resource.PropertyKey(k)]; ok && v.ContainsSecrets() {
			return true
		}
	}
	return false
}

func withOutputs(inputs resource.PropertyMap, res runResult) resource.PropertyMap {
	outs := inputs.Copy()
	stdout, stderr := resource.NewStringProperty(res.stdout), resource.NewStringProperty(res.stderr)
	if runsSecret(inputs) {
		stdout, stderr = resource.MakeSecret(stdout), resource.MakeSecret(stderr)
	}
	outs[keyStdout], outs[keyStderr] = stdout, stderr
	return outs
}

func withUnknownOutputs(inputs resource.PropertyMap) resource.PropertyMap {
	outs := inputs.Copy()
	outs[keyStdout] = resource.MakeComputed(resource.NewStringProperty(""))
	outs[keyStderr] = resource.MakeComputed(resource.NewStringProperty(""))
	return outs
}

// previousOutputs reads stdout/stderr from a stored state.
func previousOutputs(state resource.PropertyMap) runResult {
	out, _, _ := getString(state, keyStdout)
	errs, _, _ := getString(state, keyStderr)
	return runResult{stdout: out, stderr: errs}
}

func (k commandKind) create(op opContext, news resource.PropertyMap) (resource.PropertyMap, error) {
	if op.preview {
		return withUnknownOutputs(news), nil
	}
	command, has, err := getString(news, "create")
	if err != nil {
		return nil, err
	}
	var res runResult
	if has {
		if res, err = k.execute(op, news, command, nil); err != nil {
			return nil, err
		}
	}
	return withOutputs(news, res), nil
}

func (k commandKind) update(op opContext, state, news resource.PropertyMap, changed []string,
) (resource.PropertyMap, error) {
	keepOld := func() resource.PropertyMap {
		outs := news.Copy()
		for _, key := range []resource.PropertyKey{keyStdout, keyStderr} {
			if v, ok := state[key]; ok {
				outs[key] = v
			} else {
				outs[key] = resource.NewStringProperty("")
			}
		}
		return outs
	}
	// Changing only the delete command must not re-run anything.
	onlyDelete := true
	for _, c := range changed {
		if c != "delete" {
			onlyDelete = false
		}
	}
	if onlyDelete {
		return keepOld(), nil
	}
	command, has, err := getString(news, "update")
	if err == nil && !has {
		command, has, err = getString(news, "create")
	}
	if err != nil {
		return nil, err
	}
	if !has {
		return keepOld(), nil
	}
	if op.preview {
		return withUnknownOutputs(news), nil
	}
	prev := previousOutputs(state)
	res, err := k.execute(op, news, command, &prev)
	if err != nil {
		return nil, err
	}
	return withOutputs(news, res), nil
}

// ---- refresh (project extension) ----

// readProbeVar names the environment entry holding the refresh check.
const readProbeVar = "PULUMI_COMMAND_READ"

// probeGone is the refresh check's exit status for "gone" (0 = still there).
const probeGone = 3

// prober is implemented by kinds whose Read can look at the real world.
type prober interface {
	// read reports whether the resource recorded in state is gone. A
	// failure to check that is not an error (unreachable host) is logged
	// and counts as "still there".
	read(op opContext, state resource.PropertyMap) (gone bool, err error)
}

// unreachableError is a refresh check that could not connect.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string { return e.msg }

// read runs environment.PULUMI_COMMAND_READ, if set, the way the resource's
// commands run (stored connection, environment and stdin, previous output
// in PULUMI_COMMAND_STDOUT/STDERR): exit 0 = still there, 3 = gone, anything
// else fails the refresh.
func (k commandKind) read(op opContext, state resource.PropertyMap) (bool, error) {
	env, err := getStringMap(state, "environment")
	if err != nil {
		return false, err
	}
	probe := env[readProbeVar]
	if strings.TrimSpace(probe) == "" {
		return false, nil // no check: the record is the truth, as upstream
	}
	op.probe = true
	prev := previousOutputs(state)
	res, err := k.execute(op, state, probe, &prev)
	var xe *exitError
	var unreachable *unreachableError
	switch {
	case err == nil:
		// still there, but the check may have had to repair something (the lab's own sshd
		// restarted, say): what it said on stderr stays in the refresh's log
		if msg := strings.TrimSpace(res.stderr); msg != "" {
			logTo(op.ctx, op.log, SevWarning, op.urn, msg, false)
		}
		return false, nil
	case errors.As(err, &xe) && xe.code == probeGone:
		logTo(op.ctx, op.log, SevInfo, op.urn, fmt.Sprintf("%s exited with %d: the resource is gone; "+
			"refresh drops it from the state and the next up creates it again", readProbeVar, probeGone), false)
		return true, nil
	case errors.As(err, &unreachable):
		logTo(op.ctx, op.log, SevWarning, op.urn,
			fmt.Sprintf("cannot check %s: %s; kept as recorded", op.urn, unreachable.msg), false)
		return false, nil
	default:
		return false, fmt.Errorf("refresh check environment.%s (exit 0 = exists, %d = gone) failed: %w",
			readProbeVar, probeGone, err)
	}
}

func (k commandKind) delete(op opContext, state resource.PropertyMap) error {
	command, has, err := getString(state, "delete")
	if err != nil || !has {
		return err
	}
	prev := previousOutputs(state)
	_, err = k.execute(op, state, command, &prev)
	return err
}

// execute runs command with the settings found in inputs. prev, when non-nil,
// is the previous output offered as PULUMI_COMMAND_STDOUT/STDERR.
func (k commandKind) execute(op opContext, inputs resource.PropertyMap, command string, prev *runResult,
) (runResult, error) {
	env, err := getStringMap(inputs, "environment")
	if err != nil {
		return runResult{}, err
	}
	if env == nil {
		env = map[string]string{}
	}
	addPrev, err := getBool(inputs, "addPreviousOutputInEnv", true)
	if err != nil {
		return runResult{}, err
	}
	if prev != nil && addPrev {
		for name, val := range map[string]string{"PULUMI_COMMAND_STDOUT": prev.stdout, "PULUMI_COMMAND_STDERR": prev.stderr} {
			// Linux rejects exec() when one environment string exceeds
			// MAX_ARG_STRLEN (128 KiB), and that would break every program
			// the command starts. Leave such a variable unset, loudly.
			if len(name)+1+len(val) >= maxEnvString {
				logTo(op.ctx, op.log, SevWarning, op.urn, fmt.Sprintf("%s not set: the previous output is %d bytes, "+
					"more than an environment variable can hold (128 KiB)", name, len(val)), false)
				continue
			}
			env[name] = val
		}
	}
	spec := runSpec{command: command, env: env, urn: op.urn, log: op.log, ephemeral: op.probe}
	if stdin, has, err := getString(inputs, "stdin"); err != nil {
		return runResult{}, err
	} else if has {
		spec.stdin = &stdin
	}
	if spec.logging, _, err = getString(inputs, "logging"); err != nil {
		return runResult{}, err
	}
	var secrets []string
	for key, v := range inputs {
		if key != "connection" {
			secretStrings(v, false, &secrets)
		}
	}

	var ex executor
	if k.remote {
		conn, ok := inputs["connection"]
		if !ok {
			return runResult{}, fmt.Errorf("connection is required")
		}
		cfg, err := parseConnection(conn)
		if err != nil {
			return runResult{}, err
		}
		secrets = append(secrets, cfg.sensitive()...)
		spec.red = newRedactor(secrets)
		var client *sshClient
		if op.probe {
			// A refresh check: one attempt, a few seconds; not reaching the
			// host is reported by the caller as a warning.
			dctx, cancel := context.WithTimeout(op.ctx, probeDialTimeout)
			client, err = dialSSH(dctx, cfg.forProbe(), nil)
			cancel()
			var de *dialError
			if errors.As(err, &de) && op.ctx.Err() == nil {
				return runResult{}, &unreachableError{msg: spec.red.apply("ssh " + de.where + ": " + de.cause.Error())}
			}
		} else {
			client, err = dialSSH(op.ctx, cfg, func(msg string) {
				logTo(op.ctx, op.log, SevInfo, op.urn, spec.red.apply(msg), true)
			})
		}
		if err != nil {
			return runResult{}, err
		}
		defer client.Close()
		ex = remoteExecutor{client: client}
	} else {
		spec.red = newRedactor(secrets)
		interp, has, err := getStringList(inputs, "interpreter")
		if err != nil {
			return runResult{}, err
		}
		if !has {
			interp = defaultInterpreter
		}
		dir, _, err := getString(inputs, "dir")
		if err != nil {
			return runResult{}, err
		}
		ex = localExecutor{interpreter: interp, dir: dir}
	}
	return ex.run(op.ctx, spec)
}

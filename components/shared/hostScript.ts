import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { bundle, contentHash } from "./scripts";
import { shellJoin } from "./shell";

export type Connection = command.types.input.remote.ConnectionArgs;

/** One of the project's scripts with its arguments, e.g. {script: "vm.sh", args: ["start"]}. */
export interface ScriptCall {
  /** file under scripts/ */
  script: string;
  args?: string[];
}

/**
 * How `pulumi refresh` (and every up: Pulumi.yaml refreshes first) tells whether a step is still
 * there (scripts/lib/step.sh probe): "boot" steps are gone after the host rebooted (kernel state,
 * /run, processes), "persistent" ones survive a reboot (files); both are gone when the process
 * they reported (a "pid" in their JSON line) is not running any more, or when the read-only
 * `status` call exits 3.
 */
export interface Probe {
  kind: "boot" | "persistent";
  status?: ScriptCall;
}

export interface HostScriptArgs {
  connection: pulumi.Input<Connection>;
  /** run on create */
  up: ScriptCall;
  /** run on delete (the teardown); omitted = nothing to undo */
  down?: ScriptCall;
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** more repo-relative files or directories the scripts need on the host */
  files?: string[];
  /** variables set to the host path of a shipped file: {QEMU_PATCH_DIR: "patches/qemu-7.2"} */
  fileEnv?: Record<string, string>;
  /**
   * secrets the scripts read from files: {GUEST_PASSWORD_FILE: secret}. Each travels on the
   * command's stdin (a Pulumi secret), never in the environment or argv; on the host it is a
   * 0600 file in the step's private directory and the variable holds that file's path
   */
  secretFiles?: Record<string, pulumi.Input<string>>;
  /** extra replacement triggers */
  triggers?: pulumi.Input<unknown>[];
  /**
   * tokens (stepToken) of the steps this one builds on: when one of them is replaced, this step
   * is torn down before it and set up again after it
   */
  after?: pulumi.Input<string>[];
  /** host lock: builds may share the host, every other step has it alone (default) */
  lock?: "shared" | "exclusive";
  /** drift detection for refresh; omitted = the step is never reported gone */
  probe?: Probe;
}

/** Whatever comes out of a step identifies it: a replaced step gets a new token. */
export function stepToken(cmd: command.remote.Command): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.all([cmd.id, cmd.stdout]).apply(([id, out]) => contentHash(id, out)));
}

const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The short fixed command the provider runs: unpack the bundle from stdin, exec step.sh. */
export function stepCommand(words: string[]): string {
  return [
    "d=$(mktemp -d /tmp/vpl-step.XXXXXX) || exit 1;",
    'IFS= read -r b || { rm -rf "$d"; exit 1; };',
    'printf %s "$b" | base64 -d | tar -xzf - -C "$d" || { rm -rf "$d"; exit 1; };',
    "unset b;",
    `exec bash "$d/scripts/lib/step.sh" "$d" ${shellJoin(words)}`,
  ].join(" ");
}

/** A step's stdin: the bundle (base64 tar.gz) on the first line, then "NAME base64(value)" per secret. */
export function stepStdin(payload: string, secrets: [string, string][]): string {
  return [payload, ...secrets.map(([k, v]) => `${k} ${Buffer.from(v, "utf8").toString("base64")}`)]
    .join("\n")
    .concat("\n");
}

/**
 * A provisioning step on a host, run over SSH as root by scripts/lib/step.sh: the project's
 * scripts (and the files they need) travel as a tar.gz on the command's stdin, with the secrets,
 * so nothing secret is ever in argv or the environment. Every input that shapes what the step
 * does on the host (scripts, arguments, environment, secrets, connection identity, the steps it
 * builds on) is a replacement trigger: a change tears the old step down with the inputs it was
 * created with, then sets the new one up; there is no in-place update. Progress goes to stderr
 * (streamed to the engine log), the result to stdout as one JSON line.
 */
export function hostScript(
  name: string,
  args: HostScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  if (!STEP_NAME.test(name)) throw new Error(`hostScript: '${name}' is not a step name`);
  const paths = [
    ...new Set([
      "scripts/lib/step.sh",
      `scripts/${args.up.script}`,
      ...(args.down ? [`scripts/${args.down.script}`] : []),
      ...(args.probe?.status ? [`scripts/${args.probe.status.script}`] : []),
      ...(args.files ?? []),
    ]),
  ].sort();
  const payload = bundle(paths);
  for (const k of [...Object.keys(args.secretFiles ?? {}), ...Object.keys(args.fileEnv ?? {})]) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k))
      throw new Error(`hostScript ${name}: ${k} is not an environment variable name`);
  }
  for (const rel of Object.values(args.fileEnv ?? {})) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(rel) || rel.includes(".."))
      throw new Error(`hostScript ${name}: ${rel} is not a repo-relative path`);
  }
  for (const word of [args.down?.script, ...(args.down?.args ?? [])]) {
    if (word !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(word))
      throw new Error(`hostScript ${name}: teardown word '${word}' is not a plain word`);
  }
  const lock = args.lock ?? "exclusive";
  const call = (role: string, c: ScriptCall): string[] => [role, lock, name, c.script, ...(c.args ?? [])];
  const read = args.probe
    ? stepCommand([
        "probe",
        args.probe.kind,
        name,
        ...(args.probe.status ? [args.probe.status.script, ...(args.probe.status.args ?? [])] : []),
      ])
    : undefined;

  // stdin: the bundle on the first line, then one "NAME base64(value)" line per secret
  const secretNames = Object.keys(args.secretFiles ?? {}).sort();
  const secretValues = pulumi.all(secretNames.map((k) => pulumi.output(args.secretFiles![k]!)));
  const stdin = pulumi.secret(
    secretValues.apply((values) =>
      stepStdin(
        payload,
        secretNames.map((k, i) => [k, values[i]!]),
      ),
    ),
  );
  const environment = pulumi.output(args.environment ?? {}).apply((env) => ({
    ...env,
    VPL_STACK: pulumi.getStack(),
    ...(args.fileEnv && Object.keys(args.fileEnv).length > 0
      ? {
          LAB_FILE_ENV: Object.entries(args.fileEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(" "),
        }
      : {}),
    ...(read ? { PULUMI_COMMAND_READ: read } : {}),
    ...(args.down ? { LAB_STEP_DOWN: [args.down.script, ...(args.down.args ?? [])].join(" ") } : {}),
  }));
  const connectionId = pulumi.unsecret(
    pulumi
      .output(args.connection)
      .apply((c) =>
        contentHash(String(c.host), String(c.port ?? 22), String(c.user ?? "root"), String(c.hostKey ?? "")),
      ),
  );
  const shape = pulumi.unsecret(
    environment.apply((env) =>
      contentHash(
        JSON.stringify({ up: args.up, down: args.down ?? null, lock, probe: args.probe ?? null, env }),
      ),
    ),
  );
  // a secret's hash stays a secret in the state (a password's hash could be guessed)
  const secretsHash = pulumi.secret(secretValues.apply((v) => contentHash(...secretNames, ...v)));
  const create = stepCommand(call("up", args.up));
  return new command.remote.Command(
    name,
    {
      connection: args.connection,
      create,
      update: create,
      delete: args.down === undefined ? undefined : stepCommand(call("down", args.down)),
      environment,
      stdin,
      triggers: [
        contentHash(payload),
        connectionId,
        shape,
        secretsHash,
        ...(args.after ?? []),
        ...(args.triggers ?? []),
      ],
      addPreviousOutputInEnv: false,
      logging: "stderr",
    },
    // a step's teardown must run before its replacement is set up (hugepages, daemons, ...)
    { deleteBeforeReplace: true, ...opts },
  );
}

/**
 * The JSON line a host script printed last on stdout. The provider stores a step's output as a
 * secret because its stdin is one (the secrets travel there); the result line itself holds none.
 */
export function lastJson<T>(stdout: pulumi.Output<string>): pulumi.Output<T> {
  return pulumi.unsecret(stdout).apply((s) => {
    const lines = s.trim().split("\n");
    const last = lines[lines.length - 1] ?? "";
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`expected a JSON line on stdout, got: ${last.slice(0, 200)}`);
    }
  });
}

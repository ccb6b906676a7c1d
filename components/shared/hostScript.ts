import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { bundle, contentHash } from "./scripts";
import { shellJoin, shellQuote } from "./shell";

export type Connection = command.types.input.remote.ConnectionArgs;

/** One of the project's scripts with its arguments, e.g. {script: "vm.sh", args: ["start"]}. */
export interface ScriptCall {
  /** file under scripts/ */
  script: string;
  args?: string[];
}

export interface HostScriptArgs {
  connection: pulumi.Input<Connection>;
  /** run on create and on update */
  up: ScriptCall;
  /** run on delete (the teardown); omitted = nothing to undo */
  down?: ScriptCall;
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** more repo-relative files or directories the scripts need on the host */
  files?: string[];
  /** variables set to the host path of a shipped file: {QEMU_PATCH_DIR: "patches/qemu-7.2"} */
  fileEnv?: Record<string, string>;
  /**
   * secrets the scripts read from files: {GUEST_PASSWORD_FILE: secret}. Each travels in the
   * environment as a Pulumi secret, is written to a 0600 file in the temporary directory, and
   * the variable is set to that file's path
   */
  secretFiles?: Record<string, pulumi.Input<string>>;
  /** extra replacement triggers; the content hash of everything shipped is always one */
  triggers?: pulumi.Input<unknown>[];
}

/**
 * A provisioning step on a host, run over SSH as root: the project's scripts (and any files
 * they need) travel as a tar.gz in the command's environment, are unpacked to a temporary
 * directory, run, and removed. Progress goes to stderr (streamed to the engine log), the
 * result to stdout as one JSON line. Teardown is self-contained: delete ships its own copy.
 */
export function hostScript(
  name: string,
  args: HostScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const paths = [
    ...new Set([
      `scripts/${args.up.script}`,
      ...(args.down ? [`scripts/${args.down.script}`] : []),
      ...(args.files ?? []),
    ]),
  ].sort();
  const payload = bundle(paths);
  const exports = [
    ...Object.entries(args.fileEnv ?? {}).map(
      ([k, rel]) => `export ${k}="$LAB_BUNDLE_DIR"/${shellQuote(rel)};`,
    ),
    ...Object.keys(args.secretFiles ?? {}).map(
      (k) =>
        `(umask 077 && printf %s "$LAB_SECRET_${k}" >"$LAB_BUNDLE_DIR/.secret-${k}"); unset LAB_SECRET_${k}; export ${k}="$LAB_BUNDLE_DIR/.secret-${k}";`,
    ),
  ].join(" ");
  const run = (call: ScriptCall): string =>
    [
      "LAB_BUNDLE_DIR=$(mktemp -d /tmp/vpl-bundle.XXXXXX) || exit 1;",
      'printf %s "$LAB_BUNDLE_B64" | base64 -d | tar -xzf - -C "$LAB_BUNDLE_DIR" || { rm -rf "$LAB_BUNDLE_DIR"; exit 1; };',
      "unset LAB_BUNDLE_B64; export LAB_BUNDLE_DIR;",
      exports,
      `bash "$LAB_BUNDLE_DIR"/${shellJoin([`scripts/${call.script}`, ...(call.args ?? [])])} </dev/null; rc=$?;`,
      'rm -rf "$LAB_BUNDLE_DIR"; exit $rc',
    ]
      .filter(Boolean)
      .join(" ");
  for (const k of Object.keys(args.secretFiles ?? {})) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k))
      throw new Error(`secretFiles: ${k} is not an environment variable name`);
  }
  const secrets = Object.fromEntries(
    Object.entries(args.secretFiles ?? {}).map(([k, v]) => [`LAB_SECRET_${k}`, pulumi.secret(v)]),
  );
  const environment = pulumi
    .all([pulumi.output(args.environment ?? {}), pulumi.output(secrets)])
    .apply(([env, sec]) => ({ ...env, ...sec, LAB_BUNDLE_B64: payload }));
  return new command.remote.Command(
    name,
    {
      connection: args.connection,
      create: run(args.up),
      update: run(args.up),
      delete: args.down === undefined ? undefined : run(args.down),
      environment,
      triggers: [contentHash(payload), ...(args.triggers ?? [])],
      addPreviousOutputInEnv: false,
      logging: "stderr",
    },
    // a step's teardown must run before its replacement is set up (hugepages, daemons, ...)
    { deleteBeforeReplace: true, ...opts },
  );
}

/** The JSON line a host script printed last on stdout. */
export function lastJson<T>(stdout: pulumi.Output<string>): pulumi.Output<T> {
  return stdout.apply((s) => {
    const lines = s.trim().split("\n");
    const last = lines[lines.length - 1] ?? "";
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`expected a JSON line on stdout, got: ${last.slice(0, 200)}`);
    }
  });
}

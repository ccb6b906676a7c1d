import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { contentHash, scriptText } from "./scripts";

export type Connection = command.types.input.remote.ConnectionArgs;

export interface HostScriptArgs {
  connection: pulumi.Input<Connection>;
  /** file under scripts/, sent on stdin and run as `bash -s -- <subcommand>` */
  script: string;
  /** subcommand on create/update (e.g. "up", "apply", "start") */
  up: string;
  /** subcommand on delete (teardown); omitted = nothing to undo */
  down?: string;
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** extra replacement triggers; the script's content hash is always one */
  triggers?: pulumi.Input<unknown>[];
}

/**
 * A provisioning step on a host: one of the project's scripts, run over SSH as root with its
 * inputs in the environment. Progress goes to stderr (streamed to the engine log), the result
 * to stdout as one JSON line. The script travels on stdin, so teardown needs nothing uploaded.
 */
export function hostScript(
  name: string,
  args: HostScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const text = scriptText(args.script);
  return new command.remote.Command(
    name,
    {
      connection: args.connection,
      create: `bash -s -- ${args.up}`,
      update: `bash -s -- ${args.up}`,
      delete: args.down === undefined ? undefined : `bash -s -- ${args.down}`,
      stdin: text,
      environment: args.environment,
      triggers: [contentHash(text), ...(args.triggers ?? [])],
      addPreviousOutputInEnv: false,
      logging: "stderr",
    },
    opts,
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

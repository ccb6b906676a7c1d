import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Qemu } from "../../lib/lab";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";
import { contentHash, repoRoot } from "../shared/scripts";

export interface QemuBuildArgs {
  qemu: Qemu;
  connection: pulumi.Input<Connection>;
  /** tokens of the steps the build needs (the lab directories) */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** What scripts/qemu-build.sh reports. */
export interface QemuBuildResult {
  binary: string;
  version: string;
  prefix: string;
  patches: string[];
  built: boolean;
  seconds: number;
}

/** Where a stack's QEMU builds are installed: <qemu.prefix>/<stack>. */
export function qemuStackRoot(prefix: string, stack: string): string {
  return `${prefix.replace(/\/+$/, "")}/${stack}`;
}

/** The patch series of the lab config, in the order it is applied. */
export function patchSeries(patchDir: string | undefined): { name: string; text: string }[] {
  if (patchDir === undefined) return [];
  const dir = path.resolve(repoRoot(), patchDir);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".patch"))
    .sort()
    .map((name) => ({ name, text: fs.readFileSync(path.join(dir, name), "utf8") }));
}

/**
 * QEMU built from source on a DUT (scripts/qemu-build.sh): pinned source, the project's patch
 * series applied in order, into a prefix keyed by version + source + patches + flags, so an
 * unchanged config never rebuilds and a changed one builds beside the old. Destroy removes
 * the prefix (the source/build tree stays in the host's build cache).
 */
export class QemuBuild extends pulumi.ComponentResource {
  readonly binary: pulumi.Output<string>;
  readonly version: pulumi.Output<string>;
  readonly patches: pulumi.Output<string[]>;
  readonly result: pulumi.Output<QemuBuildResult>;
  readonly key: string;
  /** token of the installed build: a VM on it is restarted when it is replaced */
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: QemuBuildArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:qemu:QemuBuild", name, {}, opts);
    const q = args.qemu;
    const patches = patchSeries(q.patchDir);
    this.key = contentHash(
      q.version,
      JSON.stringify(q.source),
      q.configureFlags.join(" "),
      ...patches.flatMap((p) => [p.name, p.text]),
    );
    // per stack: destroying one stack never removes the QEMU another stack's VMs run on
    const prefix = `${qemuStackRoot(q.prefix, pulumi.getStack())}/${q.version}-${this.key}`;
    const env: Record<string, string> = {
      QEMU_PREFIX: prefix,
      QEMU_CONFIGURE_FLAGS: q.configureFlags.join(" "),
      QEMU_KEEP_BUILD_TREE: "1",
    };
    switch (q.source.kind) {
      case "debian":
        env["QEMU_SOURCE_KIND"] = "debian";
        env["QEMU_DEBIAN_VERSION"] = q.source.version;
        break;
      case "tarball":
        env["QEMU_SOURCE_KIND"] = "tarball";
        env["QEMU_TARBALL_URL"] = q.source.url;
        env["QEMU_TARBALL_SHA256"] = q.source.sha256;
        break;
      case "local":
        throw new pulumi.RunError(
          "vhost-perf-lab:qemu.source.kind local (upload a tarball) is not implemented yet; fix: use kind debian or tarball",
        );
    }
    const build = hostScript(
      `${name}-build`,
      {
        connection: args.connection,
        up: { script: "qemu-build.sh" },
        down: { script: "qemu-remove.sh" },
        environment: env,
        files: ["scripts/lib/qemu-common.sh", ...(q.patchDir === undefined ? [] : [q.patchDir])],
        fileEnv: q.patchDir === undefined ? {} : { QEMU_PATCH_DIR: q.patchDir },
        triggers: [this.key],
        after: args.after,
        lock: "shared",
        probe: { kind: "persistent" },
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "60m", update: "60m" } },
    );
    this.result = lastJson<QemuBuildResult>(build.stdout);
    this.token = stepToken(build);
    this.binary = this.result.apply((r) => r.binary);
    this.version = this.result.apply((r) => r.version);
    this.patches = this.result.apply((r) => r.patches);
    this.registerOutputs({
      binary: this.binary,
      version: this.version,
      patches: this.patches,
      key: this.key,
    });
  }
}

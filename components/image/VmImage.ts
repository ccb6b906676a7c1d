import * as pulumi from "@pulumi/pulumi";
import type { Image, Vms } from "../../lib/lab";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";

export interface VmImageArgs {
  connection: pulumi.Input<Connection>;
  image: Image;
  vms: Vms;
  /** tokens of the steps the image needs (the lab directories) */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

interface BuiltImage {
  image: string;
  sha256: string;
  bytes: number;
  built: boolean;
  seconds: number;
}

interface DeployedImage {
  image: string;
  sha256: string;
  deployed: boolean;
}

/**
 * The guest image at the lab path the VMs boot from (CSIT: /var/lib/vm/vhost-nested.img):
 * built on the DUT with the project's builder (scripts/guest-image/build.sh: the seed's
 * requirements) into the host's image cache, keyed by its inputs, then deployed with a
 * sha256 check. Destroy removes the deployed image (the cache stays).
 */
export class VmImage extends pulumi.ComponentResource {
  readonly path: pulumi.Output<string>;
  readonly sha256: pulumi.Output<string>;
  readonly build: pulumi.Output<BuiltImage>;
  readonly ready: pulumi.Resource;
  /** token of the deployed image: a VM booted from it is restarted when it is replaced */
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: VmImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:image:VmImage", name, {}, opts);
    const img = args.image;
    if (img.source.kind !== "build") {
      throw new pulumi.RunError(
        `vhost-perf-lab:image.source.kind ${img.source.kind} is not implemented yet; fix: use kind build (the project's image builder)`,
      );
    }
    if (img.format !== "qcow2") {
      throw new pulumi.RunError("vhost-perf-lab:image.format raw is not implemented yet; fix: use qcow2");
    }
    const guestHugepages = args.vms.guestHugepages.size === "2M" ? args.vms.guestHugepages.count : 0;
    const build = hostScript(
      `${name}-build`,
      {
        connection: args.connection,
        up: { script: "guest-image/build.sh" },
        files: ["scripts/guest-image"],
        environment: {
          IMAGE_SUITE: img.source.suite,
          IMAGE_HUGEPAGES: String(guestHugepages),
          IMAGE_L3FWD: img.requirements.includes("l3fwd") ? "1" : "0",
          GUEST_USER: img.user.name,
        },
        secretFiles: { GUEST_PASSWORD_FILE: img.user.password.reveal() },
        after: args.after,
        lock: "shared",
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "60m", update: "60m" } },
    );
    this.build = lastJson<BuiltImage>(build.stdout);
    const deploy = hostScript(
      `${name}-deploy`,
      {
        connection: args.connection,
        up: { script: "guest-image/deploy.sh" },
        down: { script: "guest-image/remove.sh" },
        environment: {
          IMAGE_SRC: this.build.image,
          IMAGE_SHA256: this.build.sha256,
          IMAGE_PATH: img.path,
        },
        after: [stepToken(build), ...(args.after ?? [])],
        probe: { kind: "persistent" },
      },
      { parent: this, dependsOn: [build] },
    );
    const deployed = lastJson<DeployedImage>(deploy.stdout);
    this.path = deployed.image;
    this.sha256 = deployed.sha256;
    this.ready = deploy;
    this.token = stepToken(deploy);
    this.registerOutputs({ path: this.path, sha256: this.sha256, build: this.build });
  }
}

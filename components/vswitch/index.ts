// The vswitch seam (issue 11): the one place that picks a vswitch kind's component.
import * as pulumi from "@pulumi/pulumi";
import type { VswitchArgs, VswitchDeployment } from "./kind";
import { TestpmdVswitch } from "./testpmd/TestpmdVswitch";
import { OvsVswitch } from "./ovs/OvsVswitch";
import { VppVswitch } from "./vpp/VppVswitch";

export type {
  VswitchArgs,
  VswitchDeployment,
  VswitchBenchHooks,
  VswitchStatus,
  VswitchNicPort,
} from "./kind";

export function deployVswitch(
  name: string,
  args: VswitchArgs,
  opts?: pulumi.ComponentResourceOptions,
): VswitchDeployment {
  const kind = args.config.kind;
  switch (kind) {
    case "testpmd":
      return new TestpmdVswitch(name, args, opts);
    case "ovs-dpdk":
      return new OvsVswitch(name, args, opts);
    case "vpp":
      return new VppVswitch(name, args, opts);
    default: {
      const never: never = kind;
      throw new Error(`unknown vswitch kind ${String(never)}`);
    }
  }
}

// The VM seam (issue 14): the one place that picks a VM backend's component.
import type * as pulumi from "@pulumi/pulumi";
import type { VmArgs, VmDeployment } from "./kind";
import { VhostUserVm } from "./VhostUserVm";
import { LibvirtVm } from "./LibvirtVm";

export type { VmArgs, VmDeployment, VmStatus } from "./kind";

export function deployVm(name: string, args: VmArgs, opts?: pulumi.ComponentResourceOptions): VmDeployment {
  const backend = args.vms.backend;
  switch (backend) {
    case "qemu":
      return new VhostUserVm(name, args, opts);
    case "libvirt":
      return new LibvirtVm(name, args, opts);
    default: {
      const never: never = backend;
      throw new Error(`unknown VM backend ${String(never)}`);
    }
  }
}

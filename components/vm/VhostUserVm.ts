import * as pulumi from "@pulumi/pulumi";
import { formatCpuList } from "../../lib/lab";
import { vmPaths, vmScriptEnv } from "../../lib/qemu";
import { hostScript, lastJson, stepToken } from "../shared/hostScript";
import type { VmArgs, VmDeployment, VmStatus } from "./kind";
import { vmSpecOf } from "./spec";

export type VhostUserVmArgs = VmArgs;
export type { VmStatus };

/**
 * One vhost-user VM on a DUT, launched the CSIT way (scripts/vm.sh): the source-built QEMU with
 * hugepage-backed shared memory, two vhost-user virtio-net NICs (QEMU server, vswitch client)
 * at the matrix's queue size, an e1000 management NIC, console on ttyS0 logged, guest agent on
 * ttyS1; waits for the agent, checks the guest's NIC names, starts testpmd io forwarding in
 * the guest, reports the negotiated vring sizes; then pins the vCPU threads to their CPUs.
 */
export class VhostUserVm extends pulumi.ComponentResource implements VmDeployment {
  readonly status: pulumi.Output<VmStatus>;
  readonly name: string;
  readonly pidfile: string;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: VhostUserVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:vm:VhostUserVm", name, {}, opts);
    const i = args.index;
    this.name = `vm${i + 1}`;
    const runDir = `/run/vhost-perf-lab/${pulumi.getStack()}/${this.name}`;
    this.pidfile = vmPaths(runDir, this.name).pidfile;
    const workload = args.vms.workload;
    if (workload.kind !== "testpmd") {
      throw new pulumi.RunError(
        "vhost-perf-lab:vms.workload.kind l3fwd is not started by the VM launcher yet; fix: use kind testpmd",
      );
    }
    const env = pulumi
      .all([args.qemuBinary, args.accel, args.baseImage, args.hugepagesMount])
      .apply(([qemuBinary, accel, baseImage, mount]) => {
        const spec = vmSpecOf(args, this.name, runDir, { qemuBinary, accel, hugepagesMount: mount });
        const e = vmScriptEnv(spec, {
          baseImage,
          qgaPy: "",
          qmpPy: "",
          guestTestpmd: workload.forwardMode,
          guestHugepages: args.vms.guestHugepages.size === "2M" ? args.vms.guestHugepages.count : 0,
        });
        delete e["QGA_PY"];
        delete e["QMP_PY"];
        return e;
      });
    const vm = hostScript(
      `${name}-qemu`,
      {
        connection: args.connection,
        up: { script: "vm.sh", args: ["start"] },
        down: { script: "vm.sh", args: ["stop"] },
        files: ["scripts/qmp.py", "scripts/guest-image/qga.py", "scripts/lib/vm-guest.sh"],
        fileEnv: { QMP_PY: "scripts/qmp.py", QGA_PY: "scripts/guest-image/qga.py" },
        environment: env,
        after: args.after,
        // the pid vm.sh reported: a QEMU that died (or a reboot) is gone
        probe: { kind: "boot" },
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "30m", update: "30m" } },
    );
    this.status = lastJson<VmStatus>(vm.stdout);
    this.token = stepToken(vm);
    const vcpuCpus = args.host.cpus.vms[i] ?? [];
    let ready: pulumi.Resource = vm;
    if (vcpuCpus.length > 0) {
      ready = hostScript(
        `${name}-pin`,
        {
          connection: args.connection,
          up: { script: "pin-threads.sh" },
          environment: {
            PIN_PIDFILE: this.pidfile,
            // POSIX ERE for bash: the same names as lib/qemu VCPU_THREAD_NAME ("CPU 0/TCG")
            PIN_PATTERN: "^CPU [0-9]+/(KVM|TCG)$",
            PIN_CPUS: formatCpuList(vcpuCpus),
            PIN_OTHER_CPUS: formatCpuList(args.host.cpus.housekeeping),
          },
          after: [this.token],
        },
        { parent: this, dependsOn: [vm] },
      );
    }
    this.ready = ready;
    this.registerOutputs({ status: this.status });
  }
}

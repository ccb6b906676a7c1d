import * as pulumi from "@pulumi/pulumi";
import { formatCpuList } from "../../lib/lab";
import { vmPaths, vmScriptEnv, type VmSpec } from "../../lib/qemu";
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
  /** the kit's ring switch on the DUT (several vring sizes), for the benchmark plan */
  readonly ringControl: string | undefined;

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
    const vcpuCpus = args.host.cpus.vms[i] ?? [];
    // the kit is always left (one size too): the runner proves each cell's negotiated size with it
    const sizes = [...new Set([args.vringSize, ...(args.vringSizes ?? [])])];
    this.ringControl = `${runDir}/ctl/vm-ring.sh`;
    const env = pulumi
      .all([args.qemuBinary, args.accel, args.baseImage, args.hugepagesMount])
      .apply(([qemuBinary, accel, baseImage, mount]) => {
        const base = vmSpecOf(args, this.name, runDir, { qemuBinary, accel, hugepagesMount: mount });
        const specFor = (queueSize: number): VmSpec => ({
          ...base,
          vhostUser: base.vhostUser.map((n) => ({ ...n, queueSize })),
        });
        const scriptOpts = {
          baseImage,
          qgaPy: "",
          qmpPy: "",
          guestTestpmd: workload.forwardMode,
          guestMaxFrame: args.maxFrame,
          guestHugepages: args.vms.guestHugepages.size === "2M" ? args.vms.guestHugepages.count : 0,
        };
        const e = vmScriptEnv(specFor(args.vringSize), scriptOpts);
        delete e["QGA_PY"];
        delete e["QMP_PY"];
        e["VM_RING_SIZE"] = String(args.vringSize);
        // every size's argv from the same spec: the kit restarts the VM with one of them
        e["VM_RING_ARGVS"] = sizes
          .map((size) => `${size}:${vmScriptEnv(specFor(size), scriptOpts)["VM_ARGV_B64"]}`)
          .join(" ");
        if (vcpuCpus.length > 0) {
          e["VM_PIN_CPUS"] = formatCpuList(vcpuCpus);
          e["VM_PIN_OTHER_CPUS"] = formatCpuList(args.host.cpus.housekeeping);
        }
        return e;
      });
    const vm = hostScript(
      `${name}-qemu`,
      {
        connection: args.connection,
        up: { script: "vm.sh", args: ["start"] },
        down: { script: "vm.sh", args: ["stop"] },
        files: [
          "scripts/qmp.py",
          "scripts/guest-image/qga.py",
          "scripts/vm-ring.sh",
          "scripts/pin-threads.sh",
          "scripts/lib/vm-guest.sh",
        ],
        fileEnv: {
          QMP_PY: "scripts/qmp.py",
          QGA_PY: "scripts/guest-image/qga.py",
          VM_RING_SH: "scripts/vm-ring.sh",
          VM_PIN_SH: "scripts/pin-threads.sh",
        },
        environment: env,
        after: args.after,
        // the pid vm.sh reported (a QEMU that died, or a reboot, is gone), and the vring size it
        // runs with: a benchmark's ring switch that was not put back makes the next up restart it
        probe: { kind: "boot", status: { script: "vm.sh", args: ["probe"] } },
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "30m", update: "30m" } },
    );
    this.status = lastJson<VmStatus>(vm.stdout);
    this.token = stepToken(vm);
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

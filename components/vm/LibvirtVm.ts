import * as pulumi from "@pulumi/pulumi";
import { buildDomainXml } from "../../lib/libvirt/domainXml";
import { expectedGuestNics, resolveVmSpec } from "../../lib/qemu";
import { hostScript, lastJson, stepToken } from "../shared/hostScript";
import type { VmArgs, VmDeployment, VmStatus } from "./kind";
import { vmSpecOf } from "./spec";

/**
 * One vhost-user VM on a DUT as a libvirt domain (vms.backend: libvirt; scripts/vm-libvirt.sh):
 * the domain XML built from the same VmSpec as the QEMU backend's argv (lib/libvirt/domainXml),
 * with the source-built QEMU as emulator and the vCPUs pinned by libvirt (vcpupin per the CPU
 * plan, QEMU's other threads on the housekeeping CPUs). libvirtd is started on the DUT when it is
 * not running and stopped on destroy only if this stack started it; the domain is undefined on
 * destroy. The guest side (agent, NIC names, guest testpmd, vring check) is vm.sh's.
 */
export class LibvirtVm extends pulumi.ComponentResource implements VmDeployment {
  readonly status: pulumi.Output<VmStatus>;
  readonly name: string;
  readonly domain: string;
  readonly pidfile: string;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;
  /** no ring switch yet: one vring size per stack with this backend (lib/lab checks it) */
  readonly ringControl = undefined;

  constructor(name: string, args: VmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:vm:LibvirtVm", name, {}, opts);
    const i = args.index;
    this.name = `vm${i + 1}`;
    const stack = pulumi.getStack();
    this.domain = `vpl-${stack}-${this.name}`;
    this.pidfile = `/run/libvirt/qemu/${this.domain}.pid`;
    const runDir = `/run/vhost-perf-lab/${stack}/${this.name}`;
    const workload = args.vms.workload;
    if (workload.kind !== "testpmd") {
      throw new pulumi.RunError(
        "vhost-perf-lab:vms.workload.kind l3fwd is not started by the VM launcher yet; fix: use kind testpmd",
      );
    }
    const vcpuCpus = args.host.cpus.vms[i] ?? [];
    const env = pulumi
      .all([args.qemuBinary, args.accel, args.baseImage, args.hugepagesMount])
      .apply(([qemuBinary, accel, baseImage, hugepagesMount]) => {
        const spec = vmSpecOf(args, this.name, runDir, { qemuBinary, accel, hugepagesMount });
        const s = resolveVmSpec(spec);
        const xml = buildDomainXml(spec, {
          domainName: this.domain,
          vcpuPin: Array.from({ length: s.vcpus }, () => vcpuCpus),
          emulatorPin: args.host.cpus.housekeeping,
        });
        return {
          VM_NAME: this.name,
          VM_DOMAIN: this.domain,
          VM_XML_B64: Buffer.from(xml, "utf8").toString("base64"),
          VM_RUN_DIR: runDir,
          VM_OVERLAY: s.diskImage,
          VM_BASE_IMAGE: baseImage,
          VM_BASE_FORMAT: "qcow2",
          VM_QGA_SOCKET: s.paths.qgaSocket,
          VM_QMP_SOCKET: s.paths.qmpSocket,
          VM_CONSOLE_LOG: s.paths.consoleLog,
          VM_VCPUS: String(s.vcpus),
          VM_VHOST_SOCKETS: s.vhostUser.map((n) => n.socketPath).join(" "),
          VM_BOOT_TIMEOUT: String(s.accel === "tcg" ? 300 : 120),
          VM_GUEST_NICS: expectedGuestNics(spec).join(" "),
          VM_GUEST_TESTPMD: workload.forwardMode,
          VM_GUEST_HUGEPAGES: String(
            args.vms.guestHugepages.size === "2M" ? args.vms.guestHugepages.count : 0,
          ),
        };
      });
    const vm = hostScript(
      `${name}-libvirt`,
      {
        connection: args.connection,
        up: { script: "vm-libvirt.sh", args: ["up"] },
        down: { script: "vm-libvirt.sh", args: ["down"] },
        files: ["scripts/qmp.py", "scripts/guest-image/qga.py", "scripts/lib/vm-guest.sh"],
        fileEnv: { QMP_PY: "scripts/qmp.py", QGA_PY: "scripts/guest-image/qga.py" },
        environment: env,
        after: args.after,
        probe: { kind: "boot" },
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "30m", update: "30m" } },
    );
    this.status = lastJson<VmStatus>(vm.stdout);
    this.token = stepToken(vm);
    // libvirt pins the vCPUs itself (vcpupin): no pin step
    this.ready = vm;
    this.registerOutputs({ status: this.status });
  }
}

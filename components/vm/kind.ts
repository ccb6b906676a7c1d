// The VM seam (issue 14): what every VM backend (qemu, libvirt) gives the rest of the program.
// One component per backend implements it; one exhaustive switch (./index.ts) picks the backend.
import type * as pulumi from "@pulumi/pulumi";
import type { Host, Vms } from "../../lib/lab";
import type { Connection } from "../shared/hostScript";

export interface VmArgs {
  connection: pulumi.Input<Connection>;
  host: Host;
  vms: Vms;
  /** 0-based VM number on this DUT */
  index: number;
  /** virtio queue size of the vhost-user NICs as deployed (the matrix's first vring size) */
  vringSize: number;
  /**
   * every vring size of the matrix: a backend with a ring switch leaves a control kit with the
   * command line of each (<runDir>/ctl/vm-ring.sh) with which the benchmark switches between cells
   */
  vringSizes?: number[];
  /** the largest frame (bytes incl. FCS) the guest's testpmd must forward (lib/lab/frames.ts) */
  maxFrame: number;
  qemuBinary: pulumi.Input<string>;
  accel: pulumi.Input<"kvm" | "tcg">;
  baseImage: pulumi.Input<string>;
  hugepagesMount: pulumi.Input<string>;
  /** tokens of the steps it runs on (hugepages, vswitch, QEMU, image): a replaced one restarts it */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** What a VM backend's script reports once the guest runs (its last JSON line). */
export interface VmStatus {
  /** the QEMU process (the runner finds the vCPU threads under it) */
  pid: number;
  vcpuTids: number[];
  bootSeconds?: number | null;
  guestNics?: string[];
  /** negotiated vring sizes per virtio-net device (scripts/qmp.py vrings) */
  vringSizes?: Record<string, unknown>;
  guestTestpmd?: string;
  [k: string]: unknown;
}

/** A deployed VM of any backend. */
export interface VmDeployment extends pulumi.ComponentResource {
  readonly status: pulumi.Output<VmStatus>;
  /** vm<i>: the VM's name in file names and logs */
  readonly name: string;
  /** where QEMU's pid is on the DUT (the argv's -pidfile; libvirt's /run/libvirt/qemu/<domain>.pid) */
  readonly pidfile: string;
  /** the resource later steps depend on (the VM up, its vCPUs pinned) */
  readonly ready: pulumi.Resource;
  /** changes when the VM is replaced */
  readonly token: pulumi.Output<string>;
  /**
   * the VM's ring switch on the DUT (scripts/vm-ring.sh in its control kit): the benchmark proves
   * each cell's negotiated vring size with it and switches sizes; undefined: the backend has none
   * (one vring size per stack, proven at deploy only)
   */
  readonly ringControl: string | undefined;
}

// The vswitch seam (issue 11): what every vswitch kind (testpmd, ovs-dpdk, vpp) gives the rest of
// the program. One component per kind implements it; one exhaustive switch picks the kind.
import type * as pulumi from "@pulumi/pulumi";
import type { Vswitch as VswitchConfig } from "../../lib/lab";
import type { VswitchCounterSource } from "../../lib/bench/plan";
import type { Connection } from "../shared/hostScript";

/** A port toward the TG: a host interface (local lab, af_packet) or a PCI NIC bound for DPDK. */
export type VswitchNicPort = { kind: "af_packet"; ifname: string } | { kind: "pci"; pciAddress: string };

export interface VswitchArgs {
  connection: pulumi.Input<Connection>;
  config: VswitchConfig;
  mainCore: number;
  workerCores: number[];
  /** NIC ports in order; port i is cross-connected to vhost socket i (CSIT's l2xc). */
  nicPorts: VswitchNicPort[];
  /** vhost-user sockets, two per VM, in VM order (QEMU is the server, the vswitch the client) */
  vhostSockets: string[];
  queues: number;
  /**
   * the largest frame (bytes incl. FCS) the ports must carry: the matrix's largest
   * (lib/lab/frames.ts matrixMaxFrame, never below 1518)
   */
  maxFrame: number;
  /** vring size asked of the VMs (the vswitch reports what was negotiated) */
  ringSize: number;
  /** hugetlbfs mount for its memory */
  hugepagesMount: pulumi.Input<string>;
  /** tokens of the steps it builds on (hugepages, TG ports, NIC binding): a replaced one restarts it */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** What a vswitch kind's script reports once started (its last JSON line). */
export interface VswitchStatus {
  kind: VswitchConfig["kind"];
  /** the main process (testpmd, ovs-vswitchd, vpp) */
  pid: number;
  /** every process it runs (ovsdb-server + ovs-vswitchd, ...) */
  pids?: number[];
  /** data-plane worker thread ids (cfsrr1 and pinning act on these) */
  workerTids?: number[];
  /** negotiated vhost-user ring sizes per socket, when the vswitch can tell */
  rings?: { socket: string; rxSize?: number; txSize?: number }[];
  [k: string]: unknown;
}

/** How the benchmark runner finds the data-plane threads and reads the port counters. */
export interface VswitchBenchHooks {
  /** JavaScript regular expression on /proc/<pid>/task/<tid>/comm of the worker threads */
  workerThreadPattern: string;
  /**
   * where per-cell port counters come from (the plan's dut.vswitchCounters; the runner's reader
   * for it is chosen in lib/bench/vswitchCounters.ts)
   */
  counters: VswitchCounterSource;
}

/** A deployed vswitch of any kind. */
export interface VswitchDeployment extends pulumi.ComponentResource {
  readonly status: pulumi.Output<VswitchStatus>;
  /** the resource later steps depend on */
  readonly ready: pulumi.Resource;
  /** changes when the vswitch is replaced (restart dependents) */
  readonly token: pulumi.Output<string>;
  readonly bench: VswitchBenchHooks;
}

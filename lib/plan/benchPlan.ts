/**
 * From the lab model and what the deployment reported (pids, ports, the SSH connection) to
 * the benchmark runner's plan (lib/bench/plan.ts). Pure: no Pulumi, no I/O.
 */
import type { Frame, Host, Lab } from "../lab";
import { parseHostKey } from "../lab/hostKey";
import { forwardingTag, maxLoadPps, vswitchCores } from "../lab";
import type { BenchPlan, HostConnection, VswitchCounterSource } from "../bench/plan";
import { PLAN_DEFAULTS, STACK_RE } from "../bench/plan";
import type { FrameSize } from "../measure/units";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  hostKey: string;
}

/** What the deployment of one DUT reported, for the runner. */
export interface DeployedDut {
  /**
   * The Pulumi stack (pulumi.getStack()): the runner keeps everything it creates on the host
   * under /run/vhost-perf-lab/<stack>/ (its scheduling record, the trafgen files)
   */
  stack: string;
  host: Host;
  ssh: SshEndpoint;
  vswitchPid: number;
  /**
   * the vswitch kind's bench hooks (components/vswitch/kind.ts VswitchBenchHooks): its data-plane
   * threads' comm pattern and where its port counters come from
   */
  vswitchBench: { workerThreadPattern: string; counters: VswitchCounterSource };
  vmPids: number[];
  /**
   * Every VM's control kit (vm-ring.sh) and pidfile: the runner proves each cell's negotiated vring
   * size with it and switches sizes between cells (a restart: the VMs' threads are found by pidfile)
   */
  vmRing?: { controls: string[]; pidFiles: string[] };
  /**
   * The local TG (trafgen): its ports, the namespace they are in ("" when the TG host's own
   * session is already there) and, for a TG host of its own (the 2-node local lab), its name and
   * SSH endpoint; without them trafgen runs over the DUT's connection. directions: 2 sends both
   * ways at once, as CSIT measures.
   */
  tg: DeployedTrafgen | DeployedTrex;
}

export interface DeployedTrafgen {
  kind?: "trafgen";
  netns: string;
  txIf: string;
  rxIf: string;
  directions: 1 | 2;
  host?: { name: string; ssh: SshEndpoint };
}

/** A lab's TG server running TRex: its SSH endpoint and the RPC port the TrexServer step reported. */
export interface DeployedTrex {
  kind: "trex";
  host: { name: string; ssh: SshEndpoint };
  rpcHost: string;
  rpcPort: number;
}

export class PlanBuildError extends Error {}

export function toFrameSize(f: Frame): FrameSize {
  return f === "imix" ? "IMIX_v4_1" : f;
}

function sshConnection(e: SshEndpoint): HostConnection {
  // the project's one host key rule: refused here already, before the runner would refuse it
  const key = parseHostKey(e.hostKey, { host: e.host, port: e.port });
  if (!key.ok) throw new PlanBuildError(`host key of ${e.host}:${e.port}: ${key.error}; fix: ${key.fix}`);
  return {
    transport: "ssh",
    host: e.host,
    port: e.port,
    user: e.user,
    privateKey: e.privateKey,
    hostKey: e.hostKey,
    readyTimeoutMs: 20000,
  };
}

function planTg(d: DeployedDut): BenchPlan["tg"] {
  const tg = d.tg;
  if (tg.kind === "trex") {
    return {
      kind: "trex",
      host: tg.host.name,
      rpcHost: tg.rpcHost,
      rpcPort: tg.rpcPort,
      ports: [...PLAN_DEFAULTS.trex.ports] as [number, number],
      timeoutMs: PLAN_DEFAULTS.trex.timeoutMs,
      forceAcquire: false,
      latency: { ...PLAN_DEFAULTS.trex.latency, fractions: [...PLAN_DEFAULTS.trex.latency.fractions] },
    };
  }
  return {
    ...PLAN_DEFAULTS.trafgen,
    kind: "trafgen",
    host: tg.host?.name ?? d.host.name,
    netns: tg.netns,
    txIf: tg.txIf,
    rxIf: tg.rxIf,
    directions: tg.directions,
  };
}

export function benchPlan(lab: Lab, d: DeployedDut): BenchPlan {
  if (!STACK_RE.test(d.stack)) {
    throw new PlanBuildError(`stack name "${d.stack}" is not [a-z0-9][a-z0-9-]{0,30} (pulumi.getStack())`);
  }
  if ((lab.tg.kind === "trex") !== (d.tg.kind === "trex")) {
    throw new PlanBuildError(
      `vhost-perf-lab:tg.kind ${lab.tg.kind}: the deployment reported a ${d.tg.kind ?? "trafgen"} TG (a program error: the TG steps and the plan disagree)`,
    );
  }
  const m = lab.matrix;
  const frames = m.frames.map(toFrameSize);
  const maxLoad = Math.min(...m.frames.map((f) => maxLoadPps(lab, f)));
  return {
    version: 1,
    name: lab.name,
    stack: d.stack,
    hosts: {
      [d.host.name]: sshConnection(d.ssh),
      ...(d.tg.host ? { [d.tg.host.name]: sshConnection(d.tg.host.ssh) } : {}),
    },
    dut: {
      host: d.host.name,
      vswitch: { label: "vswitch", pid: d.vswitchPid, namePattern: d.vswitchBench.workerThreadPattern },
      // with the kit a VM may be restarted between cells: its threads are found by its pidfile
      vms: d.vmPids.map((pid, i) => ({
        label: `vm${i + 1}`,
        ...(d.vmRing ? { pidFile: d.vmRing.pidFiles[i]! } : { pid }),
        namePattern: PLAN_DEFAULTS.vcpuPattern,
      })),
      ...(d.vmRing
        ? {
            vmRing: {
              deployed: m.vringSizes[0]!,
              controls: [...d.vmRing.controls],
              deployedPids: [...d.vmPids],
            },
          }
        : {}),
      // testpmd's prefix also under its old name: plans stay readable by an older runner
      ...(d.vswitchBench.counters.kind === "dpdk-telemetry"
        ? { vswitchTelemetryPrefix: d.vswitchBench.counters.prefix }
        : {}),
      vswitchCounters: d.vswitchBench.counters,
      housekeepingCpus: [...d.host.cpus.housekeeping],
    },
    tg: planTg(d),
    cells: frames.flatMap((frame) =>
      m.vringSizes.flatMap((vringSize) =>
        m.cfsPolicies.map((policy) => ({ frame, vringSize, policy, tests: [...m.tests] })),
      ),
    ),
    mrr: { trials: m.mrr.trials, trialDurationS: m.mrr.trialDurationS, maxLoadPps: maxLoad },
    ndrpdr: {
      minLoadPps: m.ndrpdr.minLoadPps,
      maxLoadPps: maxLoad,
      trialDurationS: m.ndrpdr.trialDurationS,
      durationSumS: m.ndrpdr.durationSumS,
      timeLimitS: m.ndrpdr.timeLimitS,
      relativeWidth: m.ndrpdr.relativeWidth,
      exceedRatio: m.ndrpdr.exceedRatio,
      ndrLossRatio: m.ndrpdr.ndrLossRatio,
      pdrLossRatio: m.ndrpdr.pdrLossRatio,
      intermediatePhases: PLAN_DEFAULTS.ndrpdr.intermediatePhases,
    },
    naming: {
      cores: vswitchCores(d.host),
      nic: "eth",
      forwarding: forwardingTag(lab),
      vms: lab.vms.count,
      vhostPerVm: 2,
    },
    sched: { ...PLAN_DEFAULTS.sched },
    facts: { lab: lab.name, profile: lab.profile, dut: d.host.name },
  };
}

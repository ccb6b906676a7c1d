/**
 * From a host's CPU plan and hugepages to the runtime tunings the DUT gets (CSIT's Ansible role,
 * DESIGN.md §3): the sysctl values, the CPUs device interrupts are kept on, the CPU frequency
 * settings. Pure: the scripts in scripts/dut-*.sh apply what this returns and revert it.
 */
import {
  CMDLINE_TUNINGS,
  formatCpuList,
  HUGEPAGE_MIB,
  type Host,
  type Tuning,
  type TuningName,
} from "../lab";

/** `key=value` sets exactly; `key>=value` only raises (never lowers what the host has). */
export interface SysctlSetting {
  key: string;
  value: string;
  atLeast: boolean;
}

export interface TuningPlan {
  /** "sysctl" */
  sysctl: SysctlSetting[] | undefined;
  /** "irqbalance": device interrupts (and irqbalance) kept on these CPUs, a CPU list */
  irqCpus: string | undefined;
  /** "cpu-governor" */
  governor: "performance" | undefined;
  /** "turbo-off" */
  turboOff: boolean;
  /** asked for, on the kernel command line: applied by components/dut/KernelCmdline.ts (grub + reboot) */
  needsReboot: TuningName[];
}

/**
 * CSIT's sysctl set for a host: DPDK maps every hugepage (max_map_count, 4 per page as CSIT
 * sizes it), shared memory as large as the hugepage pool, no swapping, the soft-lockup
 * watchdog only on housekeeping CPUs, no address-space randomisation (repeatable runs).
 */
export function sysctlSettings(host: Host): SysctlSetting[] {
  const poolBytes = BigInt(host.hugepages.count) * BigInt(HUGEPAGE_MIB[host.hugepages.size]) * 1048576n;
  return [
    { key: "vm.max_map_count", value: String(4 * host.hugepages.count), atLeast: true },
    { key: "kernel.shmmax", value: poolBytes.toString(), atLeast: true },
    { key: "vm.swappiness", value: "0", atLeast: false },
    { key: "kernel.watchdog_cpumask", value: formatCpuList(host.cpus.housekeeping), atLeast: false },
    { key: "kernel.randomize_va_space", value: "0", atLeast: false },
  ];
}

/** SYSCTL_SETTINGS for scripts/dut-sysctl.sh: one `key=value` or `key>=value` per line. */
export function sysctlScriptInput(settings: readonly SysctlSetting[]): string {
  return settings.map((s) => `${s.key}${s.atLeast ? ">=" : "="}${s.value}`).join("\n");
}

export function planTuning(host: Host, tuning: Tuning): TuningPlan {
  const wants = (t: TuningName): boolean => tuning.apply.includes(t);
  return {
    sysctl: wants("sysctl") ? sysctlSettings(host) : undefined,
    irqCpus: wants("irqbalance") ? formatCpuList(host.cpus.housekeeping) : undefined,
    governor: wants("cpu-governor") ? "performance" : undefined,
    turboOff: wants("turbo-off"),
    needsReboot: tuning.apply.filter((t) => CMDLINE_TUNINGS.includes(t)),
  };
}

/**
 * The DUT's kernel command line from the lab model (tunings "isolcpus" and "kernel-args"): what
 * scripts/dut-kernel-args.sh writes into the grub drop-in and scripts/kernel-reboot.sh checks in
 * /proc/cmdline after the reboot. Pure.
 */
import { formatCpuList, type Host, type Tuning } from "../lab";
import { difference } from "../lab/cpuset";

export interface KernelPlan {
  /** every argument, in order, no duplicates */
  args: string[];
  /** what /sys/devices/system/cpu/isolated must read after the reboot ("" = not checked) */
  isolated: string;
  /** the 1G hugepages are reserved on the command line (boot time) */
  hugepagesOnCmdline: boolean;
}

/** Every CPU but housekeeping: the CPUs isolcpus, nohz_full and rcu_nocbs get (CSIT's set). */
export function isolatedCpus(host: Host): number[] {
  const all = Array.from({ length: host.cpus.count }, (_, i) => i);
  return difference(all, host.cpus.housekeeping);
}

/**
 * The arguments of a host, or undefined when neither cmdline tuning is asked for. 1G hugepages
 * go on the command line with kernel-args (reserved at boot, before memory fragments: CSIT's
 * way); without kernel-args they are allocated per NUMA node at run time (dut-hugepages.sh).
 */
export function planKernelArgs(host: Host, tuning: Tuning): KernelPlan | undefined {
  const iso = tuning.apply.includes("isolcpus");
  const extra = tuning.apply.includes("kernel-args");
  if (!iso && !extra) return undefined;
  const args: string[] = [];
  let isolated = "";
  if (iso) {
    const cpus = isolatedCpus(host);
    if (cpus.length > 0) {
      isolated = formatCpuList(cpus);
      args.push(`isolcpus=${isolated}`, `nohz_full=${isolated}`, `rcu_nocbs=${isolated}`);
    }
  }
  const hugepagesOnCmdline = extra && tuning.apply.includes("hugepages") && host.hugepages.size === "1G";
  if (extra) {
    args.push(...tuning.kernelArgs);
    if (hugepagesOnCmdline)
      args.push("default_hugepagesz=1G", "hugepagesz=1G", `hugepages=${host.hugepages.count}`);
  }
  return { args: [...new Set(args)], isolated, hugepagesOnCmdline };
}

/** The words of `want` the command line lacks (whole words: "iommu=pt" is not "intel_iommu=pt"). */
export function missingArgs(cmdline: string, want: readonly string[]): string[] {
  const have = new Set(cmdline.trim().split(/\s+/));
  return want.filter((w) => !have.has(w));
}

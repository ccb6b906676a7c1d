/** Shared fixtures of the lib/qemu tests (not a test file itself). */
import type { VmSpec } from "./types";

/** The local lab's VM: TCG, 2 vCPUs, 2 GiB on 2M pages, two vhost-user NICs. */
export function localVm(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: "vm1",
    index: 1,
    qemuBinary: "/opt/vhost-perf-lab/qemu/7.2-patched/bin/qemu-system-x86_64",
    accel: "tcg",
    vcpus: 2,
    memoryMiB: 2048,
    hugepagesPath: "/dev/hugepages",
    diskImage: "/run/vhost-perf-lab/vm1/vm1-overlay.qcow2",
    mgmt: { sshHostPort: 10022 },
    vhostUser: [
      { socketPath: "/run/vhost-perf-lab/vhu-1-1.sock" },
      { socketPath: "/run/vhost-perf-lab/vhu-1-2.sock" },
    ],
    runDir: "/run/vhost-perf-lab/vm1",
    ...over,
  };
}

/** Values following each occurrence of `opt` in an argv. */
export function valuesOf(argv: readonly string[], opt: string): string[] {
  const out: string[] = [];
  for (let i = 1; i + 1 < argv.length; i++) if (argv[i] === opt) out.push(argv[i + 1] as string);
  return out;
}

/** Parse a QEMU option string "drv,a=1,b=x,,y" into its driver and key/value map (",," = ","). */
export function parseOpts(s: string): { head: string; props: Map<string, string> } {
  const parts = s.replace(/,,/g, "\u0001").split(",");
  const props = new Map<string, string>();
  let head = "";
  parts.forEach((p, i) => {
    const eq = p.indexOf("=");
    const restore = (x: string): string => x.split("\u0001").join(",");
    if (eq < 0) {
      if (i === 0) head = restore(p);
      else props.set(restore(p), "");
    } else props.set(restore(p.slice(0, eq)), restore(p.slice(eq + 1)));
  });
  return { head, props };
}

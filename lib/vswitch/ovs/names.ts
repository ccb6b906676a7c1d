/**
 * Names of an OVS-DPDK deployment on a host, from the stack and the component name. Pure.
 * Two stacks on one host never share a run dir, a DPDK file-prefix or a bridge (the netdev
 * bridge is a kernel tap of its name: at most 15 characters).
 */
import { createHash } from "node:crypto";

export interface OvsNames {
  /** DPDK --file-prefix and the run dir's last component */
  prefix: string;
  /** the lab's own OVS directory: db, sockets, pidfiles, logs */
  runDir: string;
  bridge: string;
}

export const OVS_RUN_ROOT = "/run/vhost-perf-lab";

export function ovsNames(stack: string, name: string): OvsNames {
  const prefix = `vpl-${stack}-${name}`;
  if (!/^[A-Za-z0-9_-]{1,48}$/.test(prefix)) {
    throw new Error(
      `OVS file-prefix "${prefix}" (from stack ${stack} and ${name}) is not [A-Za-z0-9_-]{1,48}`,
    );
  }
  const hash = createHash("sha256").update(`${stack}\0${name}`).digest("hex").slice(0, 8);
  return { prefix, runDir: `${OVS_RUN_ROOT}/${stack}/${prefix}`, bridge: `vplbr${hash}` };
}

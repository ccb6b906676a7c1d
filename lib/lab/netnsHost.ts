/**
 * A managed host living in a network namespace of the machine (the 2-node local lab's TG server):
 * its management cable, a veth pair whose namespace end carries the host's SSH address and whose
 * machine end the address below it, in one /30. Pure: names and addresses only.
 */
import type { Host } from "./types";

export interface MgmtCable {
  netns: string;
  /** the machine's end of the cable, e.g. "gen-m" */
  hostIf: string;
  /** the namespace's end */
  nsIf: string;
  /** "10.250.22.1/30" */
  hostCidr: string;
  /** "10.250.22.2/30": the host's SSH address */
  nsCidr: string;
}

/** The management cable of a host whose managed sshd runs in a netns; undefined for any other. */
export function mgmtCable(host: Host): MgmtCable | undefined {
  const netns = host.ssh.netns;
  if (!host.ssh.managed || netns === undefined) return undefined;
  const octets = host.ssh.host.split(".").map(Number);
  const last = octets[3];
  if (
    octets.length !== 4 ||
    last === undefined ||
    octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) ||
    last % 4 !== 2
  ) {
    throw new Error(
      `hosts ${host.name}: ssh.host ${host.ssh.host} is not the second address of a /30 (lab:check refuses it)`,
    );
  }
  const machine = [...octets.slice(0, 3), last - 1].join(".");
  return {
    netns,
    hostIf: `${netns}-m`,
    nsIf: "mgmt0",
    hostCidr: `${machine}/30`,
    nsCidr: `${host.ssh.host}/30`,
  };
}

/** TG_MGMT for scripts/tg-netns.sh. */
export function mgmtEnv(c: MgmtCable): string {
  return [c.hostIf, c.nsIf, c.hostCidr, c.nsCidr].join(",");
}

/** Helpers for the lab tests: find the repo (from build/ or a private outDir) and build configs. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The project root: the nearest ancestor (of this file, else of the cwd) holding lib/lab/testdata. */
export function repoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "lib", "lab", "testdata")))
        return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(`cannot find the project root (lib/lab/testdata) above ${__dirname} or ${process.cwd()}`);
}

export const HOST_KEY_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIy+Z28NLWjNYrlZ0iA92G+enycCRtIOXbkIsyiUwGHq";
export const HOST_KEY_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICI1vdMZnvEb1XMayBXo4h6hOflvuBbg1rj698UXbzQO";
export const QEMU_720_SHA256 = "5b49ce2687744dad494ae90a898c52204a3406e84d072482a1e1be854eeb2157";

/** A minimal valid local-profile config (namespace stripped). */
export function localConfig(): Record<string, unknown> {
  return {
    lab: { name: "t", profile: "local" },
    hosts: [
      {
        name: "local",
        roles: ["dut", "tg"],
        ssh: { host: "127.0.0.1", port: 2022, user: "root", managed: true },
        cpus: { count: 2, housekeeping: "0", vswitch: "1", vms: ["1"], tg: "0", shared: true },
        hugepages: { size: "2M", count: 1536 },
        nics: [
          { name: "port0", veth: { ifname: "sw0", peer: "gen0", netns: "gen" } },
          { name: "port1", veth: { ifname: "sw1", peer: "gen1", netns: "gen" } },
        ],
      },
    ],
  };
}

/** A minimal valid csit-profile config: one DUT, one TRex TG. */
export function csitConfig(): Record<string, unknown> {
  const ssh = (host: string, hostKey: string) => ({
    host,
    user: "testuser",
    privateKey: { file: "~/.ssh/k" },
    hostKey,
  });
  return {
    lab: { name: "t", profile: "csit" },
    hosts: [
      {
        name: "dut1",
        roles: ["dut"],
        ssh: ssh("192.0.2.11", HOST_KEY_1),
        cpus: { count: 8, housekeeping: "0", vswitch: "2", vms: ["3-5"] },
        hugepages: { size: "1G", count: 8 },
        nics: [
          { name: "port0", pci: "0000:18:00.0", model: "x710" },
          { name: "port1", pci: "0000:18:00.1", model: "x710" },
        ],
      },
      {
        name: "tg1",
        roles: ["tg"],
        ssh: ssh("192.0.2.12", HOST_KEY_2),
        cpus: { count: 8, housekeeping: "0", tg: "1-4" },
        hugepages: { size: "1G", count: 8 },
        nics: [
          { name: "port0", pci: "0000:3b:00.0", model: "x710" },
          { name: "port1", pci: "0000:3b:00.1", model: "x710" },
        ],
      },
    ],
    qemu: {
      version: "7.2.0",
      source: {
        kind: "tarball",
        url: "https://download.qemu.org/qemu-7.2.0.tar.xz",
        sha256: QEMU_720_SHA256,
      },
    },
  };
}

/** Real host keys of the other accepted types (ssh-keygen), one with a comment as .pub files carry. */
export const HOST_KEY_ECDSA256 =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOdchUF+ahhI97IqapDTzo2oi4s5zEQwzgJ2o+LHDywt9tkMgRoOxWezmKSW9h0lfIGMIZstkK+1RRUu4yGMexA= root@dut1";
export const HOST_KEY_ECDSA384 =
  "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHRnC2T28DVfcCDmqPhgSxM/ZmXp9s/hoeG/SlRsraUeYwYD7nrvaPkmZgQhFCczmVXunA4E969EJ3D8tq/Z+prlk60Gh++gNVrP8cfHYWs9hRiS36es+Y0HxMUIVGnkwQ==";
export const HOST_KEY_ECDSA521 =
  "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHthwUqETd0H8DdOiDwhCdHRxh/4+dJ1Rn3EALWUT9Csdv07HU8eGpsuUJVmWf6b2PKyHMIgp2fxuvsTuc40o6wvwFOsfM0AC8DUmGWEO9OnONRA209shRryPlJarnVFEN/PMMhfUZdkswCmEc+DlCbffySyeWFOyQF6ATjnSszQ5Dc/Q==";
export const HOST_KEY_RSA =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCfqXUUPsbOZUBEyPLkzPRTuDGWKVqB8Z/gnu/CJ+v5d2jppup34DELtGG4ozbZAiyJK8iFP/pxbumczVTa01EUOgoKu6Pz+tr+5CucgT7eZG3KSZKrhPqa1pmGrZ2XpEfRAWtLlef2MTT3QYvN07slkIUu1OR2X7D5LCa9qhqgGJ0/FNUC804Ro767CcszBFs3X7UzaxYrU7CCESjkS9fIDYas2xSvrg3aaEUzCaRWdb06JmxafXUZkYF3DugDhCeTJEyT5yBUqJOsT6sLC5ub/8ogwjd461vGFXY18iqJosUTEEPgfbaT62WE2AOPDJOAltZniF6WdiLBxL0euFtL rsa host";

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mgmtCable, mgmtEnv } from "./netnsHost";
import type { Host } from "./types";

const host = (ssh: Partial<Host["ssh"]>): Host =>
  ({
    name: "gen",
    roles: ["tg"],
    ssh: { host: "10.250.22.2", port: 22, user: "root", managed: true, netns: "gen", ...ssh },
  }) as unknown as Host;

test("mgmtCable: the machine takes the address below the host's in its /30", () => {
  const c = mgmtCable(host({}));
  assert.deepEqual(c, {
    netns: "gen",
    hostIf: "gen-m",
    nsIf: "mgmt0",
    hostCidr: "10.250.22.1/30",
    nsCidr: "10.250.22.2/30",
  });
  assert.equal(mgmtEnv(c!), "gen-m,mgmt0,10.250.22.1/30,10.250.22.2/30");
});

test("mgmtCable: none for a host without a netns; an address that is not .2 of a /30 is an error", () => {
  assert.equal(mgmtCable(host({ netns: undefined })), undefined);
  assert.equal(mgmtCable(host({ managed: false })), undefined);
  assert.throws(() => mgmtCable(host({ host: "10.250.22.1" })), /second address of a \/30/);
  assert.throws(() => mgmtCable(host({ host: "lab-tg" })), /second address of a \/30/);
});

test("mgmtCable: both ends in one /30, interface names fit Linux's 15 bytes (property)", () => {
  fc.assert(
    fc.property(
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(63)),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/),
      ([a, b, c, q], ns) => {
        const addr = `${a}.${b}.${c}.${q * 4 + 2}`;
        const cable = mgmtCable(host({ host: addr, netns: ns }))!;
        const hostIp = cable.hostCidr.split("/")[0]!.split(".").map(Number);
        assert.equal(Math.floor(hostIp[3]! / 4), q, "same /30");
        assert.equal(hostIp[3]! % 4, 1);
        assert.ok(cable.hostIf.length <= 15);
      },
    ),
  );
});

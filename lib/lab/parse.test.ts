import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { CSIT_KERNEL_ARGS } from "./defaults";
import { formatErrors, LabError } from "./errors";
import { parseLab, ParseResult } from "./parse";
import { Secret } from "./secret";
import { formatSummary } from "./summary";
import { csitConfig, HOST_KEY_1, HOST_KEY_ECDSA256, HOST_KEY_RSA, localConfig } from "./testutil";
import type { Lab } from "./types";

function ok(r: ParseResult): Lab {
  if (!r.ok) assert.fail(formatErrors(r.errors));
  return r.lab;
}

function errs(r: ParseResult): LabError[] {
  assert.equal(r.ok, false, "expected errors, the config was accepted");
  return r.ok ? [] : r.errors;
}

const paths = (r: ParseResult) => errs(r).map((e) => e.path);

describe("parseLab: defaults", () => {
  it("fills the local lab's own defaults (DESIGN.md §4)", () => {
    const lab = ok(parseLab(localConfig(), "Pulumi.local.yaml"));
    assert.equal(lab.profile, "local");
    assert.equal(lab.vswitch.kind, "testpmd");
    assert.equal(lab.vswitch.memoryMiB, 512);
    assert.equal(lab.tg.kind, "trafgen");
    assert.equal(lab.tg.host, "local");
    assert.deepEqual(lab.qemu.source, {
      kind: "debian",
      package: "qemu",
      suite: "bookworm",
      version: "1:7.2+dfsg-7+deb12u18",
    });
    assert.equal(lab.qemu.patchDir, "patches/qemu-7.2");
    assert.equal(lab.qemu.accel, "auto");
    assert.equal(lab.vms.vcpus, 2);
    assert.deepEqual(lab.matrix.frames, [64]);
    assert.deepEqual(lab.matrix.cfsPolicies, ["cfs", "cfsrr1"]);
    assert.deepEqual(lab.tuning.apply, ["hugepages", "sysctl", "irqbalance"]);
    const h = lab.hosts[0];
    assert.equal(h?.cpus.vswitchMain, 0, "testpmd's main lcore defaults to the housekeeping CPU");
    assert.deepEqual(h?.ssh.privateKey, { kind: "file", path: ".lab/sshd/id_ed25519" });
    assert.equal(h?.nics[0]?.mtu, 1500);
  });

  it("fills CSIT's defaults (DESIGN.md §3 and the seed)", () => {
    const lab = ok(parseLab(csitConfig(), "Pulumi.perf.yaml"));
    const m = lab.matrix;
    assert.deepEqual(m.vringSizes, [1024]);
    assert.deepEqual(m.cfsPolicies, ["cfs", "cfsrr1"]);
    assert.deepEqual(m.frames, [64, 1518, 9000, "imix"]);
    assert.deepEqual(m.tests, ["mrr", "ndrpdr"]);
    assert.deepEqual(m.mrr, { trialDurationS: 1, trials: 10 });
    assert.deepEqual(m.ndrpdr, {
      ndrLossRatio: 0,
      pdrLossRatio: 0.005,
      exceedRatio: 0.5,
      relativeWidth: 0.005,
      trialDurationS: 1,
      durationSumS: 21,
      timeLimitS: 1200,
      minLoadPps: 9001,
      maxLoadPps: undefined,
    });
    assert.equal(lab.vms.memoryMiB, 4096);
    assert.equal(lab.vms.vcpus, 3);
    assert.equal(lab.image.path, "/var/lib/vm/vhost-nested.img");
    assert.equal(lab.image.user.name, "cisco");
    assert.equal(lab.image.user.password.reveal(), "cisco");
    assert.deepEqual(lab.tuning.kernelArgs, CSIT_KERNEL_ARGS);
    assert.equal(lab.tuning.reboot.allowed, false, "a reboot is opt-in");
    assert.equal(lab.vswitch.kind, "vpp");
    assert.deepEqual(lab.vms.sockets, [["/run/vpp/sock-1-1", "/run/vpp/sock-1-2"]]);
    assert.equal(lab.qemu.prefix, "/opt/qemu-7.2.0");
    assert.equal(lab.qemu.accel, "kvm");
    assert.equal(lab.tg.kind, "trex");
    assert.equal(
      lab.tg.kind === "trex" && lab.tg.options.workers,
      2,
      "4 TG CPUs: master + latency + 2 workers",
    );
    assert.equal(lab.hosts[0]?.nics[0]?.kind === "pci" && lab.hosts[0].nics[0].speedGbps, 10);
  });

  it("normalizes CPU lists and PCI addresses", () => {
    const c = csitConfig();
    const dut = (c.hosts as Record<string, Record<string, unknown>>[])[0] as Record<
      string,
      Record<string, unknown>
    >;
    dut.cpus = { count: 8, housekeeping: 0, vswitch: [2], vms: ["5,3-4"] };
    (dut.nics as unknown as Record<string, unknown>[])[0] = { name: "port0", pci: "18:00.0", model: "x710" };
    const lab = ok(parseLab(c, "t"));
    assert.deepEqual(lab.hosts[0]?.cpus.housekeeping, [0]);
    assert.deepEqual(lab.hosts[0]?.cpus.vswitch, [2]);
    assert.deepEqual(lab.hosts[0]?.cpus.vms, [[3, 4, 5]]);
    assert.equal(lab.hosts[0]?.nics[0]?.kind === "pci" && lab.hosts[0].nics[0].pci, "0000:18:00.0");
  });
});

describe("parseLab: input forms", () => {
  it("takes keys with or without the namespace and ignores other namespaces", () => {
    const c = localConfig();
    const prefixed: Record<string, unknown> = { "aws:region": "x", "pulumi:template": "y" };
    for (const [k, v] of Object.entries(c)) prefixed[`vhost-perf-lab:${k}`] = v;
    assert.deepEqual(ok(parseLab(prefixed, "t")), ok(parseLab(c, "t")));
  });

  it("takes structured values as JSON text, as pulumi.runtime.allConfig() returns them", () => {
    const c = localConfig();
    const asText = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, JSON.stringify(v)]));
    assert.deepEqual(ok(parseLab(asText, "t")), ok(parseLab(c, "t")));
    assert.deepEqual(paths(parseLab({ ...c, matrix: "{not json" }, "t")), ["vhost-perf-lab:matrix"]);
  });

  it("accepts secrets as ciphertext or as decrypted text, and never prints them", () => {
    const c = csitConfig();
    const dut = (c.hosts as Record<string, Record<string, unknown>>[])[0] as Record<
      string,
      Record<string, unknown>
    >;
    dut.ssh = { ...dut.ssh, privateKey: { secure: "v1:Zm9v:YmFy" } };
    c.image = { user: { password: "pa55-w0rd-xyz" } };
    const lab = ok(parseLab(c, "t"));
    const key = lab.hosts[0]?.ssh.privateKey;
    assert.ok(key?.kind === "secret" && key.secret.encrypted);
    assert.deepEqual(lab.image.user.password, Secret.plain("pa55-w0rd-xyz"));
    for (const text of [formatSummary(lab), JSON.stringify(lab), inspect(lab, { depth: 10 })]) {
      assert.ok(!text.includes("pa55-w0rd-xyz"), "password printed");
      assert.ok(!text.includes("Zm9v"), "ciphertext printed");
    }
  });

  it("refuses plain-text secrets only when reading a stack file", () => {
    const c = localConfig();
    c.image = { user: { password: "plain" } };
    ok(parseLab(c, "pulumi config"));
    assert.deepEqual(paths(parseLab(c, "Pulumi.local.yaml", { requireEncryptedSecrets: true })), [
      "vhost-perf-lab:image.user.password",
    ]);
  });
});

describe("parseLab: error reporting", () => {
  it("reports every problem of a config at once, each with path, expected and found", () => {
    const c = csitConfig();
    c.vswitch = { kind: "vppp" };
    c.matrix = { vringSizes: [1000], frames: [] };
    c.vms = { vcpus: 1 };
    const e = errs(parseLab(c, "t"));
    assert.deepEqual(e.map((x) => x.path).sort(), [
      "vhost-perf-lab:matrix.frames",
      "vhost-perf-lab:matrix.vringSizes[0]",
      "vhost-perf-lab:vms.vcpus",
      "vhost-perf-lab:vswitch.kind",
    ]);
    const kind = e.find((x) => x.path.endsWith("vswitch.kind"));
    assert.equal(kind?.found, '"vppp"');
    assert.equal(kind?.hint, 'did you mean "vpp"?');
    const text = formatErrors(e, { source: "x.yaml" });
    assert.match(text, /^x\.yaml: 4 errors in the lab config/);
    assert.match(text, /expected: a power of two from 256 to 1024/);
  });

  it("never throws on garbage", () => {
    for (const bad of [null, undefined, 42, "text", [], [1, 2], { hosts: null }, { hosts: [null, 3, "x"] }]) {
      const r = parseLab(bad as Record<string, unknown>, "t");
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.errors.every((e) => e.path.startsWith("vhost-perf-lab")));
    }
  });

  it("refuses a missing config key with the way to fix it", () => {
    const c = csitConfig();
    delete (c.qemu as Record<string, unknown>).source;
    const e = errs(parseLab(c, "t"));
    assert.equal(e.length, 1);
    assert.equal(e[0]?.path, "vhost-perf-lab:qemu.source");
    assert.equal(e[0]?.found, "nothing (the key is missing)");
    assert.match(e[0]?.hint ?? "", /kind: tarball/);
  });
});

describe("parseLab: the CPU plan and cfsrr1", () => {
  const withCpus = (cpus: Record<string, unknown>, matrix?: Record<string, unknown>) => {
    const c = localConfig();
    const h = (c.hosts as Record<string, unknown>[])[0] as Record<string, unknown>;
    h.cpus = { count: 2, housekeeping: "0", tg: "0", shared: true, ...cpus };
    if (matrix) c.matrix = matrix;
    return parseLab(c, "t");
  };

  it("allows the local plan: RR pollers share CPU 1, CPU 0 keeps the control path", () => {
    ok(withCpus({ vswitch: "1", vms: ["1"] }));
  });

  it("refuses vCPUs on the housekeeping CPU under cfsrr1, with the reason", () => {
    const e = errs(withCpus({ vswitch: "1", vms: ["0-1"] }));
    assert.equal(e.length, 1);
    assert.equal(e[0]?.path, "vhost-perf-lab:hosts[0].cpus.vms[0]");
    assert.match(e[0]?.found ?? "", /no housekeeping CPU is left/);
    assert.match(e[0]?.hint ?? "", /SCHED_RR busy pollers on every core starve the machine/);
  });

  it("allows the same sharing when the matrix has no cfsrr1 (plain CFS time-shares)", () => {
    ok(withCpus({ vswitch: "1", vms: ["0-1"] }, { cfsPolicies: ["cfs"] }));
  });

  it("refuses shared roles unless cpus.shared is set", () => {
    const e = errs(withCpus({ vswitch: "1", vms: ["1"], shared: false }));
    assert.deepEqual(e.map((x) => x.path).sort(), [
      "vhost-perf-lab:hosts[0].cpus.tg",
      "vhost-perf-lab:hosts[0].cpus.vms[0]",
      "vhost-perf-lab:hosts[0].cpus.vms[0]",
    ]);
  });
});

describe("parseLab: the stack name and the socket paths", () => {
  it("puts the local lab's sockets into the stack's run dir ({stack} in the default template)", () => {
    const lab = ok(parseLab(localConfig(), "pulumi config", { stack: "local" }));
    assert.equal(lab.stack, "local");
    assert.equal(lab.vms.socketTemplate, "/run/vhost-perf-lab/{stack}/vhu-{vm}-{n}.sock");
    assert.deepEqual(lab.vms.sockets, [
      ["/run/vhost-perf-lab/local/vhu-1-1.sock", "/run/vhost-perf-lab/local/vhu-1-2.sock"],
    ]);
  });

  it("takes the stack from the caller, else from Pulumi.<stack>.yaml, else dev", () => {
    assert.equal(ok(parseLab(localConfig(), "Pulumi.local.yaml", { stack: "ci-7" })).stack, "ci-7");
    assert.equal(ok(parseLab(localConfig(), "/x/Pulumi.lab2.yaml")).stack, "lab2");
    assert.equal(ok(parseLab(localConfig(), "t")).stack, "dev");
  });

  it("refuses a stack name that cannot name a directory and a DPDK prefix", () => {
    for (const stack of ["Perf", "my_lab", "-x", "a".repeat(32)]) {
      const e = errs(parseLab(localConfig(), "t", { stack }));
      assert.deepEqual(
        e.map((x) => x.path),
        ["vhost-perf-lab"],
        stack,
      );
      assert.match(e[0]?.hint ?? "", /pulumi stack rename/);
    }
    assert.deepEqual(paths(parseLab(localConfig(), "Pulumi.Big.yaml")), ["vhost-perf-lab"]);
  });

  it("resolves {stack} in a template and in its checks (length, shared run dir)", () => {
    const c = localConfig();
    c.vms = { socketTemplate: "/run/vhost-perf-lab/{stack}/s{vm}-{n}" };
    const lab = ok(parseLab(c, "t", { stack: "abc" }));
    assert.deepEqual(lab.vms.sockets[0], ["/run/vhost-perf-lab/abc/s1-1", "/run/vhost-perf-lab/abc/s1-2"]);
    c.vms = { socketTemplate: `/run/vhost-perf-lab/{stack}/${"d".repeat(60)}/s{vm}-{n}` };
    assert.deepEqual(paths(parseLab(c, "t", { stack: "a".repeat(31) })), [
      "vhost-perf-lab:vms.socketTemplate",
    ]);
    c.vms = { socketTemplate: "/run/vhost-perf-lab/vhu-{vm}-{n}.sock" };
    const shared = errs(parseLab(c, "t"));
    assert.equal(shared[0]?.hint, "write /run/vhost-perf-lab/{stack}/vhu-{vm}-{n}.sock");
    c.vms = { socketTemplate: "/run/vhost-perf-lab/vhu-{vm},{n}.sock" };
    assert.match(errs(parseLab(c, "t"))[0]?.hint ?? "", /without commas/);
  });

  it("refuses a comma in the template at check time (QEMU's option separator)", () => {
    const c = localConfig();
    c.vms = { socketTemplate: "/run/vhost-perf-lab/{stack}/vhu-{vm}-{n}.sock,server=off" };
    const e = errs(parseLab(c, "t"));
    assert.deepEqual(
      e.map((x) => x.path),
      ["vhost-perf-lab:vms.socketTemplate"],
    );
    assert.match(e[0]?.found ?? "", /a comma/);
  });

  it("checks every host path: image, QEMU prefix, TRex dir, explicit sockets", () => {
    const c = csitConfig();
    c.image = { path: "/etc/shadow" };
    (c.qemu as Record<string, unknown>).prefix = "/usr";
    c.tg = { kind: "trex", options: { installDir: "/opt/trex,x" } };
    c.vms = { sockets: [["/run/vpp/a.sock", "/run/vpp/../b.sock"]] };
    assert.deepEqual(paths(parseLab(c, "t")).sort(), [
      "vhost-perf-lab:image.path",
      "vhost-perf-lab:qemu.prefix",
      "vhost-perf-lab:tg.options.installDir",
      "vhost-perf-lab:vms.sockets[0][1]",
    ]);
  });
});

describe("parseLab: host keys", () => {
  const withHostKey = (hostKey: unknown) => {
    const c = csitConfig();
    const h = (c.hosts as Record<string, Record<string, unknown>>[])[0] as Record<
      string,
      Record<string, unknown>
    >;
    h.ssh = { ...h.ssh, hostKey };
    return parseLab(c, "t");
  };

  it("keeps the key line normalized to '<type> <base64>' for the connection", () => {
    const hk = (r: ParseResult) => ok(r).hosts[0]?.ssh.hostKey;
    assert.deepEqual(hk(withHostKey(`${HOST_KEY_1} root@dut1`)), { kind: "key", key: HOST_KEY_1 });
    assert.deepEqual(hk(withHostKey(HOST_KEY_ECDSA256)), {
      kind: "key",
      key: HOST_KEY_ECDSA256.split(" ").slice(0, 2).join(" "),
    });
    assert.equal((hk(withHostKey(HOST_KEY_RSA)) as { key: string }).key.startsWith("ssh-rsa AAAA"), true);
    assert.deepEqual(hk(withHostKey({ file: "keys/dut1.pub" })), { kind: "file", path: "keys/dut1.pub" });
  });

  it("refuses fingerprints, known_hosts lines and empty keys, each with the ssh-keyscan | cut fix", () => {
    for (const [v, why] of [
      ["SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", /fingerprint/],
      [`192.0.2.11 ${HOST_KEY_1}`, /known_hosts line/],
      ["", /no host key/],
      [42, /^42$/],
    ] as const) {
      const e = errs(withHostKey(v));
      assert.deepEqual(
        e.map((x) => x.path),
        ["vhost-perf-lab:hosts[0].ssh.hostKey"],
        String(v),
      );
      assert.match(e[0]?.found ?? "", why);
      assert.match(e[0]?.hint ?? "", /ssh-keyscan -t ed25519 -p 22 192\.0\.2\.11 \| cut -d' ' -f2-/);
    }
  });
});

describe("parseLab: the 2-node local lab (a TG host in a netns)", () => {
  const twoNode = (tgSsh: Record<string, unknown>): Record<string, unknown> => {
    const c = localConfig();
    const hosts = c["hosts"] as Record<string, unknown>[];
    const dut = hosts[0]!;
    dut["roles"] = ["dut"];
    delete (dut["cpus"] as Record<string, unknown>)["tg"];
    hosts.push({
      name: "gen",
      roles: ["tg"],
      ssh: { host: "10.250.22.2", port: 22, user: "root", managed: true, netns: "gen", ...tgSsh },
      cpus: { count: 2, housekeeping: "0", tg: "0", shared: true },
      hugepages: { size: "2M", count: 0 },
    });
    c["tg"] = { kind: "trafgen", host: "gen" };
    return c;
  };

  it("accepts a managed TG host in the netns of the DUT's veth peers", () => {
    const lab = ok(parseLab(twoNode({}), "Pulumi.local.yaml"));
    assert.equal(lab.hosts[1]?.ssh.netns, "gen");
    assert.match(formatSummary(lab), /managed sshd in netns gen/);
  });

  it("refuses netns without managed, a host address that is not .2 of a /30, a netns without the peers", () => {
    assert.deepEqual(paths(parseLab(twoNode({ managed: false }), "p.yaml")), [
      "vhost-perf-lab:hosts[1].ssh.netns",
      "vhost-perf-lab:hosts[1].ssh.privateKey",
      "vhost-perf-lab:hosts[1].ssh.hostKey",
    ]);
    const addr = errs(parseLab(twoNode({ host: "10.250.22.1" }), "p.yaml"));
    assert.equal(addr[0]?.path, "vhost-perf-lab:hosts[1].ssh.host");
    assert.match(addr[0]?.found ?? "", /second address of a \/30/);
    const elsewhere = errs(parseLab(twoNode({ netns: "other" }), "p.yaml"));
    assert.equal(elsewhere[0]?.path, "vhost-perf-lab:tg.host");
    assert.match(elsewhere[0]?.hint ?? "", /hosts\[1\]\.ssh\.netns/);
  });
});

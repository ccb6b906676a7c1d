import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { expandMatrix, loadStackFile, parseLab, Secret, type Lab } from "../lab";
import { parsePlan, testName } from "../bench/plan";
import { benchPlan, PlanBuildError, type DeployedDut } from "./benchPlan";
import { repoRoot } from "../../tests/support/repo";

function localLab(file = "Pulumi.local.yaml"): Lab {
  const loaded = loadStackFile(path.join(repoRoot(), file));
  assert.deepEqual(loaded.errors, []);
  const r = parseLab(loaded.config, file);
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.lab;
}

/** A well-formed ed25519 public key line (type + 32-byte key in SSH wire format). */
const HOST_KEY = `ssh-ed25519 ${Buffer.concat([
  Buffer.from([0, 0, 0, 11]),
  Buffer.from("ssh-ed25519"),
  Buffer.from([0, 0, 0, 32]),
  Buffer.alloc(32, 7),
]).toString("base64")}`;

function deployed(lab: Lab): DeployedDut {
  return {
    stack: "local",
    host: lab.hosts[0]!,
    ssh: {
      host: "127.0.0.1",
      port: 2022,
      user: "root",
      privateKey: "KEY",
      hostKey: HOST_KEY,
    },
    vswitchPid: 100,
    vswitchBench: {
      workerThreadPattern: "^rte-worker-",
      counters: { kind: "dpdk-telemetry", prefix: "vpl-local-vswitch" },
    },
    vmPids: [200],
    tg: {
      netns: "",
      txIf: "gen0",
      rxIf: "gen1",
      directions: 2,
      host: {
        name: "gen",
        ssh: { host: "10.250.22.2", port: 22, user: "root", privateKey: "TGKEY", hostKey: HOST_KEY },
      },
    },
  };
}

test("benchPlan: the local lab gives a plan the runner accepts", () => {
  const lab = localLab();
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, deployed(lab)))));
  assert.equal(
    plan.cells.length,
    lab.matrix.frames.length * lab.matrix.vringSizes.length * lab.matrix.cfsPolicies.length,
  );
  assert.deepEqual(plan.dut.housekeepingCpus, lab.hosts[0]!.cpus.housekeeping);
  assert.equal(plan.dut.vms[0]?.pid, 200);
  assert.equal(plan.mrr.trials, lab.matrix.mrr.trials);
  assert.ok(plan.ndrpdr.maxLoadPps > plan.ndrpdr.minLoadPps);
});

test("benchPlan: the 2-node local lab's TG runs over its own host's connection, both directions", () => {
  const lab = localLab();
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, deployed(lab)))));
  assert.equal(plan.tg.kind, "trafgen");
  if (plan.tg.kind !== "trafgen") return;
  assert.equal(plan.tg.host, "gen");
  assert.equal(plan.tg.netns, "", "its session is in the netns already");
  assert.equal(plan.tg.directions, 2);
  const tgConn = plan.hosts["gen"];
  assert.ok(tgConn?.transport === "ssh" && tgConn.host === "10.250.22.2" && tgConn.privateKey === "TGKEY");
  assert.ok(plan.hosts["local"]?.transport === "ssh" && plan.hosts["local"].port === 2022);
});

test("benchPlan: the runner's test names are the lab model's test names", () => {
  const lab = localLab();
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, deployed(lab)))));
  const runnerNames = plan.cells.flatMap((c) => c.tests.map((t) => testName(c, t, plan.naming))).sort();
  const labNames = expandMatrix(lab)
    .map((c) => c.name)
    .sort();
  assert.deepEqual(runnerNames, labNames);
});

test("benchPlan: a TRex lab gives a TRex plan over the TG server's RPC port, latency on", () => {
  const lab = localLab();
  const trex: Lab = {
    ...lab,
    tg: {
      kind: "trex",
      host: "tg1",
      options: { version: "3.03", installDir: "/opt/trex", limitMemoryMiB: 1024, mbufFactor: 32, workers: 1 },
    },
  };
  // a trafgen deployment under a TRex lab is a program error, named
  assert.throws(
    () => benchPlan(trex, deployed(lab)),
    (e: unknown) => e instanceof PlanBuildError && /vhost-perf-lab:tg\.kind trex/.test(e.message),
  );
  const tgSsh = { host: "192.0.2.20", port: 22, user: "root", privateKey: "TGKEY", hostKey: HOST_KEY };
  const plan = parsePlan(
    JSON.parse(
      JSON.stringify(
        benchPlan(trex, {
          ...deployed(lab),
          tg: { kind: "trex", host: { name: "tg1", ssh: tgSsh }, rpcHost: "192.0.2.20", rpcPort: 4501 },
        }),
      ),
    ),
  );
  assert.equal(plan.tg.kind, "trex");
  assert.ok(plan.tg.kind === "trex");
  assert.equal(plan.tg.host, "tg1");
  assert.equal(plan.tg.rpcHost, "192.0.2.20");
  assert.deepEqual(plan.tg.latency?.fractions, [0.1, 0.5, 0.9]);
  assert.equal(plan.hosts.tg1?.transport, "ssh");
});

test("benchPlan: the private key stays out of what the plan prints", () => {
  const lab = localLab();
  assert.ok(Secret.plain("x").toString().includes("secret"));
  const plan = benchPlan(lab, deployed(lab));
  assert.equal(JSON.stringify(plan.facts).includes("KEY"), false);
});

test("benchPlan: the stack goes into the plan (per-stack paths on the host); a bad one is refused", () => {
  const lab = localLab();
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, { ...deployed(lab), stack: "lab-2" }))));
  assert.equal(plan.stack, "lab-2");
  assert.equal(JSON.stringify(plan).includes("/run/vhost-perf-lab/trafgen"), false, "no global trafgen dir");
  assert.throws(
    () => benchPlan(lab, { ...deployed(lab), stack: "Lab/2" }),
    (e: unknown) => e instanceof PlanBuildError && /stack name/.test(e.message),
  );
});

test("benchPlan: a host key that is missing, a fingerprint or a known_hosts line is refused with the fix", () => {
  const lab = localLab();
  for (const [hostKey, why] of [
    ["", /no host key/],
    ["SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", /fingerprint/],
    [`[127.0.0.1]:2022 ${HOST_KEY}`, /known_hosts/],
  ] as const) {
    const d = deployed(lab);
    assert.throws(
      () => benchPlan(lab, { ...d, ssh: { ...d.ssh, hostKey } }),
      (e: unknown) =>
        e instanceof PlanBuildError &&
        why.test(e.message) &&
        /ssh-keyscan -t ed25519 -p 2022 127\.0\.0\.1/.test(e.message),
    );
  }
});

test("benchPlan: the 2-VM chain (Pulumi.local-chain.yaml): a thread selector per VM, CSIT's 4vhost-2vm names", () => {
  const lab = localLab("Pulumi.local-chain.yaml");
  const d = { ...deployed(lab), stack: "local-chain", vmPids: [200, 300] };
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, d))));
  // cfsrr1 makes every VM's vCPU threads SCHED_RR: one selector per QEMU, on the plan's CPUs
  assert.deepEqual(
    plan.dut.vms.map((v) => [v.label, v.pid]),
    [
      ["vm1", 200],
      ["vm2", 300],
    ],
  );
  const runnerNames = plan.cells.flatMap((c) => c.tests.map((t) => testName(c, t, plan.naming))).sort();
  assert.deepEqual(
    runnerNames,
    expandMatrix(lab)
      .map((c) => c.name)
      .sort(),
  );
  assert.deepEqual(runnerNames, [
    "64b-1c-eth-l2xcbase-eth-4vhostvr1024-2vm-cfsrr1-mrr",
    "64b-1c-eth-l2xcbase-eth-4vhostvr1024-2vm-cfsrr1-ndrpdr",
    "64b-1c-eth-l2xcbase-eth-4vhostvr1024-2vm-mrr",
    "64b-1c-eth-l2xcbase-eth-4vhostvr1024-2vm-ndrpdr",
  ]);
});

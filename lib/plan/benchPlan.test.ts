import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { expandMatrix, loadStackFile, parseLab, Secret, type Lab } from "../lab";
import { parsePlan, testName } from "../bench/plan";
import { benchPlan, PlanBuildError, type DeployedDut } from "./benchPlan";
import { repoRoot } from "../../tests/support/repo";

function localLab(): Lab {
  const loaded = loadStackFile(path.join(repoRoot(), "Pulumi.local.yaml"));
  assert.deepEqual(loaded.errors, []);
  const r = parseLab(loaded.config, "Pulumi.local.yaml");
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.lab;
}

function deployed(lab: Lab): DeployedDut {
  return {
    host: lab.hosts[0]!,
    ssh: {
      host: "127.0.0.1",
      port: 2022,
      user: "root",
      privateKey: "KEY",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
    },
    vswitchPid: 100,
    vswitchPrefix: "vpl-local-vswitch",
    vmPids: [200],
    tg: { netns: "gen", txIf: "gen0", rxIf: "gen1" },
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

test("benchPlan: the runner's test names are the lab model's test names", () => {
  const lab = localLab();
  const plan = parsePlan(JSON.parse(JSON.stringify(benchPlan(lab, deployed(lab)))));
  const runnerNames = plan.cells.flatMap((c) => c.tests.map((t) => testName(c, t, plan.naming))).sort();
  const labNames = expandMatrix(lab)
    .map((c) => c.name)
    .sort();
  assert.deepEqual(runnerNames, labNames);
});

test("benchPlan: a TRex lab is refused with the config path", () => {
  const lab = localLab();
  const trex: Lab = {
    ...lab,
    tg: {
      kind: "trex",
      host: "tg1",
      options: { version: "3.03", installDir: "/opt/trex", limitMemoryMiB: 1024, mbufFactor: 32, workers: 1 },
    },
  };
  assert.throws(
    () => benchPlan(trex, deployed(lab)),
    (e: unknown) => e instanceof PlanBuildError && /vhost-perf-lab:tg\.kind/.test(e.message),
  );
});

test("benchPlan: the private key stays out of what the plan prints", () => {
  const lab = localLab();
  assert.ok(Secret.plain("x").toString().includes("secret"));
  const plan = benchPlan(lab, deployed(lab));
  assert.equal(JSON.stringify(plan.facts).includes("KEY"), false);
});

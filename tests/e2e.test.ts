// End to end on this machine, for real: `pulumi up --stack local` (the README's main job) brings
// the whole chain up and measures, a second `up` changes nothing, and `pulumi destroy` leaves
// the machine exactly as it was (processes, RT threads, sockets, netns, veths, hugepages,
// mounts, lab files).
//
// Runs when VPL_E2E=1 (scripts/test.sh, i.e. `npm test` and CI, sets it unless VPL_E2E=0). The
// same checks run per stack, one after the other: `local` (testpmd), `local-ovs` (OVS-DPDK),
// `local-jumbo` (testpmd, veth MTU 9000, frames up to 9000 B, each checked to arrive whole),
// `local-chain` (testpmd, two VMs chained: both directions must cross both VMs),
// `local-libvirt` (testpmd, the VM as a libvirt domain) and
// `local-vring` (two vring sizes, the VM switched between them, each cell's size proven);
// VPL_E2E_STACKS=local (a comma list) runs fewer. Each uses its stack of the file backend and
// refuses to touch one that already has resources. local-ovs/-chain skip the second, idempotent `up`
// (the `local` run covers that machinery) to keep CI short.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { repoRoot } from "./support/repo";
import { snapshot } from "./support/machineState";

const enabled = process.env["VPL_E2E"] === "1";

const envVars = {
  PULUMI_CONFIG_PASSPHRASE_FILE:
    process.env["PULUMI_CONFIG_PASSPHRASE_FILE"] ?? path.join(os.homedir(), ".vhost-perf-lab", "passphrase"),
  PULUMI_NODEJS_TRANSPILE_ONLY: "true",
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
};

/**
 * The local stacks the e2e runs: the vswitch kind and the TG host's name differ. policies: the
 * CFS policies of its matrix (each must have an MRR cell). wholeFrames: every MRR cell's frames
 * must arrive whole (the TG's rx bytes per packet = frame - FCS, IMIX: its mean).
 */
interface E2eStack {
  stack: string;
  tgHost: string;
  vswitch: string;
  secondUp: boolean;
  policies: string[];
  wholeFrames: boolean;
  /** VMs per DUT: with testpmd, every port of the chain (af0, vhost0.., af1) must carry traffic */
  vms: number;
  /** several vring sizes in the matrix: each must have cells, each cell its negotiated size proven */
  vringSizes?: number[];
}
const STACKS: E2eStack[] = [
  {
    stack: "local",
    tgHost: "gen",
    vswitch: "testpmd",
    secondUp: true,
    policies: ["cfs", "cfsrr1"],
    wholeFrames: false,
    vms: 1,
  },
  {
    stack: "local-ovs",
    tgHost: "genovs",
    vswitch: "ovs-dpdk",
    secondUp: false,
    policies: ["cfs", "cfsrr1"],
    wholeFrames: false,
    vms: 1,
  },
  // 1518 B, IMIX and 9000 B frames through veths of MTU 9000 (issue 14)
  {
    stack: "local-jumbo",
    tgHost: "genjumbo",
    vswitch: "testpmd",
    secondUp: false,
    policies: ["cfs"],
    wholeFrames: true,
    vms: 1,
  },
  // two VMs in a chain (Pulumi.local-chain.yaml): both directions must cross VM1 and VM2
  {
    stack: "local-chain",
    tgHost: "genchain",
    vswitch: "testpmd",
    secondUp: false,
    policies: ["cfs", "cfsrr1"],
    wholeFrames: false,
    vms: 2,
  },
  // two vring sizes: the runner switches the VM between them; the second up shows the VM is back
  // at the deployed size and owned by its step (drift probe)
  {
    stack: "local-vring",
    tgHost: "genvring",
    vswitch: "testpmd",
    secondUp: true,
    policies: ["cfs", "cfsrr1"],
    wholeFrames: false,
    vms: 1,
    vringSizes: [1024, 256],
  },
  // the VM as a libvirt domain (vms.backend: libvirt); cfs only (see Pulumi.local-libvirt.yaml)
  {
    stack: "local-libvirt",
    tgHost: "genvirt",
    vswitch: "testpmd",
    secondUp: false,
    policies: ["cfs"],
    wholeFrames: false,
    vms: 1,
  },
];
const wanted = (process.env["VPL_E2E_STACKS"] ?? STACKS.map((s) => s.stack).join(",")).split(",");

for (const s of STACKS.filter((s) => wanted.includes(s.stack))) {
  test(
    `e2e ${s.stack} (${s.vswitch}${s.vringSizes ? `, vring ${s.vringSizes.join("+")}` : ""}): up, outputs, ${s.wholeFrames ? "whole frames, " : ""}${s.secondUp ? "idempotent up, " : ""}destroy leaves the machine clean`,
    { skip: !enabled && "set VPL_E2E=1 to run the local lab end to end (needs root, ~10-20 min)" },
    () => e2e(s),
  );
}

/** Several vring sizes: cells of every size, each with the runner's proof of what was negotiated. */
function checkVrings(
  sizes: number[],
  results: {
    name?: string;
    vringSize: number;
    vring?: { asked: number; ok: boolean; problems: string[]; negotiated: unknown };
  }[],
): void {
  for (const size of sizes)
    assert.ok(
      results.some((c) => c.vringSize === size),
      `no cell with vring size ${size}`,
    );
  for (const c of results) {
    assert.ok(c.vring, `${c.name}: no vring proof`);
    assert.equal(c.vring.asked, c.vringSize, `${c.name}: proof for another size`);
    assert.ok(c.vring.ok, `${c.name}: ${c.vring.problems.join("; ")}`);
    const rx = JSON.stringify(c.vring.negotiated).match(/"rx":(\d+)/g) ?? [];
    assert.ok(rx.length >= 2, `${c.name}: no device in the proof`);
    for (const r of rx) assert.equal(r, `"rx":${c.vringSize}`, `${c.name}: negotiated ${r}`);
  }
}

/** Bytes a frame's packets carry on a Linux port (no FCS): mean over the IMIX_v4_1 mix. */
function expectedRxBytes(frameBytes: number | "IMIX_v4_1"): number {
  return (frameBytes === "IMIX_v4_1" ? (28 * 64 + 16 * 570 + 4 * 1518) / 48 : frameBytes) - 4;
}

/** testpmd stacks: the VM count whose chain's per-port counters are checked */
async function e2e({
  stack: stackName,
  tgHost,
  secondUp,
  policies,
  wholeFrames,
  vringSizes,
  vswitch,
  vms,
}: E2eStack): Promise<void> {
  const testpmdVms = vswitch === "testpmd" ? vms : undefined;
  {
    const stack = await LocalWorkspace.selectStack(
      { stackName, workDir: repoRoot() },
      {
        envVars,
      },
    );
    const existing = ((await stack.exportStack()).deployment as { resources?: unknown[] }).resources ?? [];
    assert.equal(
      existing.length,
      0,
      `the ${stackName} stack already has resources: run \`pulumi destroy --stack ${stackName}\` first`,
    );

    const before = snapshot();
    // Pulumi writes the stack's encryptionsalt into the tracked Pulumi.local.yaml (and
    // reformats it); a test run leaves the working tree as it found it.
    const stackFile = path.join(repoRoot(), `Pulumi.${stackName}.yaml`);
    const stackFileText = fs.readFileSync(stackFile, "utf8");
    let printed = "";
    let t0 = Date.now();
    const log = (line: string): void => {
      printed += line;
      process.stderr.write(line);
    };
    try {
      t0 = Date.now();
      const up = await stack.up({ onOutput: log });
      const firstUpS = (Date.now() - t0) / 1000;
      assert.equal(up.summary.result, "succeeded");
      // The lab sshd's client key reaches the program as a secret: never in state or output.
      // the DUT's and the TG host's own keys
      const keyBody = ["sshd", `sshd-${tgHost}`]
        .map((d) => path.join(os.homedir(), ".vhost-perf-lab", "stacks", stackName, d, "client_ed25519"))
        .map((keyFile) =>
          fs
            .readFileSync(keyFile, "utf8")
            .split("\n")
            .filter((line) => line.length > 0 && !line.startsWith("-----"))
            .join("")
            // every OpenSSH ed25519 key body starts with the same 128 characters
            .slice(128),
        )
        .join("");
      const keyFile = "the lab's client keys";
      assert.ok(keyBody.length > 100, `${keyFile} does not hold a private key`);
      // `pulumi stack export` as stored (the Automation API's exportStack decrypts secrets).
      const exported = spawnSync("pulumi", ["stack", "export", "--stack", stackName], {
        cwd: repoRoot(),
        env: { ...process.env, ...envVars },
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
      });
      assert.equal(exported.status, 0, `pulumi stack export failed: ${exported.stderr}`);
      const state = exported.stdout;
      assert.match(state, /"ciphertext"/, "the exported state holds no secret at all");
      for (let at = 0; at + 32 <= keyBody.length; at += 32) {
        const piece = keyBody.slice(at, at + 32);
        assert.ok(!state.includes(piece), "a piece of the private key is in the stack state in plain text");
        assert.ok(!printed.includes(piece), "a piece of the private key was printed by `pulumi up`");
      }
      const outputs = up.outputs;
      // the figures, for the README (VPL_E2E_RESULTS_DIR=<dir>: <stack>-results.json)
      const resultsDir = process.env["VPL_E2E_RESULTS_DIR"];
      if (resultsDir) {
        fs.writeFileSync(
          path.join(resultsDir, `${stackName}-results.json`),
          JSON.stringify(
            { results: outputs["results"]?.value, throughput: outputs["throughput"]?.value },
            null,
            2,
          ),
        );
      }
      const hosts = outputs["hosts"]?.value as {
        qemu: { version: string };
        tuning: { tuning: string; settings?: { key: string; value: string }[]; cpus?: string }[];
      }[];
      assert.match(hosts[0]?.qemu.version ?? "", /QEMU emulator version 7\.2/);
      // the runtime tunings of Pulumi.local.yaml took effect while the lab is up
      const tuning = hosts[0]?.tuning ?? [];
      const sysctl = tuning.find((t) => t.tuning === "sysctl");
      assert.equal(sysctl?.settings?.find((s) => s.key === "vm.swappiness")?.value, "0");
      assert.equal(fs.readFileSync("/proc/sys/vm/swappiness", "utf8").trim(), "0");
      assert.equal(tuning.find((t) => t.tuning === "irqbalance")?.cpus, "0");
      const results = outputs["results"]?.value as {
        name?: string;
        vringSize: number;
        vring?: { asked: number; ok: boolean; problems: string[]; negotiated: unknown };
        policy: string;
        directions: number;
        frameBytes: number | "IMIX_v4_1";
        vswitchPorts?: { id: number; name: string; rx: number; tx: number }[];
        mrr?: {
          testName: string;
          trials: {
            received: number;
            directions?: { txPort: number; received: number; meanRxBytes?: number }[];
          }[];
        };
      }[];
      if (wholeFrames) {
        // every frame size came back whole in both directions: bytes per received packet on the
        // TG's rx port = the frame less its FCS (1 % slack: a stray IPv6 control packet)
        for (const cell of results) {
          assert.ok(cell.mrr, `no MRR in a ${cell.frameBytes} cell`);
          const want = expectedRxBytes(cell.frameBytes);
          const seen = cell.mrr.trials.flatMap((t) => t.directions ?? []).filter((d) => d.received > 0);
          assert.ok(seen.length >= 2, `${cell.mrr.testName}: nothing received`);
          for (const d of seen) {
            assert.ok(
              d.meanRxBytes !== undefined && Math.abs(d.meanRxBytes - want) <= want * 0.01,
              `${cell.mrr.testName} direction ${d.txPort}: ${d.meanRxBytes} B per received packet, want ${want.toFixed(2)}`,
            );
          }
        }
        const frames = results.map((c) => c.frameBytes);
        assert.ok(frames.includes(9000), `no 9000 B cell in ${JSON.stringify(frames)}`);
      }
      for (const policy of policies) {
        const cell = results.find((c) => c.policy === policy);
        assert.ok(cell?.mrr, `no ${policy} MRR cell in the results`);
        assert.ok(
          cell.mrr.trials.some((t) => t.received > 0),
          `${cell.mrr.testName}: nothing received`,
        );
        // the 2-node local lab: the TG host sends both ways at once, counted per direction
        assert.equal(cell.directions, 2, `${cell.mrr.testName}: not bidirectional`);
        for (const d of [0, 1]) {
          assert.ok(
            cell.mrr.trials.some((t) => (t.directions?.find((x) => x.txPort === d)?.received ?? 0) > 0),
            `${cell.mrr.testName}: nothing received in direction ${d}`,
          );
        }
        if (testpmdVms !== undefined) {
          // testpmd's ports in declaration order: af0, vhost0 .. vhost(2n-1), af1; traffic crossed
          // every VM of the chain both ways when every port received and sent
          const ports = cell.vswitchPorts ?? [];
          assert.deepEqual(
            ports.map((p) => p.name),
            [
              "net_af_packet0",
              ...Array.from({ length: 2 * testpmdVms }, (_, i) => `net_vhost${i}`),
              "net_af_packet1",
            ],
            `${cell.mrr.testName}: testpmd's ports`,
          );
          for (const p of ports) {
            assert.ok(p.rx > 0 && p.tx > 0, `${cell.mrr.testName}: ${p.name} rx ${p.rx} tx ${p.tx}`);
          }
        }
      }

      if (vringSizes) checkVrings(vringSizes, results);

      if (secondUp) {
        t0 = Date.now();
        const again = await stack.up({ onOutput: log });
        const secondUpS = (Date.now() - t0) / 1000;
        const changes = Object.entries(again.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
        assert.deepEqual(changes, [], "a second up with nothing changed must change nothing");
        process.stderr.write(`[e2e] ${stackName}: second up ${secondUpS.toFixed(0)} s\n`);
      }
      process.stderr.write(`[e2e] ${stackName}: first up ${firstUpS.toFixed(0)} s\n`);
    } finally {
      t0 = Date.now();
      await stack.destroy({ onOutput: log });
      fs.writeFileSync(stackFile, stackFileText);
      process.stderr.write(`[e2e] ${stackName}: destroy ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
    assert.deepEqual(snapshot(), before, "destroy must leave the machine as it was");
  }
}

// The toolchain scripts/setup.sh provides is the one pinned in tools/versions.env.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "./support/repo";

function pinned(): Record<string, string> {
  const text = fs.readFileSync(path.join(repoRoot(), "tools", "versions.env"), "utf8");
  const pins: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)=(\S+)$/gm)) pins[m[1]!] = m[2]!;
  return pins;
}

const env = { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" };

test("toolchain: `pulumi version` prints the pinned CLI version", () => {
  const out = execFileSync("pulumi", ["version"], { env, encoding: "utf8" }).trim();
  assert.equal(out, `v${pinned()["PULUMI_VERSION"]}`);
});

test("toolchain: the command provider is installed at the pinned version", () => {
  const out = execFileSync("pulumi", ["plugin", "ls", "--json"], { env, encoding: "utf8" });
  const plugins = JSON.parse(out) as { name: string; kind: string; version: string }[];
  const command = plugins.filter((p) => p.name === "command" && p.kind === "resource").map((p) => p.version);
  assert.ok(command.includes(pinned()["PULUMI_COMMAND_VERSION"]!), `command plugins: ${command.join(", ")}`);
});

test("toolchain: the npm SDKs match the pinned versions", () => {
  const version = (pkg: string): string =>
    (
      JSON.parse(fs.readFileSync(path.join(repoRoot(), "node_modules", pkg, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  assert.equal(version("@pulumi/pulumi"), pinned()["PULUMI_VERSION"]);
  assert.equal(version("@pulumi/command"), pinned()["PULUMI_COMMAND_VERSION"]);
});

test("toolchain: shipped stack files carry no encryption salt (it belongs to one machine's passphrase)", () => {
  for (const file of fs.readdirSync(repoRoot()).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f))) {
    let committed: string;
    try {
      committed = execFileSync("git", ["show", `HEAD:${file}`], {
        cwd: repoRoot(),
        encoding: "utf8",
        stdio: "pipe",
      });
    } catch {
      continue; // not committed yet
    }
    assert.doesNotMatch(committed, /encryptionsalt/, `${file} is committed with an encryptionsalt`);
  }
});

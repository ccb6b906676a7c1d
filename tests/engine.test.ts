// Drives the real Pulumi engine (the CLI on PATH, file backend) through the Automation API:
// `up` then `destroy` of a small stack with a @pulumi/command local.Command. Proves that the
// toolchain scripts/setup.sh provides (CLI, Node.js language host, command provider) works.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { repoRoot } from "./support/repo";

test("engine: up runs a local.Command into the outputs, destroy runs its delete", async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vpl-engine-"));
  const backend = path.join(tmp, "state");
  const markers = path.join(tmp, "markers");
  fs.mkdirSync(backend);
  fs.mkdirSync(markers);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "probe", workDir: path.join(repoRoot(), "tests", "fixtures", "command-stack") },
    {
      envVars: {
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_CONFIG_PASSPHRASE: "engine-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      },
    },
  );
  try {
    await stack.setConfig("markerDir", { value: markers });
    const up = await stack.up();
    assert.equal(up.summary.result, "succeeded");
    assert.match(String(up.outputs["stdout"]?.value), /^hello from Linux pid \d+$/);
    assert.equal(fs.readFileSync(path.join(markers, "created"), "utf8"), "created\n");
    assert.equal(fs.existsSync(path.join(markers, "deleted")), false, "delete must not run on up");

    const again = await stack.up();
    assert.equal(again.summary.resourceChanges?.["same"], 2, "a second up changes nothing");

    const down = await stack.destroy();
    assert.equal(down.summary.result, "succeeded");
    assert.equal(fs.readFileSync(path.join(markers, "deleted"), "utf8"), "deleted\n");
    const state = await stack.exportStack();
    assert.equal((state.deployment as { resources?: unknown[] }).resources?.length ?? 0, 0);
  } finally {
    await stack.workspace.removeStack("probe", { force: true }).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// The lab model's VPP options as the shipped perf stack and a repository variant of it give them:
// defaults (CSIT profile), the repository pin normalised (URL without the trailing slash,
// fingerprint upper case without spaces), and the install source carried to the install step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkStackFile } from "../../lab";
import { repoRoot } from "../../lab/testutil";
import { vppInstallEnv } from "../../../components/vswitch/vpp/VppVswitch";

const PERF = join(repoRoot(), "Pulumi.perf.yaml");

function vppOf(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "vpl-vpp-model-"));
  try {
    const f = join(dir, "Pulumi.perf.yaml");
    writeFileSync(f, text);
    const { lab, errors } = checkStackFile(f);
    assert.deepEqual(errors, []);
    assert.ok(lab);
    assert.equal(lab.vswitch.kind, "vpp");
    if (lab.vswitch.kind !== "vpp") throw new Error("not vpp");
    return lab.vswitch.options;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the perf stack: VPP 24.10-release preinstalled, l2xc, vfio-pci, no-multi-seg", () => {
  const o = vppOf(readFileSync(PERF, "utf8"));
  assert.deepEqual(o, {
    mode: "l2xc",
    buffers: 16384,
    rxQueues: 1,
    uioDriver: "vfio-pci",
    version: "24.10-release",
    install: { kind: "preinstalled" },
    noMultiSeg: true,
  });
  assert.deepEqual(vppInstallEnv(o), { VPP_VERSION: "24.10-release", VPP_INSTALL: "preinstalled" });
});

test("the perf stack with FD.io's repository pinned: URL and fingerprint normalised, install env", () => {
  const text = readFileSync(PERF, "utf8").replace(
    / {6}install:\n {8}kind: preinstalled\n/,
    [
      "      install:",
      "        kind: repository",
      "        url: https://packagecloud.io/fdio/2410/debian/",
      "        suite: bookworm",
      "        component: main",
      "        keyUrl: https://packagecloud.io/fdio/2410/gpgkey",
      '        keyFingerprint: "0123 4567 89ab CDEF 0123 4567 89AB CDEF 0123 4567"',
      "",
    ].join("\n"),
  );
  const o = vppOf(text);
  assert.deepEqual(vppInstallEnv(o), {
    VPP_VERSION: "24.10-release",
    VPP_INSTALL: "repository",
    VPP_REPO_URL: "https://packagecloud.io/fdio/2410/debian",
    VPP_REPO_SUITE: "bookworm",
    VPP_REPO_COMPONENT: "main",
    VPP_KEY_URL: "https://packagecloud.io/fdio/2410/gpgkey",
    VPP_KEY_FPR: "0123456789ABCDEF0123456789ABCDEF01234567",
  });
});

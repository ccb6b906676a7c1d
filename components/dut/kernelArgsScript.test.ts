/**
 * scripts/dut-kernel-args.sh against fake trees: a temp grub.d, a fake /proc/cmdline, a fake
 * update-grub (counts its runs, fails on demand), /etc/os-release of Debian or RHEL.
 * The real run (a GRUB VM as DUT, with the reboot) is tests/kernel-vm.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fails, has, noBash, ok, run, script, shellcheck, snapshot, withTmp } from "./scriptTestKit";

const KA = script("dut-kernel-args.sh");

test(
  "shellcheck -x scripts/dut-kernel-args.sh is clean",
  { skip: !has("shellcheck") && "shellcheck missing" },
  () => shellcheck(KA),
);

interface Tree {
  env: (extra?: Record<string, string>) => Record<string, string>;
  dropin: string;
  setCmdline: (s: string) => void;
  updates: () => number;
  root: string;
}

function tree(root: string, os = "ID=debian\n"): Tree {
  mkdirSync(join(root, "etc/default/grub.d"), { recursive: true });
  mkdirSync(join(root, "proc"), { recursive: true });
  mkdirSync(join(root, "state"), { recursive: true });
  writeFileSync(join(root, "os-release"), os);
  writeFileSync(join(root, "proc/cmdline"), "BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet\n");
  const upd = join(root, "update-grub");
  writeFileSync(
    upd,
    `#!/bin/bash\necho run >> ${join(root, "updates")}\n[ ! -e ${join(root, "fail-update")} ] || { echo "grub broke" >&2; exit 1; }\n`,
    { mode: 0o755 },
  );
  return {
    root,
    dropin: join(root, "etc/default/grub.d/vhost-perf-lab.cfg"),
    env: (extra = {}) => ({
      KARGS_GRUB_DIR: join(root, "etc/default/grub.d"),
      KARGS_UPDATE: upd,
      KARGS_PROC: join(root, "proc"),
      KARGS_OS_RELEASE: join(root, "os-release"),
      LAB_STACK: "s1",
      LAB_STATE_ROOT: join(root, "state"),
      ...extra,
    }),
    setCmdline: (s) => writeFileSync(join(root, "proc/cmdline"), `${s}\n`),
    updates: () =>
      existsSync(join(root, "updates"))
        ? readFileSync(join(root, "updates"), "utf8").trim().split("\n").length
        : 0,
  };
}

const ARGS = "isolcpus=1-3 nohz_full=1-3 rcu_nocbs=1-3 iommu=pt";

test(
  "apply writes the drop-in once, reports the reboot; the same args again change nothing",
  { skip: noBash },
  () =>
    withTmp((d) => {
      const t = tree(d.root);
      const a = ok(run(KA, "apply", t.env({ KARGS: ARGS })));
      assert.equal(a["changed"], true);
      assert.equal(a["rebootNeeded"], true);
      assert.deepEqual(a["missing"], ARGS.split(" "));
      assert.match(
        readFileSync(t.dropin, "utf8"),
        /^GRUB_CMDLINE_LINUX="\$\{GRUB_CMDLINE_LINUX\} isolcpus=1-3 nohz_full=1-3 rcu_nocbs=1-3 iommu=pt"$/m,
      );
      assert.equal(t.updates(), 1);
      const b = ok(run(KA, "apply", t.env({ KARGS: ARGS })));
      assert.equal(b["changed"], false);
      assert.equal(t.updates(), 1, "no update-grub when the drop-in holds the args already");
      t.setCmdline(`BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet ${ARGS}`);
      const c = ok(run(KA, "apply", t.env({ KARGS: ARGS })));
      assert.equal(c["rebootNeeded"], false, "after the reboot nothing is pending");
      assert.equal(c["originalCmdline"], "BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet");
    }),
);

test(
  "revert removes the drop-in, regenerates, names what the running kernel still carries",
  { skip: noBash },
  () =>
    withTmp((d) => {
      const t = tree(d.root);
      const before = snapshot(join(d.root, "etc"));
      ok(run(KA, "apply", t.env({ KARGS: ARGS })));
      t.setCmdline(`BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet ${ARGS}`);
      const r = ok(run(KA, "revert", t.env()));
      assert.equal(r["rebootNeeded"], true);
      assert.deepEqual(r["stale"], ARGS.split(" "));
      assert.deepEqual(snapshot(join(d.root, "etc")), before);
      assert.equal(t.updates(), 2);
      assert.equal(existsSync(join(d.root, "state/.kernel-args/s1.rec")), false);
      const again = ok(run(KA, "revert", t.env()));
      assert.equal(again["changed"], false, "a second revert finds nothing");
    }),
);

test("a drop-in that was there before comes back on revert", { skip: noBash }, () =>
  withTmp((d) => {
    const t = tree(d.root);
    writeFileSync(t.dropin, 'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} mine=1"\n');
    const before = snapshot(join(d.root, "etc"));
    ok(run(KA, "apply", t.env({ KARGS: ARGS })));
    assert.doesNotMatch(readFileSync(t.dropin, "utf8"), /mine=1/);
    ok(run(KA, "revert", t.env()));
    assert.deepEqual(snapshot(join(d.root, "etc")), before);
  }),
);

test("a failing update-grub puts the drop-in back and regenerates again", { skip: noBash }, () =>
  withTmp((d) => {
    const t = tree(d.root);
    const before = snapshot(join(d.root, "etc"));
    writeFileSync(join(d.root, "fail-update"), "");
    fails(run(KA, "apply", t.env({ KARGS: ARGS })), /update-grub failed \(drop-in put back\)/, /grub broke/);
    assert.deepEqual(snapshot(join(d.root, "etc")), before);
    assert.equal(existsSync(join(d.root, "state/.kernel-args/s1.rec")), false, "no record left");
  }),
);

test(
  "refusals before any change: RHEL-like host, bad argument, another stack's record",
  { skip: noBash },
  () =>
    withTmp((d) => {
      const rhel = tree(join(d.root, "rhel"), 'ID="rocky"\nID_LIKE="rhel centos fedora"\n');
      fails(run(KA, "apply", rhel.env({ KARGS: ARGS })), /RHEL-like .*grubby.*nothing was changed/);
      assert.equal(existsSync(rhel.dropin), false);
      const deb = tree(join(d.root, "deb"));
      fails(run(KA, "apply", deb.env({ KARGS: "isolcpus=1 bad;arg" })), /'bad;arg' is not a kernel argument/);
      fails(run(KA, "apply", deb.env({ KARGS: "isolcpus=$(reboot)" })), /is not a kernel argument/);
      ok(run(KA, "apply", deb.env({ KARGS: ARGS, LAB_STACK: "other" })));
      fails(run(KA, "apply", deb.env({ KARGS: ARGS })), /held by stack other/);
      assert.equal(deb.updates(), 1);
    }),
);

/**
 * scripts/dut-hugepages.sh against fake trees: the pools under tree/sys/kernel/mm/hugepages, a
 * fake tree/proc/mounts kept by stand-in mount/umount programs (scriptTestKit.fakeBin), the
 * stacks' state directories under one state root; plus one real run on this machine when root
 * (2 pages more in the real 2M pool and a real hugetlbfs mount in a temporary run directory,
 * both given back).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  fails,
  fakeBin,
  has,
  isRoot,
  noBash,
  noPython,
  ok,
  put,
  read,
  run,
  runBrokenStderr,
  runCancelled,
  script,
  shellcheck,
  snapshot,
  withTmp,
  type Run,
} from "./scriptTestKit";

const HP = script("dut-hugepages.sh");
const POOL = { "2M": "hugepages-2048kB", "1G": "hugepages-1048576kB" } as const;

test(
  "shellcheck -x scripts/dut-hugepages.sh is clean",
  { skip: !has("shellcheck") && "shellcheck missing" },
  () => shellcheck(HP),
);

interface Lab {
  tree: string;
  root: string;
  /** the environment of one stack's step (as step.sh gives it) plus the fake trees */
  env: (stack: string, extra?: Record<string, string>) => Record<string, string>;
  pool: (size: "2M" | "1G") => number;
  setPool: (size: "2M" | "1G", n: number) => void;
  mounts: () => string;
  record: (stack: string) => string;
  /** the fake host (trees, mounts) and every stack's state and run directories */
  host: () => Record<string, string>;
}

function lab(fn: (l: Lab) => void | Promise<void>): void | Promise<void> {
  return withTmp(({ tree, root }) => {
    const bin = fakeBin(join(root, "bin"));
    const mounts = join(tree, "proc", "mounts");
    put(tree, {
      "proc/mounts": "proc /proc proc rw 0 0\n",
      [`sys/kernel/mm/hugepages/${POOL["2M"]}/nr_hugepages`]: "0\n",
      [`sys/kernel/mm/hugepages/${POOL["2M"]}/free_hugepages`]: "0\n",
      [`sys/kernel/mm/hugepages/${POOL["1G"]}/nr_hugepages`]: "0\n",
      [`sys/kernel/mm/hugepages/${POOL["1G"]}/free_hugepages`]: "0\n",
    });
    mkdirSync(join(root, "run"));
    mkdirSync(join(root, "lab"));
    const poolFile = (size: "2M" | "1G"): string =>
      join(tree, "sys/kernel/mm/hugepages", POOL[size], "nr_hugepages");
    return fn({
      tree,
      root,
      env: (stack, extra = {}) => {
        return {
          PATH_PREFIX: bin,
          FAKE_MOUNTS: mounts,
          TUNING_SYSFS: join(tree, "sys"),
          TUNING_PROCFS: join(tree, "proc"),
          LAB_STACK: stack,
          LAB_STATE_ROOT: join(root, "lab"),
          LAB_STATE_DIR: join(root, "lab", stack),
          LAB_RUN_DIR: join(root, "run", stack),
          HUGEPAGES_SIZE: "2M",
          ...extra,
        };
      },
      pool: (size) => Number(read(poolFile(size)).trim()),
      setPool: (size, n) => writeFileSync(poolFile(size), `${n}\n`),
      mounts: () => read(mounts),
      record: (stack) => read(join(root, "lab", stack, "hugepages.rec")),
      host: () => {
        const out: Record<string, string> = {};
        for (const [dir, at] of [
          [tree, "tree"],
          [join(root, "lab"), "lab"],
          [join(root, "run"), "run"],
        ] as const)
          for (const [k, v] of Object.entries(snapshot(dir))) out[`${at}${k}`] = v;
        return out;
      },
    });
  });
}

/** a stack's run and state directories exist (step.sh creates them) */
function stackDirs(l: Lab, stack: string): void {
  mkdirSync(join(l.root, "run", stack), { recursive: true });
  mkdirSync(join(l.root, "lab", stack), { recursive: true });
}

test(
  "dut-hugepages.sh: two stacks add their pages on top of each other; each revert gives back only its own, in either order",
  { skip: noBash },
  () =>
    lab((l) => {
      for (const order of [
        ["a", "b"],
        ["b", "a"],
      ]) {
        l.setPool("2M", 3); // 3 pages someone else reserved before any lab
        stackDirs(l, "a");
        stackDirs(l, "b");
        const pristine = l.host();
        const a = ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4" })));
        assert.deepEqual(a, {
          size: "2M",
          requested: 4,
          total: 4,
          free: 0,
          mount: join(l.root, "run/a/hugepages-2M"),
          mounted: true,
          before: 3,
          added: 1,
          others: 0,
        });
        assert.equal(
          l.record("a"),
          `size=2M\ncount=4\nbefore=3\nadded=1\nmount=${join(l.root, "run/a/hugepages-2M")}\n` +
            `mount_created=yes\ndirs_created=${join(l.root, "run/a/hugepages-2M")}\n`,
        );
        const b = ok(run(HP, "apply", l.env("b", { HUGEPAGES_COUNT: "2" })));
        assert.deepEqual(
          { total: b.total, before: b.before, added: b.added, others: b.others, mount: b.mount },
          { total: 6, before: 4, added: 2, others: 4, mount: join(l.root, "run/b/hugepages-2M") },
        );
        assert.match(l.mounts(), /^nodev \S+\/run\/a\/hugepages-2M hugetlbfs rw,relatime,pagesize=2M 0 0$/m);
        assert.match(l.mounts(), /^nodev \S+\/run\/b\/hugepages-2M hugetlbfs rw,relatime,pagesize=2M 0 0$/m);
        // the same applies again: nothing changes
        const host = l.host();
        assert.deepEqual(ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4" }))), {
          ...a,
          total: 6,
          others: 2,
        });
        assert.deepEqual(l.host(), host);

        const [first, second] = order as [string, string];
        const r1 = ok(run(HP, "revert", l.env(first)));
        // a gave back 1 (6 -> 5), or b gave back 2 but never below a's 4 (6 -> 4)
        assert.equal(l.pool("2M"), first === "a" ? 5 : 4, `after reverting ${first}`);
        assert.equal(r1.released, first === "a" ? 1 : 2);
        assert.equal(r1.mounted, false);
        assert.doesNotMatch(l.mounts(), new RegExp(`/run/${first}/hugepages-2M`));
        assert.equal(existsSync(join(l.root, "run", first, "hugepages-2M")), false);
        ok(run(HP, "revert", l.env(second)));
        assert.equal(l.pool("2M"), 3, "back to what was there before any lab");
        assert.deepEqual(l.host(), pristine);
      }
    }),
);

test(
  "dut-hugepages.sh: a later apply with a lower count gives back what this stack added beyond it, a higher one adds",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      l.setPool("2M", 2);
      const pristine = l.host();
      assert.equal(ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "8" }))).added, 6);
      assert.equal(l.pool("2M"), 8);
      let r = ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "5" })));
      assert.deepEqual([r.total, r.added, r.before], [5, 3, 2]);
      r = ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "1" })));
      assert.deepEqual([r.total, r.added], [2, 0], "never below what was there before");
      r = ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "10" })));
      assert.deepEqual([r.total, r.added], [10, 8]);
      ok(run(HP, "revert", l.env("a")));
      assert.deepEqual(l.host(), pristine);
    }),
);

test(
  "dut-hugepages.sh: a size change 2M -> 1G gives the 2M pages and mount back first; revert then empties the 1G pool, not the 2M one",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      l.setPool("2M", 1);
      l.setPool("1G", 2); // pages of someone else
      const pristine = l.host();
      ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4" })));
      assert.equal(l.pool("2M"), 4);
      const r = ok(run(HP, "apply", l.env("a", { HUGEPAGES_SIZE: "1G", HUGEPAGES_COUNT: "3" })));
      assert.deepEqual(
        { size: r.size, total: r.total, before: r.before, added: r.added, mount: r.mount },
        { size: "1G", total: 3, before: 2, added: 1, mount: join(l.root, "run/a/hugepages-1G") },
      );
      assert.equal(l.pool("2M"), 1, "the 2M pages given back");
      assert.doesNotMatch(l.mounts(), /hugepages-2M/);
      assert.match(l.mounts(), /hugepages-1G hugetlbfs rw,relatime,pagesize=1G /);
      assert.equal(existsSync(join(l.root, "run/a/hugepages-2M")), false);
      assert.match(l.record("a"), /^size=1G\ncount=3\nbefore=2\nadded=1\n/);
      // destroy with the configuration changed once more: the record's size decides
      ok(run(HP, "revert", l.env("a", { HUGEPAGES_SIZE: "2M", HUGEPAGES_COUNT: "4" })));
      assert.equal(l.pool("1G"), 2);
      assert.equal(l.pool("2M"), 1);
      assert.deepEqual(l.host(), pristine);
    }),
);

test(
  "dut-hugepages.sh revert uses the recorded size's pool when the configured size differs",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      l.setPool("2M", 1);
      l.setPool("1G", 2);
      const pristine = l.host();
      ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4" })));
      const r = ok(run(HP, "revert", l.env("a", { HUGEPAGES_SIZE: "1G" })));
      assert.deepEqual([r.size, r.released], ["2M", 3]);
      assert.deepEqual([l.pool("2M"), l.pool("1G")], [1, 2]);
      assert.deepEqual(l.host(), pristine);
    }),
);

test(
  "dut-hugepages.sh: a mount that fails after the pool was raised puts the pool back, removes the record and the directory, exits 1",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      l.setPool("2M", 1);
      const pristine = l.host();
      const r = run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4", FAKE_MOUNT_FAIL: "wrong fs type" }));
      fails(
        r,
        /ERROR: cannot mount hugetlbfs \(pagesize=2M\) at \S+\/run\/a\/hugepages-2M: mount: wrong fs type/,
      );
      assert.match(r.stderr, /put back \S+nr_hugepages = 1/);
      assert.deepEqual(l.host(), pristine);
      // with an earlier apply's record: that state stays as it was
      ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "4" })));
      const applied = l.host();
      fails(
        run(
          HP,
          "apply",
          l.env("a", {
            HUGEPAGES_SIZE: "1G",
            HUGEPAGES_COUNT: "1",
            FAKE_MOUNT_FAIL: "no",
            FAKE_MOUNT_FAIL_ON: "*/hugepages-1G",
          }),
        ),
        /cannot mount hugetlbfs \(pagesize=1G\)/,
      );
      assert.deepEqual(
        l.host(),
        applied,
        "the 2M pages and mount back, the 1G pool back, the record as before",
      );
      ok(run(HP, "revert", l.env("a")));
      assert.deepEqual(l.host(), pristine);
    }),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(
    `dut-hugepages.sh: ${signal} while mounting puts the pool back and exits non-zero`,
    { skip: noBash },
    () =>
      lab(async (l) => {
        stackDirs(l, "a");
        const pristine = l.host();
        const ready = join(l.root, "held");
        const r = await runCancelled(
          HP,
          "apply",
          l.env("a", { HUGEPAGES_COUNT: "4", FAKE_MOUNT_STALL: ready }),
          ready,
          signal,
        );
        assert.ok(r.reached, r.stderr);
        assert.equal(r.status, signal === "SIGTERM" ? 143 : 130, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /pool 0 -> 4 x 2M/, "the pool had been raised");
        assert.match(r.stderr, new RegExp(`stopped by ${signal} during apply`));
        assert.deepEqual(l.host(), pristine);
      }),
  );
}

test(
  "dut-hugepages.sh revert: a mount in use fails the revert and keeps everything recorded; a second revert finishes",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      const pristine = l.host();
      ok(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "2" })));
      const applied = l.host();
      fails(
        run(HP, "revert", l.env("a", { FAKE_UMOUNT_FAIL: "target is busy." })),
        /cannot unmount \S+\/run\/a\/hugepages-2M .*fix: stop the lab's processes that use it and run revert again/,
      );
      assert.deepEqual(l.host(), applied);
      ok(run(HP, "revert", l.env("a")));
      assert.deepEqual(l.host(), pristine);
      // nothing recorded: a no-op that succeeds
      const again = ok(run(HP, "revert", l.env("a")));
      assert.equal(again.released, 0);
      assert.deepEqual(l.host(), pristine);
    }),
);

test(
  "dut-hugepages.sh: a hugetlbfs of the right size already mounted at HUGEPAGES_MOUNT is used and left; anything else there is refused",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      const mnt = join(l.root, "mnt", "huge");
      mkdirSync(mnt, { recursive: true });
      writeFileSync(
        join(l.tree, "proc/mounts"),
        `proc /proc proc rw 0 0\nnodev ${mnt} hugetlbfs rw,relatime,pagesize=2M 0 0\n`,
      );
      const pristine = l.host();
      const env = l.env("a", { HUGEPAGES_COUNT: "1", HUGEPAGES_MOUNT: `${mnt}/` });
      assert.equal(ok(run(HP, "apply", env)).mount, mnt);
      assert.match(l.record("a"), /^mount_created=no\ndirs_created=$/m);
      ok(run(HP, "revert", env));
      assert.deepEqual(l.host(), pristine);
      assert.ok(existsSync(mnt));
      // a 1G mount there, or another file system: refused before anything changes
      fails(
        run(HP, "apply", { ...env, HUGEPAGES_SIZE: "1G" }),
        /has 'hugetlbfs rw,relatime,pagesize=2M' mounted, not a hugetlbfs of 1G pages/,
      );
      writeFileSync(join(l.tree, "proc/mounts"), `tmpfs ${mnt} tmpfs rw 0 0\n`);
      const tmpfs = l.host();
      fails(run(HP, "apply", env), /has 'tmpfs rw' mounted, not a hugetlbfs of 2M pages/);
      assert.deepEqual(l.host(), tmpfs);
    }),
);

test("dut-hugepages.sh refuses bad settings before touching anything", { skip: noBash }, () =>
  lab((l) => {
    stackDirs(l, "a");
    const pristine = l.host();
    const cases: [Record<string, string>, RegExp][] = [
      [{ HUGEPAGES_SIZE: "4M" }, /HUGEPAGES_SIZE='4M' is not 2M or 1G/],
      [{ HUGEPAGES_COUNT: "-1" }, /HUGEPAGES_COUNT='-1' is not a number of pages/],
      [{ HUGEPAGES_COUNT: "99999999999" }, /is not a number of pages/],
      [{ HUGEPAGES_MOUNT: "-rf" }, /HUGEPAGES_MOUNT='-rf' is not an absolute path/],
      [{ HUGEPAGES_MOUNT: "relative/dir" }, /is not an absolute path/],
      [{ HUGEPAGES_MOUNT: "/tmp/a b" }, /is not an absolute path/],
      [{ HUGEPAGES_MOUNT: "/tmp/../etc" }, /has \. or \.\. in it/],
    ];
    for (const [extra, message] of cases) {
      fails(run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "1", ...extra })), message);
      assert.deepEqual(l.host(), pristine, JSON.stringify(extra));
    }
    // a kernel without the 1G pool
    rmSync(join(l.tree, "sys/kernel/mm/hugepages", POOL["1G"]), { recursive: true });
    fails(run(HP, "apply", l.env("a", { HUGEPAGES_SIZE: "1G" })), /this kernel has no 1G hugepage pool/);
    fails(run(HP, "status", l.env("a")), /usage: .* apply\|revert/);
  }),
);

test(
  "dut-hugepages.sh takes over the record of the version before (hugepages.prev): revert gives back what the lab added and unmounts /dev/hugepages it mounted",
  { skip: noBash },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      // what the old script left: pool 0 before, the lab mounted /dev/hugepages, the pool now 6
      l.setPool("2M", 6);
      writeFileSync(
        join(l.tree, "proc/mounts"),
        "proc /proc proc rw 0 0\nnodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n",
      );
      put(l.root, { "lab/a/hugepages.prev": "size=2M\npages=0\nmounted=no\n" });
      const r = run(HP, "revert", l.env("a"));
      assert.deepEqual(ok(r), {
        size: "2M",
        total: 0,
        free: 0,
        mount: "/dev/hugepages",
        mounted: false,
        released: 6,
      });
      assert.equal(l.mounts(), "proc /proc proc rw 0 0\n");
      assert.equal(existsSync(join(l.root, "lab/a/hugepages.prev")), false);
    }),
);

test(
  "dut-hugepages.sh with a broken stderr: apply and revert run to their end; a failing apply still undoes itself",
  { skip: noBash || noPython },
  () =>
    lab((l) => {
      stackDirs(l, "a");
      const pristine = l.host();
      assert.equal(runBrokenStderr(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "2" })).status, 0);
      assert.equal(l.pool("2M"), 2);
      assert.equal(runBrokenStderr(HP, "revert", l.env("a")).status, 0);
      assert.deepEqual(l.host(), pristine);
      const r = runBrokenStderr(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "2", FAKE_MOUNT_FAIL: "x" }));
      assert.equal(r.status, 1);
      assert.deepEqual(l.host(), pristine);
    }),
);

// ---------------------------------------------------------------- this machine, for real

const REAL_POOL = "/sys/kernel/mm/hugepages/hugepages-2048kB";

test(
  "dut-hugepages.sh on this machine: 2 pages more in the 2M pool and a hugetlbfs mount of this stack, then exactly as before",
  {
    skip:
      noBash ||
      (!isRoot && "needs root") ||
      (!existsSync(REAL_POOL) && "no 2M hugepage pool") ||
      (!readFileSync("/proc/filesystems", "utf8").includes("hugetlbfs") && "no hugetlbfs"),
  },
  () =>
    withTmp(({ root }) => {
      const nr = (): number => Number(read(`${REAL_POOL}/nr_hugepages`).trim());
      const mountsNow = (): string[] =>
        read("/proc/mounts")
          .split("\n")
          .filter((m) => m.includes(root));
      const before = nr();
      const runDir = join(root, "run", "vpl-test");
      mkdirSync(runDir, { recursive: true });
      // a temporary state root: this stack alone; 2 pages more than the pool holds now
      const env = {
        LAB_STACK: "vpl-test",
        LAB_STATE_ROOT: join(root, "lab"),
        LAB_STATE_DIR: join(root, "lab", "vpl-test"),
        LAB_RUN_DIR: runDir,
        HUGEPAGES_SIZE: "2M",
        HUGEPAGES_COUNT: String(before + 2),
      };
      let reverted: Run | undefined;
      try {
        const out = ok(run(HP, "apply", env));
        assert.deepEqual(
          { size: out.size, before: out.before, added: out.added, mount: out.mount, mounted: out.mounted },
          { size: "2M", before, added: 2, mount: join(runDir, "hugepages-2M"), mounted: true },
        );
        assert.ok(nr() >= before + 2);
        assert.deepEqual(mountsNow().length, 1);
        assert.match(mountsNow()[0]!, /hugetlbfs rw,relatime,pagesize=2M /);
      } finally {
        reverted = run(HP, "revert", env); // whatever happened above
      }
      assert.equal(ok(reverted).released, 2, reverted.stderr);
      assert.equal(nr(), before);
      assert.deepEqual(mountsNow(), []);
      assert.equal(existsSync(join(runDir, "hugepages-2M")), false);
    }),
);

/** the per-node pools of a fake two-node host: tree/sys/devices/system/node/node<N>/hugepages */
function nodePool(l: Lab, n: number, size: "2M" | "1G"): string {
  return join(l.tree, `sys/devices/system/node/node${n}/hugepages`, POOL[size], "nr_hugepages");
}
function twoNodes(l: Lab): void {
  const files: Record<string, string> = {};
  for (const n of [0, 1])
    for (const size of ["2M", "1G"] as const) {
      files[`sys/devices/system/node/node${n}/hugepages/${POOL[size]}/nr_hugepages`] = "0\n";
      files[`sys/devices/system/node/node${n}/hugepages/${POOL[size]}/free_hugepages`] = "0\n";
    }
  put(l.tree, files);
}
const nodeNr = (l: Lab, n: number, size: "2M" | "1G"): number => Number(read(nodePool(l, n, size)).trim());

test(
  "dut-hugepages.sh: HUGEPAGES_NODE reserves in that node's pool only, records the node and gives back there",
  { skip: noBash },
  () =>
    lab((l) => {
      twoNodes(l);
      stackDirs(l, "a");
      writeFileSync(nodePool(l, 0, "1G"), "2\n"); // node 0 has its own pages, left alone
      const pristine = l.host();
      const a = ok(
        run(HP, "apply", l.env("a", { HUGEPAGES_SIZE: "1G", HUGEPAGES_COUNT: "3", HUGEPAGES_NODE: "1" })),
      );
      assert.equal(a.node, 1);
      assert.equal(a.total, 3);
      assert.equal(a.added, 3);
      assert.equal(nodeNr(l, 1, "1G"), 3);
      assert.equal(nodeNr(l, 0, "1G"), 2);
      assert.equal(l.pool("1G"), 0, "the host-wide pool is not touched");
      assert.match(l.record("a"), /^node=1$/m);
      const r = ok(run(HP, "revert", l.env("a", { HUGEPAGES_SIZE: "1G", HUGEPAGES_NODE: "1" })));
      assert.equal(r.node, 1);
      assert.equal(r.released, 3);
      assert.equal(nodeNr(l, 1, "1G"), 0);
      assert.deepEqual(l.host(), pristine);
    }),
);

test(
  "dut-hugepages.sh: a missing node directory falls back to the host-wide pool and says so",
  { skip: noBash },
  () =>
    lab((l) => {
      twoNodes(l);
      stackDirs(l, "a");
      const r = run(HP, "apply", l.env("a", { HUGEPAGES_COUNT: "2", HUGEPAGES_NODE: "7" }));
      const a = ok(r);
      assert.match(r.stderr, /no 2M pool of NUMA node 7 .*using the host-wide pool/);
      assert.equal(a.node, undefined);
      assert.equal(l.pool("2M"), 2);
      assert.equal(nodeNr(l, 0, "2M") + nodeNr(l, 1, "2M"), 0);
      assert.doesNotMatch(l.record("a"), /^node=/m);
      ok(run(HP, "revert", l.env("a")));
      assert.equal(l.pool("2M"), 0);
    }),
);

test(
  "dut-hugepages.sh: a 1G pool the kernel cannot fill at run time is put back and the boot-time fix named; one reserved at boot is taken over",
  { skip: noBash },
  () =>
    lab((l) => {
      twoNodes(l);
      stackDirs(l, "a");
      // stand-in kernel: the node 0 1G pool reads back at most FAKE_HP_CAP pages (fragmented memory)
      const bin = l.env("a").PATH_PREFIX ?? "";
      writeFileSync(
        join(bin, "cat"),
        '#!/usr/bin/env bash\nf="${@: -1}"\n' +
          'if [ -n "${FAKE_HP_CAP:-}" ] && [ "$f" = "$FAKE_HP_FILE" ]; then\n' +
          '  v=$(/bin/cat -- "$f"); [ "$v" -le "$FAKE_HP_CAP" ] || v=$FAKE_HP_CAP; echo "$v"; exit 0\nfi\n' +
          'exec /bin/cat "$@"\n',
        { mode: 0o755 },
      );
      const env = l.env("a", {
        HUGEPAGES_SIZE: "1G",
        HUGEPAGES_COUNT: "4",
        HUGEPAGES_NODE: "0",
        FAKE_HP_CAP: "1",
        FAKE_HP_FILE: nodePool(l, 0, "1G"),
      });
      const pristine = l.host();
      fails(
        run(HP, "apply", env),
        /got 1: the kernel found no contiguous memory/,
        /hugepagesz=1G hugepages=4 on the kernel command line/,
        /kernel-args/,
      );
      rmSync(join(bin, "cat"));
      assert.equal(nodeNr(l, 0, "1G"), 0, "the pool is put back");
      assert.deepEqual(l.host(), pristine);
      // reserved at boot: the pool already holds 4 pages; apply takes them over without a write
      writeFileSync(nodePool(l, 0, "1G"), "4\n");
      const a = ok(run(HP, "apply", env));
      assert.equal(a.added, 0);
      assert.equal(a.before, 4);
      ok(run(HP, "revert", env));
      assert.equal(nodeNr(l, 0, "1G"), 4, "pages reserved at boot stay");
    }),
);

test(
  "dut-hugepages.sh: a record without node= (before per-node pools) still reverts on the host-wide pool",
  { skip: noBash },
  () =>
    lab((l) => {
      twoNodes(l);
      stackDirs(l, "a");
      l.setPool("2M", 5);
      writeFileSync(nodePool(l, 0, "2M"), "5\n");
      const mnt = join(l.root, "run/a/hugepages-2M");
      writeFileSync(
        join(l.root, "lab/a/hugepages.rec"),
        `size=2M\ncount=3\nbefore=2\nadded=3\nmount=${mnt}\nmount_created=no\ndirs_created=\n`,
      );
      const r = ok(run(HP, "revert", l.env("a", { HUGEPAGES_NODE: "0" })));
      assert.equal(r.released, 3);
      assert.equal(r.node, undefined);
      assert.equal(l.pool("2M"), 2);
      assert.equal(nodeNr(l, 0, "2M"), 5, "the node pool is not touched");
    }),
);

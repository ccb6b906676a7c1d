/**
 * The remote side of the DUT tunings: scripts/dut-sysctl.sh, scripts/dut-irq-affinity.sh and
 * scripts/dut-cpufreq.sh, run against fake /proc and /sys trees in temporary directories
 * (TUNING_PROCFS, TUNING_SYSFS, LAB_STATE_DIR), plus one real run of the sysctl and irq tunings
 * on this machine when root (read before, applied, reverted, compared). A write the kernel
 * refuses is simulated with a symlink to a real read-only kernel file (a 0444 sysctl or sysfs
 * attribute refuses even root), which the scripts can read but never write.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

function repoRoot(): string {
  for (let d = __dirname; d !== dirname(d); d = dirname(d))
    if (existsSync(join(d, "scripts", "dut-sysctl.sh"))) return d;
  return process.cwd();
}
const ROOT = repoRoot();
const SYSCTL = join(ROOT, "scripts", "dut-sysctl.sh");
const IRQ = join(ROOT, "scripts", "dut-irq-affinity.sh");
const CPUFREQ = join(ROOT, "scripts", "dut-cpufreq.sh");
const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const canRun = has("bash") && has("base64") && existsSync(SYSCTL);
const noBash = !canRun && "bash missing";

/** A real kernel file that reads fine and refuses every write, even root's. */
function findUnwritable(): string | undefined {
  for (const f of [
    "/proc/sys/kernel/ngroups_max",
    "/sys/devices/system/cpu/possible",
    "/proc/sys/kernel/osrelease",
  ]) {
    if (!existsSync(f)) continue;
    // writing back the value it reads: harmless even if the write went through
    const r = spawnSync("bash", ["-c", 'v=$(cat "$1") && printf "%s\\n" "$v" >"$1"', "-", f]);
    if (r.status !== 0) return f;
  }
  return undefined;
}
const UNWRITABLE = canRun ? findUnwritable() : undefined;
const noUnwritable = noBash || (!UNWRITABLE && "no read-only kernel file to stand for a refused write");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, action: string, env: Record<string, string>): Run {
  const r = spawnSync("bash", [script, action], {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The one JSON line of a successful run. */
function ok(r: Run): Record<string, unknown> {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** A failed run: exit 1, nothing on stdout, the message matches. */
function fails(r: Run, ...messages: RegExp[]): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  for (const m of messages) assert.match(r.stderr, m);
}

/** Every file, symlink and directory below root with its content: byte-exact comparisons. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = p.slice(root.length);
      if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = "<dir>";
        walk(p);
      } else out[rel] = readFileSync(p).toString("latin1") + ` <mode ${st.mode.toString(8)}>`;
    }
  };
  walk(root);
  return out;
}

function put(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

function link(root: string, rel: string, target: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  symlinkSync(target, join(root, rel));
}

const read = (p: string): string => readFileSync(p, "utf8");

/** A temporary lab: tree/ (the fake proc and sys), state/ (LAB_STATE_DIR), removed afterwards. */
function withTmp(fn: (dir: { tree: string; state: string; root: string }) => void): void {
  const root = mkdtempSync(join(tmpdir(), "tuning-"));
  const tree = join(root, "tree");
  mkdirSync(tree);
  try {
    fn({ tree, state: join(root, "state"), root });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

for (const script of [SYSCTL, IRQ, CPUFREQ]) {
  const name = script.slice(ROOT.length + 1);
  test(`shellcheck -x ${name} is clean`, { skip: !has("shellcheck") && "shellcheck missing" }, () => {
    const r = spawnSync("shellcheck", ["-x", script], { encoding: "utf8", cwd: ROOT });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
}

// ---------------------------------------------------------------- sysctl

const SYSCTL_TREE: Record<string, string> = {
  "proc/sys/vm/swappiness": "60\n",
  "proc/sys/vm/max_map_count": "65530\n",
  "proc/sys/vm/dirty_ratio": "20\n",
  "proc/sys/kernel/randomize_va_space": "2\n",
  "proc/sys/kernel/shmmax": "18446744073692774399\n",
  "proc/sys/kernel/shmall": "18446744073692774399\n",
  "proc/sys/kernel/watchdog_cpumask": "0-1\n",
  "proc/sys/net/ipv4/tcp_rmem": "4096\t131072\t6291456\n",
};

function sysctlEnv(tree: string, state: string, settings: string[]): Record<string, string> {
  return { TUNING_PROCFS: join(tree, "proc"), LAB_STATE_DIR: state, SYSCTL_SETTINGS: settings.join("\n") };
}

test(
  "dut-sysctl.sh: sets, raises at-least values (beyond 2^63) and never lowers them, reports missing keys; revert after two applies is exact and idempotent",
  { skip: noBash },
  () =>
    withTmp(({ tree, state }) => {
      put(tree, SYSCTL_TREE);
      const before = snapshot(tree);
      const first = [
        "# CSIT's sysctl tuning",
        "vm.swappiness=0",
        "kernel.randomize_va_space = 0",
        "kernel.shmmax>=9223372036854775808", // 2^63 < current: never lowered
        "kernel.shmall>=18446744073692774400", // current + 1: equal as doubles, raised exactly
        "vm.max_map_count>=262144",
        "kernel.watchdog_cpumask=0",
        "net.ipv4.tcp_rmem=4096 131072  6291456", // equal after whitespace normalisation
        "",
        "vm.no_such_key=1",
      ];
      const expected = {
        tuning: "sysctl",
        action: "apply",
        settings: [
          { key: "vm.swappiness", before: "60", value: "0" },
          { key: "kernel.randomize_va_space", before: "2", value: "0" },
          { key: "kernel.shmmax", before: "18446744073692774399", value: "18446744073692774399" },
          { key: "kernel.shmall", before: "18446744073692774399", value: "18446744073692774400" },
          { key: "vm.max_map_count", before: "65530", value: "262144" },
          { key: "kernel.watchdog_cpumask", before: "0-1", value: "0" },
          { key: "net.ipv4.tcp_rmem", before: "4096\t131072\t6291456", value: "4096\t131072\t6291456" },
        ],
        missing: ["vm.no_such_key"],
      };
      const env = sysctlEnv(tree, state, first);
      const a = run(SYSCTL, "apply", env);
      assert.deepEqual(ok(a), expected);
      assert.match(a.stderr, /^\[sysctl\] vm\.no_such_key: not in this kernel/m);
      const sys = (k: string): string => read(join(tree, "proc/sys", k));
      assert.equal(sys("vm/swappiness"), "0\n");
      assert.equal(sys("kernel/randomize_va_space"), "0\n");
      assert.equal(sys("kernel/shmmax"), "18446744073692774399\n");
      assert.equal(sys("kernel/shmall"), "18446744073692774400\n");
      assert.equal(sys("vm/max_map_count"), "262144\n");
      assert.equal(sys("kernel/watchdog_cpumask"), "0\n");
      assert.equal(sys("net/ipv4/tcp_rmem"), "4096\t131072\t6291456\n", "equal values are not rewritten");
      const record = read(join(state, "sysctl.prev"));
      assert.match(record, /^vm\.swappiness=60$/m);
      assert.doesNotMatch(record, /no_such_key/);

      // the same apply again: same answer, nothing changes
      const snap = snapshot(tree);
      assert.deepEqual(ok(run(SYSCTL, "apply", env)), expected);
      assert.deepEqual(snapshot(tree), snap);
      assert.equal(read(join(state, "sysctl.prev")), record);

      // a second apply with other values and one more key: the originals stay recorded
      const second = sysctlEnv(tree, state, [
        "vm.swappiness=10",
        "vm.max_map_count>=1000",
        "vm.dirty_ratio=5",
      ]);
      assert.deepEqual(ok(run(SYSCTL, "apply", second)), {
        tuning: "sysctl",
        action: "apply",
        settings: [
          { key: "vm.swappiness", before: "60", value: "10" },
          { key: "vm.max_map_count", before: "65530", value: "262144" },
          { key: "vm.dirty_ratio", before: "20", value: "5" },
        ],
        missing: [],
      });
      assert.equal(sys("vm/max_map_count"), "262144\n", "at-least never lowers");
      assert.equal(read(join(state, "sysctl.prev")), `${record}vm.dirty_ratio=20\n`);

      assert.deepEqual(ok(run(SYSCTL, "revert", second)), {
        tuning: "sysctl",
        action: "revert",
        restored: 8,
      });
      assert.deepEqual(snapshot(tree), before);
      assert.equal(existsSync(join(state, "sysctl.prev")), false);
      assert.deepEqual(ok(run(SYSCTL, "revert", second)), {
        tuning: "sysctl",
        action: "revert",
        restored: 0,
      });
      assert.deepEqual(snapshot(tree), before);
    }),
);

test(
  "dut-sysctl.sh: a value the kernel refuses puts back this run's writes and record, fails naming the key",
  { skip: noUnwritable },
  () =>
    withTmp(({ tree, state }) => {
      put(tree, SYSCTL_TREE);
      link(tree, "proc/sys/kernel/locked", UNWRITABLE!);
      const pristine = snapshot(tree);

      // without a record: the failed apply leaves none and no change
      let r = run(SYSCTL, "apply", sysctlEnv(tree, state, ["vm.swappiness=0", "kernel.locked=1"]));
      fails(r, /cannot set kernel\.locked=1 \(.*\): \S/, /remove sysctl from vhost-perf-lab:tuning\.apply/);
      assert.match(r.stderr, /put back .*swappiness = 60/);
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(join(state, "sysctl.prev")), false);

      // with a record from an earlier apply: that apply's state and record stay as they were
      ok(run(SYSCTL, "apply", sysctlEnv(tree, state, ["vm.swappiness=0"])));
      const applied = snapshot(tree);
      const record = read(join(state, "sysctl.prev"));
      const env = sysctlEnv(tree, state, [
        "vm.dirty_ratio=5",
        "kernel.randomize_va_space=0",
        "vm.swappiness=1",
        "kernel.locked=1",
        "vm.max_map_count>=262144",
      ]);
      r = run(SYSCTL, "apply", env);
      fails(r, /kernel\.locked=1/);
      assert.deepEqual(snapshot(tree), applied);
      assert.equal(read(join(state, "sysctl.prev")), record);

      assert.deepEqual(ok(run(SYSCTL, "revert", env)), { tuning: "sysctl", action: "revert", restored: 1 });
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

test("dut-sysctl.sh refuses malformed settings before touching anything", { skip: noBash }, () =>
  withTmp(({ tree, state }) => {
    put(tree, SYSCTL_TREE);
    const pristine = snapshot(tree);
    const cases: [string[], RegExp][] = [
      [["vm.swappiness=0", "vm.swappiness"], /line 2 'vm\.swappiness' is not key=value or key>=value/],
      [["vm.swappiness=0", "kernel.shmmax>=lots"], /kernel\.shmmax>=lots needs an integer/],
      [["vm.swappiness=0", "../../etc/passwd=x"], /is not a sysctl key/],
      [["vm.swappiness=0", "vm.swappiness=1"], /names vm\.swappiness twice/],
      [
        ["vm.swappiness=0", "net.ipv4.tcp_rmem>=4096"],
        /kernel reads '4096\t131072\t6291456', not one integer/,
      ],
    ];
    for (const [settings, message] of cases) {
      fails(run(SYSCTL, "apply", sysctlEnv(tree, state, settings)), message);
      assert.deepEqual(snapshot(tree), pristine, settings.join(" | "));
      assert.equal(existsSync(join(state, "sysctl.prev")), false);
    }
    fails(run(SYSCTL, "status", sysctlEnv(tree, state, [])), /usage: .* apply\|revert/);
  }),
);

// ---------------------------------------------------------------- irq affinity

/** 40 CPUs (the mask then has two comma groups), four movable interrupts and one refusing. */
function irqTree(tree: string): void {
  put(tree, {
    "proc/irq/default_smp_affinity": "ff,ffffffff\n",
    "proc/irq/0/smp_affinity_list": "0-39\n",
    "proc/irq/1/smp_affinity_list": "0-39\n",
    "proc/irq/8/smp_affinity_list": "0-39\n",
    "proc/irq/24/smp_affinity_list": "0-19\n",
    "proc/irq/2/spurious": "count 0\n", // no affinity file: not an interrupt to move
    "sys/devices/system/cpu/online": "0-39\n",
    // an irqbalance that has exited and not been reaped yet (a pid above any pid_max): not running
    "proc/4194999/comm": "irqbalance\n",
    "proc/4194999/stat": "4194999 (irqbalance) Z 1 4194999 4194999 0 -1 4228108 0 0 0 0\n",
  });
  link(tree, "proc/irq/9/smp_affinity_list", UNWRITABLE!);
}

function irqEnv(tree: string, state: string, cpus: string): Record<string, string> {
  return {
    TUNING_PROCFS: join(tree, "proc"),
    TUNING_SYSFS: join(tree, "sys"),
    LAB_STATE_DIR: state,
    IRQ_CPUS: cpus,
  };
}

test(
  "dut-irq-affinity.sh: moves every movable interrupt, counts the refusing one; revert after two applies is exact and idempotent",
  { skip: noUnwritable },
  () =>
    withTmp(({ tree, state }) => {
      irqTree(tree);
      const pristine = snapshot(tree);
      const irq = (n: string): string => read(join(tree, "proc/irq", n));
      const env = irqEnv(tree, state, "0,2-3");
      const expected = {
        tuning: "irqbalance",
        action: "apply",
        cpus: "0,2-3",
        irqbalance: "not-running",
        moved: 4,
        unmovable: 1,
      };
      assert.deepEqual(ok(run(IRQ, "apply", env)), expected);
      assert.equal(irq("default_smp_affinity"), "00,0000000d\n");
      for (const n of ["0", "1", "8", "24"])
        assert.equal(irq(`${n}/smp_affinity_list`), "0,2-3\n", `irq ${n}`);
      const record = read(join(state, "irqbalance.prev"));
      assert.match(record, /^irqbalance=not-running\ndefault=ff,ffffffff\nirq 0=0-39\n/);
      assert.match(record, /^irq 24=0-19$/m);
      assert.deepEqual(ok(run(IRQ, "apply", env)), expected, "a second apply: same answer");
      assert.equal(read(join(state, "irqbalance.prev")), record);

      // other CPUs, given unsorted: the kernel's list form, the record kept
      assert.deepEqual(ok(run(IRQ, "apply", irqEnv(tree, state, "1,0"))), { ...expected, cpus: "0-1" });
      assert.equal(irq("default_smp_affinity"), "00,00000003\n");
      assert.equal(irq("24/smp_affinity_list"), "0-1\n");
      assert.equal(read(join(state, "irqbalance.prev")), record);

      assert.deepEqual(ok(run(IRQ, "revert", env)), {
        tuning: "irqbalance",
        action: "revert",
        restored: 6,
        irqbalance: "not-running",
      });
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(join(state, "irqbalance.prev")), false);
      assert.deepEqual(ok(run(IRQ, "revert", env)), {
        tuning: "irqbalance",
        action: "revert",
        restored: 0,
        irqbalance: "not-running",
      });
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

test(
  "dut-irq-affinity.sh writes the mask in the kernel's own width and comma groups",
  { skip: noBash },
  () => {
    const cases: [string, string, string, string][] = [
      // default_smp_affinity, online, IRQ_CPUS, expected mask
      ["3", "0-1", "0", "1"],
      ["3", "0-1", "1", "2"],
      ["f", "0-3", "0,2-3", "d"],
      ["ffffffff", "0-31", "31", "80000000"],
      ["ffffffff,ffffffff", "0-63", "32,63", "80000001,00000000"],
      ["0000ffff,ffffffff,ffffffff", "0-79", "4-7,64", "00000001,00000000,000000f0"],
    ];
    for (const [like, online, cpus, mask] of cases) {
      withTmp(({ tree, state }) => {
        put(tree, {
          "proc/irq/default_smp_affinity": `${like}\n`,
          "proc/irq/5/smp_affinity_list": `${online}\n`,
          "sys/devices/system/cpu/online": `${online}\n`,
        });
        const pristine = snapshot(tree);
        const out = ok(run(IRQ, "apply", irqEnv(tree, state, cpus)));
        assert.equal(out.moved, 1);
        assert.equal(read(join(tree, "proc/irq/default_smp_affinity")), `${mask}\n`, `${like} ${cpus}`);
        ok(run(IRQ, "revert", irqEnv(tree, state, cpus)));
        assert.deepEqual(snapshot(tree), pristine);
      });
    }
  },
);

test("dut-irq-affinity.sh refuses a bad IRQ_CPUS before touching anything", { skip: noBash }, () =>
  withTmp(({ tree, state }) => {
    put(tree, {
      "proc/irq/default_smp_affinity": "ff,ffffffff\n",
      "proc/irq/1/smp_affinity_list": "0-39\n",
      "sys/devices/system/cpu/online": "0-39\n",
    });
    const pristine = snapshot(tree);
    const cases: [string, RegExp][] = [
      ["", /IRQ_CPUS is empty/],
      ["a", /IRQ_CPUS='a': not a CPU list/],
      ["0,,1", /not a CPU list/],
      ["1-", /not a CPU list/],
      ["-1", /not a CPU list/],
      ["0 1", /not a CPU list/],
      ["0;reboot", /not a CPU list/],
      ["3-1", /range 3-1 runs backwards/],
      ["40", /names CPU 40, which is not online here \(online: 0-39\)/],
      ["99999999", /beyond any kernel's 8192 CPUs/],
    ];
    for (const [cpus, message] of cases) {
      fails(run(IRQ, "apply", irqEnv(tree, state, cpus)), message);
      assert.deepEqual(snapshot(tree), pristine, cpus);
      assert.equal(existsSync(state), false);
    }
    // without an online file the kernel's mask width is the limit
    rmSync(join(tree, "sys"), { recursive: true });
    fails(run(IRQ, "apply", irqEnv(tree, state, "40")), /does not fit the kernel's CPU mask 'ff,ffffffff'/);
  }),
);

/** pids of live (not zombie) processes whose argv[0] is exe */
function pidsOf(exe: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv0 = readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0")[0];
      const state = read(`/proc/${name}/stat`).replace(/^.*\) /s, "")[0];
      if (argv0 === exe && state !== "Z") out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sleepMs = (ms: number): void => void spawnSync("sleep", [String(ms / 1000)]);
const hostIrqbalanceWay =
  existsSync("/run/systemd/system") || existsSync("/etc/init.d/irqbalance")
    ? "this host would stop irqbalance with systemctl or service, not SIGTERM"
    : undefined;

test(
  "dut-irq-affinity.sh stops a running irqbalance (SIGTERM without systemd or init script) and starts it again on revert",
  { skip: noBash || hostIrqbalanceWay || (!has("setsid") && "setsid missing") },
  () =>
    withTmp(({ tree, state, root }) => {
      put(tree, { "proc/irq/default_smp_affinity": "3\n", "proc/irq/5/smp_affinity_list": "0-1\n" });
      const pristine = snapshot(tree);
      // a stand-in daemon: sleep under the name irqbalance, reparented away from this test
      const exe = join(root, "bin", "irqbalance");
      mkdirSync(dirname(exe));
      copyFileSync(spawnSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).stdout.trim(), exe);
      spawnSync("sh", ["-c", `setsid "$0" 600 </dev/null >/dev/null 2>&1 &`, exe]);
      try {
        let pids: number[] = [];
        for (let i = 0; i < 50 && pids.length === 0; i++, sleepMs(100)) pids = pidsOf(exe);
        assert.equal(pids.length, 1, "the stand-in irqbalance runs");
        const pid = pids[0]!;
        put(tree, { [`proc/${pid}/comm`]: read(`/proc/${pid}/comm`) });
        // (read and write: copyFileSync copies nothing from procfs)
        writeFileSync(join(tree, `proc/${pid}/cmdline`), readFileSync(`/proc/${pid}/cmdline`));
        const env = irqEnv(tree, state, "0");
        const a = run(IRQ, "apply", env);
        assert.deepEqual(ok(a), {
          tuning: "irqbalance",
          action: "apply",
          cpus: "0",
          irqbalance: "stopped",
          moved: 1,
          unmovable: 0,
        });
        assert.match(a.stderr, new RegExp(`stopping irqbalance \\(pid ${pid}\\) with kill`));
        assert.deepEqual(pidsOf(exe), [], "irqbalance is stopped");
        assert.match(read(join(state, "irqbalance.prev")), /^irqbalance=kill\nirqbalance_cmdline=\S+\n/);
        rmSync(join(tree, `proc/${pid}`), { recursive: true });
        // a later apply: irqbalance stays stopped, the record still knows how to start it
        assert.equal(ok(run(IRQ, "apply", env)).irqbalance, "stopped");

        assert.deepEqual(ok(run(IRQ, "revert", env)), {
          tuning: "irqbalance",
          action: "revert",
          restored: 2,
          irqbalance: "started",
        });
        let again: number[] = [];
        for (let i = 0; i < 50 && again.length === 0; i++, sleepMs(100)) again = pidsOf(exe);
        assert.equal(again.length, 1, "irqbalance runs again, with its command line");
        assert.equal(read(`/proc/${again[0]}/cmdline`), `${exe}\u0000600\u0000`);
        assert.deepEqual(snapshot(tree), pristine);
      } finally {
        for (const p of pidsOf(exe)) process.kill(p, "SIGKILL");
      }
    }),
);

// ---------------------------------------------------------------- cpufreq

function cpufreqTree(tree: string, turbo: "intel_pstate" | "boost", governor = "powersave"): void {
  const cpu = "sys/devices/system/cpu";
  const files: Record<string, string> = {};
  for (const c of [0, 1]) {
    files[`${cpu}/cpu${c}/cpufreq/scaling_governor`] = `${governor}\n`;
    files[`${cpu}/cpu${c}/cpufreq/scaling_available_governors`] = "performance powersave \n";
  }
  if (turbo === "intel_pstate") files[`${cpu}/intel_pstate/no_turbo`] = "0\n";
  else files[`${cpu}/cpufreq/boost`] = "1\n";
  put(tree, files);
}

function cpufreqEnv(tree: string, state: string, governor: string, turbo: string): Record<string, string> {
  return {
    TUNING_SYSFS: join(tree, "sys"),
    TUNING_PROCFS: join(tree, "proc"),
    LAB_STATE_DIR: state,
    CPUFREQ_GOVERNOR: governor,
    CPUFREQ_TURBO: turbo,
  };
}

test(
  "dut-cpufreq.sh: governor performance on every CPU, turbo off via intel_pstate; revert after two applies is exact and idempotent",
  { skip: noBash },
  () =>
    withTmp(({ tree, state }) => {
      cpufreqTree(tree, "intel_pstate");
      const pristine = snapshot(tree);
      const cpu = (rel: string): string => read(join(tree, "sys/devices/system/cpu", rel));
      const env = cpufreqEnv(tree, state, "performance", "off");
      const expected = {
        tuning: "cpufreq",
        action: "apply",
        governor: { status: "applied", value: "performance", cpus: 2 },
        turbo: { status: "applied", via: "intel_pstate/no_turbo" },
      };
      assert.deepEqual(ok(run(CPUFREQ, "apply", env)), expected);
      assert.equal(cpu("cpu0/cpufreq/scaling_governor"), "performance\n");
      assert.equal(cpu("cpu1/cpufreq/scaling_governor"), "performance\n");
      assert.equal(cpu("intel_pstate/no_turbo"), "1\n");
      const record = read(join(state, "cpufreq.prev"));
      assert.equal(
        record,
        "devices/system/cpu/cpu0/cpufreq/scaling_governor=powersave\n" +
          "devices/system/cpu/cpu1/cpufreq/scaling_governor=powersave\n" +
          "devices/system/cpu/intel_pstate/no_turbo=0\n",
      );
      assert.deepEqual(ok(run(CPUFREQ, "apply", env)), expected);
      assert.equal(read(join(state, "cpufreq.prev")), record);
      // a third apply that leaves both alone: skipped, nothing changes
      assert.deepEqual(ok(run(CPUFREQ, "apply", cpufreqEnv(tree, state, "", ""))), {
        tuning: "cpufreq",
        action: "apply",
        governor: {
          status: "skipped",
          value: "",
          cpus: 0,
          reason: "CPUFREQ_GOVERNOR is empty: governor left alone",
        },
        turbo: { status: "skipped", reason: "CPUFREQ_TURBO is empty: turbo left alone" },
      });
      assert.equal(cpu("cpu0/cpufreq/scaling_governor"), "performance\n");

      assert.deepEqual(ok(run(CPUFREQ, "revert", env)), { tuning: "cpufreq", action: "revert", restored: 3 });
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(join(state, "cpufreq.prev")), false);
      assert.deepEqual(ok(run(CPUFREQ, "revert", env)), { tuning: "cpufreq", action: "revert", restored: 0 });
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

test("dut-cpufreq.sh: turbo off via cpufreq/boost when there is no intel_pstate", { skip: noBash }, () =>
  withTmp(({ tree, state }) => {
    cpufreqTree(tree, "boost", "performance");
    const pristine = snapshot(tree);
    const env = cpufreqEnv(tree, state, "performance", "off");
    assert.deepEqual(ok(run(CPUFREQ, "apply", env)), {
      tuning: "cpufreq",
      action: "apply",
      governor: { status: "applied", value: "performance", cpus: 2 },
      turbo: { status: "applied", via: "cpufreq/boost" },
    });
    assert.equal(read(join(tree, "sys/devices/system/cpu/cpufreq/boost")), "0\n");
    assert.deepEqual(ok(run(CPUFREQ, "revert", env)), { tuning: "cpufreq", action: "revert", restored: 3 });
    assert.deepEqual(snapshot(tree), pristine);
  }),
);

test("dut-cpufreq.sh: no cpufreq at all is unavailable, not an error", { skip: noBash }, () =>
  withTmp(({ tree, state }) => {
    // like this kind of virtual machine: CPUs and an empty cpufreq directory
    mkdirSync(join(tree, "sys/devices/system/cpu/cpu0"), { recursive: true });
    mkdirSync(join(tree, "sys/devices/system/cpu/cpu1"));
    mkdirSync(join(tree, "sys/devices/system/cpu/cpufreq"));
    const pristine = snapshot(tree);
    const dir = join(tree, "sys/devices/system/cpu");
    const env = cpufreqEnv(tree, state, "performance", "off");
    const expected = {
      tuning: "cpufreq",
      action: "apply",
      governor: {
        status: "unavailable",
        value: "performance",
        cpus: 0,
        reason: `no cpufreq under ${dir} (a virtual machine, or no cpufreq driver loaded)`,
      },
      turbo: {
        status: "unavailable",
        reason: `neither intel_pstate/no_turbo nor cpufreq/boost under ${dir} (a virtual machine, or a cpufreq driver without turbo control)`,
      },
    };
    assert.deepEqual(ok(run(CPUFREQ, "apply", env)), expected);
    assert.deepEqual(ok(run(CPUFREQ, "apply", env)), expected);
    assert.deepEqual(snapshot(tree), pristine);
    assert.deepEqual(ok(run(CPUFREQ, "revert", env)), { tuning: "cpufreq", action: "revert", restored: 0 });
  }),
);

test(
  "dut-cpufreq.sh: a governor the CPUs do not offer is refused before anything changes",
  { skip: noBash },
  () =>
    withTmp(({ tree, state }) => {
      cpufreqTree(tree, "intel_pstate");
      const pristine = snapshot(tree);
      fails(
        run(CPUFREQ, "apply", cpufreqEnv(tree, state, "ondemand", "off")),
        /cpu0 offers the governors 'performance powersave', not ondemand/,
        /remove cpu-governor from vhost-perf-lab:tuning\.apply/,
      );
      fails(run(CPUFREQ, "apply", cpufreqEnv(tree, state, "perf ormance", "")), /not a governor name/);
      fails(run(CPUFREQ, "apply", cpufreqEnv(tree, state, "", "on")), /CPUFREQ_TURBO='on': only off/);
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(state), false);
    }),
);

test(
  "dut-cpufreq.sh: a turbo switch the kernel refuses puts the governors back and fails naming it",
  { skip: noUnwritable },
  () =>
    withTmp(({ tree, state }) => {
      cpufreqTree(tree, "boost");
      rmSync(join(tree, "sys/devices/system/cpu/cpufreq/boost"));
      link(tree, "sys/devices/system/cpu/intel_pstate/no_turbo", UNWRITABLE!);
      const pristine = snapshot(tree);
      const r = run(CPUFREQ, "apply", cpufreqEnv(tree, state, "performance", "off"));
      fails(
        r,
        /cannot write 1 to .*intel_pstate\/no_turbo: \S/,
        /remove turbo-off from vhost-perf-lab:tuning\.apply/,
      );
      assert.match(r.stderr, /put back .*cpu0\/cpufreq\/scaling_governor = powersave/);
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(join(state, "cpufreq.prev")), false);
    }),
);

// ---------------------------------------------------------------- this machine, for real

const realSkip = noBash || (!isRoot && "needs root");

test(
  "dut-sysctl.sh on this machine: vm.swappiness=0 and kernel.randomize_va_space=0, then exactly as before",
  { skip: realSkip || (!existsSync("/proc/sys/vm/swappiness") && "no /proc/sys") },
  () =>
    withTmp(({ state }) => {
      const keys = ["vm/swappiness", "kernel/randomize_va_space"];
      const now = (): string[] => keys.map((k) => read(`/proc/sys/${k}`));
      const before = now();
      const env = { LAB_STATE_DIR: state, SYSCTL_SETTINGS: "vm.swappiness=0\nkernel.randomize_va_space=0" };
      let reverted: Run | undefined;
      try {
        assert.deepEqual(ok(run(SYSCTL, "apply", env)), {
          tuning: "sysctl",
          action: "apply",
          settings: [
            { key: "vm.swappiness", before: before[0]!.trim(), value: "0" },
            { key: "kernel.randomize_va_space", before: before[1]!.trim(), value: "0" },
          ],
          missing: [],
        });
        assert.deepEqual(now(), ["0\n", "0\n"]);
      } finally {
        reverted = run(SYSCTL, "revert", env); // whatever happened above
      }
      assert.deepEqual(ok(reverted), { tuning: "sysctl", action: "revert", restored: 2 });
      assert.deepEqual(now(), before);
    }),
);

function realIrqbalanceRuns(): boolean {
  return readdirSync("/proc").some((n) => {
    try {
      if (!/^\d+$/.test(n) || read(`/proc/${n}/comm`).trim() !== "irqbalance") return false;
      return read(`/proc/${n}/stat`).replace(/^.*\) /s, "")[0] !== "Z";
    } catch {
      return false;
    }
  });
}

/** CPU 0 alone as a mask in the width and comma groups of like ("3" -> "1", "ff,ffffffff" -> "00,00000001") */
function cpu0MaskLike(like: string): string {
  const digits = "1".padStart(like.replace(/,/g, "").length, "0");
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 8) groups.unshift(digits.slice(Math.max(0, end - 8), end));
  return groups.join(",");
}

test(
  "dut-irq-affinity.sh on this machine: IRQ_CPUS=0, then every affinity exactly as before",
  {
    skip:
      realSkip ||
      (!existsSync("/proc/irq/default_smp_affinity") && "no /proc/irq") ||
      (realIrqbalanceRuns() && "irqbalance runs here: not stopping the host's daemon in a test"),
  },
  () =>
    withTmp(({ state }) => {
      const lists = readdirSync("/proc/irq")
        .filter((n) => /^\d+$/.test(n) && existsSync(`/proc/irq/${n}/smp_affinity_list`))
        .map((n) => `/proc/irq/${n}/smp_affinity_list`);
      const files = ["/proc/irq/default_smp_affinity", ...lists];
      const before = new Map(files.map((f) => [f, read(f)]));
      const env = { LAB_STATE_DIR: state, IRQ_CPUS: "0" };
      let reverted: Run | undefined;
      try {
        const out = ok(run(IRQ, "apply", env));
        const { moved, unmovable, ...rest } = out as { moved: number; unmovable: number };
        assert.deepEqual(rest, {
          tuning: "irqbalance",
          action: "apply",
          cpus: "0",
          irqbalance: "not-running",
        });
        assert.equal(moved + unmovable, lists.length);
        assert.ok(moved > 0, "some interrupt moved");
        const like = before.get("/proc/irq/default_smp_affinity")!.trim();
        assert.equal(read("/proc/irq/default_smp_affinity"), `${cpu0MaskLike(like)}\n`);
        const onZero = lists.filter((f) => read(f) === "0\n");
        assert.equal(onZero.length, moved, "every moved interrupt reads CPU 0");
        for (const f of lists)
          if (read(f) !== "0\n") assert.equal(read(f), before.get(f), `${f} unmovable, unchanged`);
      } finally {
        reverted = run(IRQ, "revert", env); // whatever happened above
      }
      assert.deepEqual(ok(reverted), {
        tuning: "irqbalance",
        action: "revert",
        restored: lists.length + 1,
        irqbalance: "not-running",
      });
      for (const [f, v] of before) assert.equal(read(f), v, f);
    }),
);

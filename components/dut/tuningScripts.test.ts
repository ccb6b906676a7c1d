/**
 * The remote side of the DUT tunings: scripts/dut-sysctl.sh, scripts/dut-irq-affinity.sh and
 * scripts/dut-cpufreq.sh, run against fake /proc and /sys trees in temporary directories
 * (TUNING_PROCFS, TUNING_SYSFS, LAB_STATE_DIR, LAB_STATE_ROOT), plus one real run of the sysctl
 * and irq tunings on this machine when root and no lab here holds them (read before, applied,
 * reverted, compared). A write the kernel refuses is simulated with a symlink to a real
 * read-only kernel file (a 0444 sysctl or sysfs attribute refuses even root), which the scripts
 * can read but never write. Issue 9: tunings held by another stack, values changed by hand
 * since apply, IRQ reverts that cannot finish, SIGTERM/SIGINT mid-apply (a stand-in `cat` holds
 * the script mid-way, see scriptTestKit.ts) and a broken stderr.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  ROOT,
  UNWRITABLE as UNWRITABLE_FILES,
  fails,
  fakeBin,
  noPython,
  runBrokenStderr,
  runCancelled,
  has,
  isRoot,
  link,
  noBash,
  noUnwritable,
  ok,
  put,
  read,
  run,
  script,
  shellcheck,
  snapshot,
  withTmp,
  type Run,
} from "./scriptTestKit";

const SYSCTL = script("dut-sysctl.sh");
const IRQ = script("dut-irq-affinity.sh");
const CPUFREQ = script("dut-cpufreq.sh");
const UNWRITABLE = UNWRITABLE_FILES[0];

for (const path of [SYSCTL, IRQ, CPUFREQ, join(ROOT, "scripts", "lib", "tuning-common.sh")]) {
  const name = path.slice(ROOT.length + 1);
  test(`shellcheck -x ${name} is clean`, { skip: !has("shellcheck") && "shellcheck missing" }, () =>
    shellcheck(path),
  );
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
      // the originals, each with what apply left it at
      const record = read(join(state, "sysctl.prev"));
      assert.equal(
        record,
        "vm.swappiness=60\n+vm.swappiness=0\n" +
          "kernel.randomize_va_space=2\n+kernel.randomize_va_space=0\n" +
          "kernel.shmmax=18446744073692774399\n+kernel.shmmax=18446744073692774399\n" +
          "kernel.shmall=18446744073692774399\n+kernel.shmall=18446744073692774400\n" +
          "vm.max_map_count=65530\n+vm.max_map_count=262144\n" +
          "kernel.watchdog_cpumask=0-1\n+kernel.watchdog_cpumask=0\n" +
          "net.ipv4.tcp_rmem=4096\t131072\t6291456\n+net.ipv4.tcp_rmem=4096\t131072\t6291456\n",
      );

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
      assert.equal(
        read(join(state, "sysctl.prev")),
        record.replace("+vm.swappiness=0", "+vm.swappiness=10") + "vm.dirty_ratio=20\n+vm.dirty_ratio=5\n",
        "originals kept, what this apply left them at updated",
      );

      assert.deepEqual(ok(run(SYSCTL, "revert", second)), {
        tuning: "sysctl",
        action: "revert",
        restored: 8,
        changedSinceApply: [],
      });
      assert.deepEqual(snapshot(tree), before);
      assert.equal(existsSync(join(state, "sysctl.prev")), false);
      assert.deepEqual(ok(run(SYSCTL, "revert", second)), {
        tuning: "sysctl",
        action: "revert",
        restored: 0,
        changedSinceApply: [],
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

      assert.deepEqual(ok(run(SYSCTL, "revert", env)), {
        tuning: "sysctl",
        action: "revert",
        restored: 1,
        changedSinceApply: [],
      });
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

      // the default and the four moved interrupts (9 refused the move: never recorded)
      assert.doesNotMatch(record, /^irq 9=/m);
      assert.deepEqual(ok(run(IRQ, "revert", env)), {
        tuning: "irqbalance",
        action: "revert",
        restored: 5,
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
          "+devices/system/cpu/cpu0/cpufreq/scaling_governor=performance\n" +
          "devices/system/cpu/cpu1/cpufreq/scaling_governor=powersave\n" +
          "+devices/system/cpu/cpu1/cpufreq/scaling_governor=performance\n" +
          "devices/system/cpu/intel_pstate/no_turbo=0\n" +
          "+devices/system/cpu/intel_pstate/no_turbo=1\n",
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

      assert.deepEqual(ok(run(CPUFREQ, "revert", env)), {
        tuning: "cpufreq",
        action: "revert",
        restored: 3,
        changedSinceApply: [],
      });
      assert.deepEqual(snapshot(tree), pristine);
      assert.equal(existsSync(join(state, "cpufreq.prev")), false);
      assert.deepEqual(ok(run(CPUFREQ, "revert", env)), {
        tuning: "cpufreq",
        action: "revert",
        restored: 0,
        changedSinceApply: [],
      });
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
    assert.deepEqual(ok(run(CPUFREQ, "revert", env)), {
      tuning: "cpufreq",
      action: "revert",
      restored: 3,
      changedSinceApply: [],
    });
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
    assert.deepEqual(ok(run(CPUFREQ, "revert", env)), {
      tuning: "cpufreq",
      action: "revert",
      restored: 0,
      changedSinceApply: [],
    });
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
const LAB_STATE_ROOT = "/var/lib/vhost-perf-lab";

/** A lab's record of this tuning on this machine (a lab is up here: its tuning is not ours to touch). */
function labRecord(name: string): string | undefined {
  if (!existsSync(LAB_STATE_ROOT)) return undefined;
  const candidates = [
    join(LAB_STATE_ROOT, name),
    ...readdirSync(LAB_STATE_ROOT).map((d) => join(LAB_STATE_ROOT, d, name)),
  ];
  return candidates.find((f) => existsSync(f));
}
const heldHere = (name: string): string | false => {
  const r = labRecord(name);
  return r !== undefined && `a lab on this machine holds it (${r})`;
};

test(
  "this machine's lab state: while a lab here holds sysctl or irqbalance, another stack's apply is refused (the kernel side is a fake tree)",
  {
    skip:
      realSkip || (!labRecord("sysctl.prev") && !labRecord("irqbalance.prev") && "no lab holds them here"),
  },
  () =>
    withTmp(({ tree }) => {
      // the real state root, read only: the scripts write only into the fake trees, even a
      // script that would not refuse (a test must never touch a lab's tunings)
      put(tree, SYSCTL_TREE);
      put(tree, {
        "proc/irq/default_smp_affinity": "3\n",
        "proc/irq/5/smp_affinity_list": "0-1\n",
        "sys/devices/system/cpu/online": "0-1\n",
      });
      const pristine = snapshot(tree);
      const stack = `vpl-test-${process.pid}`;
      const stateDir = join(LAB_STATE_ROOT, stack);
      const env = {
        ...irqEnv(tree, stateDir, "0"),
        ...sysctlEnv(tree, stateDir, ["vm.swappiness=0"]),
        LAB_STACK: stack,
        LAB_STATE_ROOT,
      };
      try {
        for (const [path, name, tuning] of [
          [SYSCTL, "sysctl.prev", "sysctl"],
          [IRQ, "irqbalance.prev", "irqbalance"],
        ] as const) {
          const held = labRecord(name);
          if (!held) continue;
          const other = dirname(held) === LAB_STATE_ROOT ? "a lab from before per-stack state" : "stack ";
          fails(
            run(path, "apply", env),
            new RegExp(`tuning ${tuning} is held by ${other}`),
            /\(record \/var\/lib\/vhost-perf-lab\//,
          );
          assert.equal(existsSync(stateDir), false);
        }
        assert.deepEqual(snapshot(tree), pristine);
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    }),
);

test(
  "dut-sysctl.sh on this machine: vm.swappiness=0 and kernel.randomize_va_space=0, then exactly as before",
  {
    skip: realSkip || (!existsSync("/proc/sys/vm/swappiness") && "no /proc/sys") || heldHere("sysctl.prev"),
  },
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
      assert.deepEqual(ok(reverted), {
        tuning: "sysctl",
        action: "revert",
        restored: 2,
        changedSinceApply: [],
      });
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
      (realIrqbalanceRuns() && "irqbalance runs here: not stopping the host's daemon in a test") ||
      heldHere("irqbalance.prev"),
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
      let movedNow = -1;
      try {
        const out = ok(run(IRQ, "apply", env));
        const { moved, unmovable, ...rest } = out as { moved: number; unmovable: number };
        movedNow = moved;
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
        restored: movedNow + 1, // the default and the moved ones (unmovable ones are not recorded)
        irqbalance: "not-running",
      });
      for (const [f, v] of before) assert.equal(read(f), v, f);
    }),
);

// ---------------------------------------------------------------- issue 9: held tunings

/** Two stacks' state directories under one state root, as step.sh gives them. */
function stackEnv(root: string, stack: string): Record<string, string> {
  return { LAB_STACK: stack, LAB_STATE_ROOT: join(root, "lab"), LAB_STATE_DIR: join(root, "lab", stack) };
}

test(
  "host-global tunings: apply refuses before changing anything when another stack's record holds the same tuning",
  { skip: noBash },
  () =>
    withTmp(({ tree, root }) => {
      put(tree, SYSCTL_TREE);
      put(tree, {
        "proc/irq/default_smp_affinity": "3\n",
        "proc/irq/5/smp_affinity_list": "0-1\n",
        "sys/devices/system/cpu/online": "0-1\n",
      });
      cpufreqTree(tree, "boost");
      const pristine = snapshot(tree);
      const a = stackEnv(root, "alpha");
      const b = stackEnv(root, "beta");
      const sysctl = { ...sysctlEnv(tree, "", ["vm.swappiness=0"]), ...a };
      const irq = { ...irqEnv(tree, "", "0"), ...a };
      const gov = { ...cpufreqEnv(tree, "", "performance", ""), ...a };
      const turbo = { ...cpufreqEnv(tree, "", "", "off"), ...a };
      // alpha holds sysctl, irqbalance and the governor
      ok(run(SYSCTL, "apply", sysctl));
      ok(run(IRQ, "apply", irq));
      ok(run(CPUFREQ, "apply", gov));
      const applied = snapshot(tree);
      const fix = (x: string): RegExp =>
        new RegExp(
          `^\\[\\w+\\] ERROR: tuning ${x} is held by stack alpha \\(record ${join(root, "lab", "alpha")}/\\S+\\); ` +
            `fix: destroy that stack or remove ${x} from vhost-perf-lab:tuning\\.apply$`,
          "m",
        );
      fails(run(SYSCTL, "apply", { ...sysctl, ...b }), fix("sysctl"));
      fails(run(IRQ, "apply", { ...irq, ...b }), fix("irqbalance"));
      fails(run(CPUFREQ, "apply", { ...gov, ...b }), fix("cpu-governor"));
      assert.deepEqual(snapshot(tree), applied, "nothing changed");
      assert.equal(existsSync(b.LAB_STATE_DIR!), false, "no record for beta");
      // the turbo is not held by alpha: beta may take it, and alpha then may not
      ok(run(CPUFREQ, "apply", { ...turbo, ...b }));
      assert.equal(read(join(tree, "sys/devices/system/cpu/cpufreq/boost")), "0\n");
      fails(run(CPUFREQ, "apply", { ...turbo, ...a }), /tuning turbo-off is held by stack beta/);
      // a stack's own record is no conflict: alpha applies again
      ok(run(SYSCTL, "apply", sysctl));
      ok(run(IRQ, "apply", irq));
      ok(run(CPUFREQ, "apply", gov));
      for (const s of [SYSCTL, IRQ, CPUFREQ]) ok(run(s, "revert", { ...gov, ...irq, ...sysctl }));
      ok(run(CPUFREQ, "revert", { ...turbo, ...b }));
      assert.deepEqual(snapshot(tree), pristine);
      // now beta may hold sysctl
      ok(run(SYSCTL, "apply", { ...sysctl, ...b }));
      ok(run(SYSCTL, "revert", { ...sysctl, ...b }));
      assert.deepEqual(snapshot(tree), pristine);

      // a record of a lab from before per-stack state (directly under the state root)
      put(root, { "lab/sysctl.prev": "vm.swappiness=60\n" });
      fails(
        run(SYSCTL, "apply", sysctl),
        /tuning sysctl is held by a lab from before per-stack state \(record .*\/lab\/sysctl\.prev\)/,
      );
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

// ---------------------------------------------------------------- issue 9: changed by hand

test(
  "dut-sysctl.sh revert: a value changed by hand since apply is put back to the original all the same and reported; a second revert is a no-op",
  { skip: noBash },
  () =>
    withTmp(({ tree, state }) => {
      put(tree, SYSCTL_TREE);
      const pristine = snapshot(tree);
      const env = sysctlEnv(tree, state, ["vm.swappiness=0", "vm.max_map_count>=262144", "vm.dirty_ratio=5"]);
      ok(run(SYSCTL, "apply", env));
      writeFileSync(join(tree, "proc/sys/vm/swappiness"), "33\n"); // by hand, since
      writeFileSync(join(tree, "proc/sys/vm/dirty_ratio"), "20\n"); // by hand, back to the original
      const r = run(SYSCTL, "revert", env);
      assert.deepEqual(ok(r), {
        tuning: "sysctl",
        action: "revert",
        restored: 3,
        changedSinceApply: [{ key: "vm.swappiness", applied: "0", found: "33" }],
      });
      assert.match(
        r.stderr,
        /^\[sysctl\] WARNING: vm\.swappiness was changed since apply \(applied '0', found '33'\): putting back the recorded original '60'/m,
      );
      assert.deepEqual(snapshot(tree), pristine);
      const again = run(SYSCTL, "revert", env);
      assert.deepEqual(ok(again), { tuning: "sysctl", action: "revert", restored: 0, changedSinceApply: [] });
      assert.match(again.stderr, /nothing recorded/);
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

test("dut-cpufreq.sh revert reports a governor changed by hand since apply", { skip: noBash }, () =>
  withTmp(({ tree, state }) => {
    cpufreqTree(tree, "boost");
    const pristine = snapshot(tree);
    const env = cpufreqEnv(tree, state, "performance", "off");
    ok(run(CPUFREQ, "apply", env));
    writeFileSync(join(tree, "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"), "ondemand\n");
    assert.deepEqual(ok(run(CPUFREQ, "revert", env)), {
      tuning: "cpufreq",
      action: "revert",
      restored: 3,
      changedSinceApply: [
        {
          key: "devices/system/cpu/cpu1/cpufreq/scaling_governor",
          applied: "performance",
          found: "ondemand",
        },
      ],
    });
    assert.deepEqual(snapshot(tree), pristine);
  }),
);

// ---------------------------------------------------------------- issue 9: IRQ revert failures

test(
  "dut-irq-affinity.sh revert: an affinity it cannot restore fails the revert naming the IRQ and stays in the record; a second revert finishes",
  { skip: noUnwritable },
  () =>
    withTmp(({ tree, state }) => {
      put(tree, {
        "proc/irq/default_smp_affinity": "3\n",
        "proc/irq/1/smp_affinity_list": "0-1\n",
        "proc/irq/8/smp_affinity_list": "0-1\n",
        "proc/irq/11/smp_affinity_list": "0-1\n",
        "sys/devices/system/cpu/online": "0-1\n",
      });
      const pristine = snapshot(tree);
      const env = irqEnv(tree, state, "0");
      assert.equal(ok(run(IRQ, "apply", env)).moved, 3);
      // a driver now holds irqs 8 and 11: their affinity refuses every write
      link(tree, "proc/irq/8/smp_affinity_list", UNWRITABLE!);
      link(tree, "proc/irq/11/smp_affinity_list", UNWRITABLE!);
      const r = run(IRQ, "revert", env);
      fails(
        r,
        /could not restore the affinity of irq 8 \(to 0-1: \S.*\) irq 11 \(to 0-1: \S.*\)/,
        /run revert again/,
      );
      assert.equal(read(join(tree, "proc/irq/default_smp_affinity")), "3\n");
      assert.equal(read(join(tree, "proc/irq/1/smp_affinity_list")), "0-1\n");
      assert.equal(
        read(join(state, "irqbalance.prev")),
        "irqbalance=not-running\nirq 8=0-1\nirq 11=0-1\n",
        "exactly what was not restored",
      );
      // the same again: still failing, the record unchanged
      fails(run(IRQ, "revert", env), /irq 8 .*irq 11/);
      // the driver lets go of irq 11 only
      rmSync(join(tree, "proc/irq/11/smp_affinity_list"));
      put(tree, { "proc/irq/11/smp_affinity_list": "0\n" });
      fails(run(IRQ, "revert", env), /could not restore the affinity of irq 8 \(/);
      assert.equal(read(join(state, "irqbalance.prev")), "irqbalance=not-running\nirq 8=0-1\n");
      assert.equal(read(join(tree, "proc/irq/11/smp_affinity_list")), "0-1\n");
      // and of irq 8
      rmSync(join(tree, "proc/irq/8/smp_affinity_list"));
      put(tree, { "proc/irq/8/smp_affinity_list": "0\n" });
      assert.deepEqual(ok(run(IRQ, "revert", env)), {
        tuning: "irqbalance",
        action: "revert",
        restored: 1,
        irqbalance: "not-running",
      });
      assert.equal(existsSync(join(state, "irqbalance.prev")), false);
      assert.deepEqual(snapshot(tree), pristine);
    }),
);

test(
  "dut-irq-affinity.sh revert: an unmovable IRQ that apply never moved is no failure, even when its affinity changed since",
  {
    skip:
      noUnwritable ||
      (UNWRITABLE_FILES.length < 2 && "needs two read-only kernel files with different values"),
  },
  () =>
    withTmp(({ tree, state }) => {
      put(tree, {
        "proc/irq/default_smp_affinity": "3\n",
        "proc/irq/1/smp_affinity_list": "0-1\n",
        "sys/devices/system/cpu/online": "0-1\n",
      });
      link(tree, "proc/irq/9/smp_affinity_list", UNWRITABLE_FILES[0]!);
      const env = irqEnv(tree, state, "0");
      assert.deepEqual(ok(run(IRQ, "apply", env)), {
        tuning: "irqbalance",
        action: "apply",
        cpus: "0",
        irqbalance: "not-running",
        moved: 1,
        unmovable: 1,
      });
      assert.doesNotMatch(read(join(state, "irqbalance.prev")), /^irq 9=/m);
      // the kernel moved the managed interrupt itself (a CPU went offline and back, say)
      link(tree, "proc/irq/9/smp_affinity_list", UNWRITABLE_FILES[1]!);
      assert.deepEqual(ok(run(IRQ, "revert", env)), {
        tuning: "irqbalance",
        action: "revert",
        restored: 2,
        irqbalance: "not-running",
      });
      assert.equal(read(join(tree, "proc/irq/1/smp_affinity_list")), "0-1\n");
    }),
);

// ---------------------------------------------------------------- issue 9: cancel, broken stderr

interface Held {
  name: string;
  script: string;
  /** the fake tree, the env of one apply, the file whose read holds the apply mid-way, and at
   * which read of it (by then the apply has changed something already) */
  setup: (tree: string, state: string) => { env: Record<string, string>; stallFile: string; stallAt: number };
  /** what the apply changes before it is held: proves the run was mid-way */
  changed: (tree: string) => boolean;
}

const HELD: Held[] = [
  {
    name: "dut-sysctl.sh",
    script: SYSCTL,
    setup: (tree, state) => {
      put(tree, SYSCTL_TREE);
      // reads of dirty_ratio: 1 first touch, 2 before its write (swappiness is written by then)
      const env = sysctlEnv(tree, state, ["vm.swappiness=0", "vm.dirty_ratio=5"]);
      return { env, stallFile: join(tree, "proc/sys/vm/dirty_ratio"), stallAt: 2 };
    },
    changed: (tree) => read(join(tree, "proc/sys/vm/swappiness")) === "0\n",
  },
  {
    name: "dut-irq-affinity.sh",
    script: IRQ,
    setup: (tree, state) => {
      put(tree, {
        "proc/irq/default_smp_affinity": "3\n",
        "proc/irq/1/smp_affinity_list": "0-1\n",
        "proc/irq/8/smp_affinity_list": "0-1\n",
        "sys/devices/system/cpu/online": "0-1\n",
      });
      // reads of irq 8: 1 first touch, 2 in the move loop (default and irq 1 moved by then)
      return {
        env: irqEnv(tree, state, "0"),
        stallFile: join(tree, "proc/irq/8/smp_affinity_list"),
        stallAt: 2,
      };
    },
    changed: (tree) => read(join(tree, "proc/irq/1/smp_affinity_list")) === "0\n",
  },
  {
    name: "dut-cpufreq.sh",
    script: CPUFREQ,
    setup: (tree, state) => {
      cpufreqTree(tree, "boost");
      // reads of cpu1's governor: 1 first touch, 2 before its write (cpu0 written by then)
      return {
        env: cpufreqEnv(tree, state, "performance", "off"),
        stallFile: join(tree, "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"),
        stallAt: 2,
      };
    },
    changed: (tree) =>
      read(join(tree, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")) === "performance\n",
  },
];

for (const h of HELD) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(
      `${h.name}: ${signal} in the middle of apply puts back what the run changed and exits non-zero`,
      { skip: noBash },
      () =>
        withTmp(async ({ tree, state, root }) => {
          const { env, stallFile, stallAt } = h.setup(tree, state);
          const pristine = snapshot(tree);
          const ready = join(root, "held");
          const bin = fakeBin(join(root, "bin"));
          // the stall is read through the stand-in cat: the tree is as the script left it then
          let changedWhenHeld = false;
          const poll = setInterval(() => {
            if (existsSync(ready) && !changedWhenHeld) changedWhenHeld = h.changed(tree);
          }, 5);
          const r = await runCancelled(
            h.script,
            "apply",
            {
              ...env,
              PATH_PREFIX: bin,
              STALL_FILE: stallFile,
              STALL_AT: String(stallAt),
              STALL_READY: ready,
            },
            ready,
            signal,
          );
          clearInterval(poll);
          assert.ok(r.reached, `the apply was held mid-way: ${r.stderr}`);
          assert.ok(changedWhenHeld, "the apply had changed something when it was cancelled");
          assert.equal(r.status, signal === "SIGTERM" ? 143 : 130, r.stderr);
          assert.equal(r.stdout, "");
          assert.match(
            r.stderr,
            new RegExp(`stopped by ${signal} during apply: putting back what this run changed`),
          );
          assert.deepEqual(snapshot(tree), pristine);
          assert.equal(
            existsSync(
              join(
                state,
                h.script === SYSCTL ? "sysctl.prev" : h.script === IRQ ? "irqbalance.prev" : "cpufreq.prev",
              ),
            ),
            false,
          );
        }),
    );
  }
}

test(
  "tuning scripts with a broken stderr (connection gone, no tee -p): apply and revert run to their end; a failing apply still undoes itself",
  { skip: noBash || noPython },
  () =>
    withTmp(({ tree, state }) => {
      for (const h of HELD) {
        const { env } = h.setup(tree, state);
        const pristine = snapshot(tree);
        const a = runBrokenStderr(h.script, "apply", env);
        assert.equal(a.status, 0, `${h.name} apply: exit ${a.status}`);
        assert.ok(h.changed(tree), `${h.name} applied`);
        assert.equal(JSON.parse(a.stdout.trim()).action, "apply");
        const r = runBrokenStderr(h.script, "revert", env);
        assert.equal(r.status, 0, `${h.name} revert: exit ${r.status}`);
        assert.deepEqual(snapshot(tree), pristine, h.name);
        rmSync(tree, { recursive: true });
        mkdirSync(tree);
      }
      if (UNWRITABLE) {
        put(tree, SYSCTL_TREE);
        link(tree, "proc/sys/kernel/locked", UNWRITABLE);
        const pristine = snapshot(tree);
        const r = runBrokenStderr(
          SYSCTL,
          "apply",
          sysctlEnv(tree, state, ["vm.swappiness=0", "kernel.locked=1"]),
        );
        assert.equal(r.status, 1);
        assert.deepEqual(snapshot(tree), pristine, "the failed apply undid itself");
        assert.equal(existsSync(join(state, "sysctl.prev")), false);
      }
    }),
);

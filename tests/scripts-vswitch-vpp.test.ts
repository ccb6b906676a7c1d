/**
 * scripts/vswitch-vpp.sh for real on this machine, against stand-ins written here (VPP is in no
 * registry this machine reaches): a `vpp` that records its argv, opens its CLI socket (a real unix
 * socket file) and runs until stopped; a `vppctl` that logs every command it gets and answers with
 * the recorded outputs of lib/vswitch/vpp/testdata (written in VPP's format, see its README); and
 * `dpkg-query`, `apt-get`, `curl`, `gpg` playing the DUT's package system and FD.io's repository.
 * The startup.conf and the wiring come from the TypeScript generators, so the test pins the exact
 * vppctl command sequence the script sends. Paths under /etc, /usr, /proc and /dev/shm are
 * redirected into temporary directories: nothing of the machine is touched.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { has, run, runCancelled, script, shellcheck, type Run } from "../components/dut/scriptTestKit";
import { TempDirs, ROOT } from "./support/host";
import { vppStartupConf } from "../lib/vswitch/vpp/startupConf";
import { vppWiring, wiringScript } from "../lib/vswitch/vpp/commands";

const VS = script("vswitch-vpp.sh");
const skip = !(has("python3") && has("setsid") && has("base64")) && "needs python3, setsid, base64";
const tmp = new TempDirs();
const DATA = join(ROOT, "lib", "vswitch", "vpp", "testdata");
const FPR = "0123456789ABCDEF0123456789ABCDEF01234567";

afterEach(() =>
  tmp.removeAll((dir) => {
    const pidf = join(dir, "fake", "vpp.pid");
    if (existsSync(pidf)) {
      try {
        process.kill(Number(readFileSync(pidf, "utf8")), "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }),
);

const STAND_INS: Record<string, string> = {
  vpp: `#!/bin/bash
# stand-in for VPP: argv recorded, the CLI socket of its startup.conf opened, runs until stopped
printf '%s\\n' "$@" >"$FAKE/vpp.argv"
[ "$1" = -c ] || { echo "vpp: expected -c <startup.conf>" >&2; exit 1; }
sock=$(sed -n 's/^ *cli-listen //p' "$2")
echo "vpp[$$]: starting" 
[ -z "\${FAKE_VPP_EXIT:-}" ] || { echo "dpdk: EAL init failed" >&2; exit 1; }
echo $$ >"$FAKE/vpp.pid"
sleep "\${FAKE_VPP_DELAY:-0}"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
if [ -n "\${FAKE_VPP_IGNORE_TERM:-}" ]; then trap '' TERM; while :; do sleep 0.1; done; fi
exec sleep 300
`,
  vppctl: `#!/bin/bash
# stand-in for vppctl: logs each command, answers with the recorded outputs
[ "$1" = -s ] || { echo "usage: vppctl -s <socket> <command>"; exit 1; }
sock=$2; shift 2
cmd="$*"
printf '%s\\n' "$cmd" >>"$FAKE/vppctl.log"
[ -S "$sock" ] || { echo "clib_socket_init: connect (fd 3, '$sock'): Connection refused"; exit 1; }
case "$cmd" in
  "show version") cat "\${FAKE_VERSION_FILE:-$DATA/show-version.txt}" ;;
  "show threads") cat "$DATA/show-threads-perf.txt" ;;
  "show vhost-user") cat "$DATA/show-vhost-user-256-half.txt" ;;
  "create vhost-user socket "*)
    n=$(cat "$FAKE/vhost.n" 2>/dev/null || echo 0); echo "VirtualEthernet0/0/$n"; echo $((n + 1)) >"$FAKE/vhost.n" ;;
  *"\${FAKE_VPPCTL_FAIL:-@none@}"*) echo "set interface l2 xconnect: unknown input \\\`port9'" ;;
  "set "*) ;;
  *) echo "unknown input \\\`$cmd'" ;;
esac
`,
  "dpkg-query": `#!/bin/bash
# stand-in for dpkg-query -W -f=<fmt> <pkg>: the fake package database, "<pkg> <version>" lines
pkg=\${!#}
v=$(awk -v p="$pkg" '$1 == p {print $2}' "$FAKE/dpkg.db" 2>/dev/null)
[ -n "$v" ] || { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }
printf 'ii |%s\\n' "$v"
`,
  "apt-get": `#!/bin/bash
# stand-in for apt-get: argv logged; install/purge edit the fake database, install plays the
# packages' postinst (sysctl 80-vpp.conf applied, a service start unless policy-rc.d says no)
printf '%s\\n' "$*" >>"$FAKE/apt.log"
case " $* " in
  *" update "*) ;;
  *" install "*)
    [ "\${FAKE_APT_FAIL:-}" != install ] || { echo "E: Version '24.10-release' for 'vpp' was not found" >&2; exit 100; }
    for a in "$@"; do case "$a" in *=*) [[ $a == Dir::* || $a == APT::* ]] || echo "\${a%%=*} \${a#*=}" >>"$FAKE/dpkg.db" ;; esac; done
    echo 1024 >"$VPP_PROC_SYS/vm/nr_hugepages"
    if [ -x "$VPP_POLICY_RC" ] && ! "$VPP_POLICY_RC"; then echo "service start denied" >>"$FAKE/apt.log"; else echo "vpp.service STARTED" >>"$FAKE/apt.log"; fi ;;
  *" purge "*) : >"$FAKE/dpkg.db" ;;
esac
`,
  curl: `#!/bin/bash
# stand-in for curl -fsSL --retry 3 -o <out> -- <url>: the fake repository's key
out=""; while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; esac; shift; done
cp "$FAKE/key.asc" "$out"
`,
  gpg: `#!/bin/bash
# stand-in for gpg: --show-keys prints the key's fingerprint; --dearmor copies it
case " $* " in
  *" --show-keys "*) printf 'pub:-:4096:1:AAAAAAAAAAAAAAAA:1500000000:::-:::scESC::::::23::0:\\nfpr:::::::::%s:\\n' "$FAKE_KEY_FPR" ;;
  *" --dearmor "*) out=""; while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; esac; last=$1; shift; done; { echo "dearmored"; cat "$last"; } >"$out" ;;
esac
`,
};

interface Lab {
  root: string;
  fake: string;
  dir: string;
  env: (extra?: Record<string, string>) => Record<string, string>;
  vppctlLog: () => string[];
}

function lab(): Lab {
  const root = tmp.make("vpl-vpp-");
  const fake = join(root, "fake");
  const bin = join(root, "bin");
  for (const d of [
    fake,
    bin,
    join(root, "proc/sys/vm"),
    join(root, "proc/sys/kernel"),
    join(root, "shm"),
    join(root, "usr/sbin"),
  ])
    mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(STAND_INS)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(root, "proc/sys/vm/nr_hugepages"), "2048\n");
  writeFileSync(join(root, "proc/sys/vm/max_map_count"), "65530\n");
  writeFileSync(join(root, "proc/sys/kernel/shmmax"), "18446744073692774399\n");
  writeFileSync(
    join(fake, "key.asc"),
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in\n-----END PGP PUBLIC KEY BLOCK-----\n",
  );
  const dir = join(root, "run", "dut1-vswitch");
  const startup = vppStartupConf({
    dir,
    apiPrefix: "vpl-t-dut1-vswitch",
    mainCore: 1,
    workerCores: [2],
    devices: [
      { pci: "0000:18:00.0", name: "port0" },
      { pci: "0000:18:00.1", name: "port1" },
    ],
    rxQueues: 1,
    buffers: 16384,
    uioDriver: "vfio-pci",
    noMultiSeg: true,
    version: "24.10-release",
  });
  const wiring = wiringScript(
    vppWiring({
      nicNames: ["port0", "port1"],
      sockets: ["/run/vpp/sock-1-1", "/run/vpp/sock-1-2"],
      nicRxQueues: 1,
      vhostQueues: 1,
      workers: 1,
      mode: "l2xc",
    }),
  );
  return {
    root,
    fake,
    dir,
    env: (extra = {}) => ({
      PATH_PREFIX: bin,
      FAKE: fake,
      DATA,
      FAKE_KEY_FPR: FPR,
      LAB_STACK: "t",
      LAB_STATE_DIR: join(root, "state"),
      LAB_RUN_DIR: join(root, "run"),
      VPP_VERSION: "24.10-release",
      VPP_DIR: dir,
      VPP_STARTUP_B64: Buffer.from(startup).toString("base64"),
      VPP_WIRING_B64: Buffer.from(wiring).toString("base64"),
      VPP_API_PREFIX: "vpl-t-dut1-vswitch",
      VPP_READY_TIMEOUT: "20",
      VPP_STOP_GRACE: "2",
      VPP_APT_ETC: join(root, "etc/apt"),
      VPP_POLICY_RC: join(root, "usr/sbin/policy-rc.d"),
      VPP_PROC_SYS: join(root, "proc/sys"),
      VPP_SHM_DIR: join(root, "shm"),
      ...extra,
    }),
    vppctlLog: () => {
      const f = join(fake, "vppctl.log");
      return existsSync(f) ? readFileSync(f, "utf8").trim().split("\n") : [];
    },
  };
}

const REPO = {
  VPP_INSTALL: "repository",
  VPP_REPO_URL: "https://packagecloud.io/fdio/2410/debian",
  VPP_REPO_SUITE: "bookworm",
  VPP_REPO_COMPONENT: "main",
  VPP_KEY_URL: "https://packagecloud.io/fdio/2410/gpgkey",
  VPP_KEY_FPR: FPR,
};
const installed = (l: Lab, v = "24.10-release"): void =>
  writeFileSync(join(l.fake, "dpkg.db"), `vpp ${v}\nvpp-plugin-core ${v}\nvpp-plugin-dpdk ${v}\n`);

function json(r: Run): Record<string, unknown> {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}
function refused(r: Run, ...m: RegExp[]): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  for (const x of m) assert.match(r.stderr, x);
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sysctl = (l: Lab, k: string): string => readFileSync(join(l.root, "proc/sys", k), "utf8").trim();

const WIRING = [
  "create vhost-user socket /run/vpp/sock-1-1",
  "create vhost-user socket /run/vpp/sock-1-2",
  "set interface state port0 up",
  "set interface state port1 up",
  "set interface state VirtualEthernet0/0/0 up",
  "set interface state VirtualEthernet0/0/1 up",
  "set interface l2 xconnect port0 VirtualEthernet0/0/0",
  "set interface l2 xconnect VirtualEthernet0/0/0 port0",
  "set interface l2 xconnect VirtualEthernet0/0/1 port1",
  "set interface l2 xconnect port1 VirtualEthernet0/0/1",
  "set interface rx-placement port0 queue 0 worker 0",
  "set interface rx-placement port1 queue 0 worker 0",
  "set interface rx-placement VirtualEthernet0/0/0 queue 0 worker 0",
  "set interface rx-placement VirtualEthernet0/0/1 queue 0 worker 0",
];

test(
  "shellcheck -x scripts/vswitch-vpp.sh and scripts/lib/vpp-install.sh are clean",
  { skip: !has("shellcheck") && "shellcheck missing" },
  () => {
    shellcheck(VS);
    shellcheck(script("lib/vpp-install.sh"));
  },
);

test("install, preinstalled: the packages' version is checked, nothing installed", { skip }, () => {
  const l = lab();
  refused(
    run(VS, "install", l.env()),
    /expected preinstalled, but vpp vpp-plugin-core vpp-plugin-dpdk not installed/,
    /vswitch\.options\.version \/ vswitch\.options\.install/,
  );
  installed(l, "24.06-release");
  refused(run(VS, "install", l.env()), /the DUT has vpp 24\.06-release .*asks for 24\.10-release/);
  assert.equal(run(VS, "install-status", l.env()).status, 3);
  installed(l);
  const r = json(run(VS, "install", l.env()));
  assert.deepEqual([r.created, r.version], [false, "24.10-release"]);
  assert.equal(run(VS, "install-status", l.env()).status, 0);
  json(run(VS, "uninstall", l.env()));
  assert.equal(
    readFileSync(join(l.fake, "dpkg.db"), "utf8").split("\n").length,
    4,
    "a VPP the lab did not install stays",
  );
  assert.equal(existsSync(join(l.fake, "apt.log")), false, "apt never ran");
});

test(
  "install from the repository: key fingerprint checked, own keyring and list, no service start, sysctls put back; uninstall",
  { skip },
  () => {
    const l = lab();
    const r = json(run(VS, "install", l.env(REPO)));
    assert.equal(r.created, true);
    const list = join(l.root, "etc/apt/sources.list.d/vpl-fdio-t.list");
    const keyring = join(l.root, "etc/apt/keyrings/vpl-fdio-t.gpg");
    assert.equal(
      readFileSync(list, "utf8"),
      `deb [signed-by=${keyring}] https://packagecloud.io/fdio/2410/debian bookworm main\n`,
    );
    assert.match(readFileSync(keyring, "utf8"), /^dearmored\n-----BEGIN PGP/);
    const apt = readFileSync(join(l.fake, "apt.log"), "utf8").trim().split("\n");
    assert.deepEqual(apt, [
      `-o Dir::Etc::sourcelist=${list} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 update`,
      `-o Dir::Etc::sourcelist=${list} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 install -y --no-install-recommends vpp=24.10-release vpp-plugin-core=24.10-release vpp-plugin-dpdk=24.10-release`,
      "service start denied",
    ]);
    assert.equal(sysctl(l, "vm/nr_hugepages"), "2048", "the postinst's hugepages put back");
    assert.equal(existsSync(join(l.root, "usr/sbin/policy-rc.d")), false, "policy-rc.d removed again");
    assert.equal(run(VS, "install-status", l.env(REPO)).status, 0);
    assert.match(run(VS, "install", l.env(REPO)).stderr, /installed by this stack/);
    json(run(VS, "uninstall", l.env(REPO)));
    assert.match(
      readFileSync(join(l.fake, "apt.log"), "utf8"),
      /^purge -y vpp vpp-plugin-core vpp-plugin-dpdk$/m,
    );
    assert.deepEqual(
      [existsSync(list), existsSync(keyring), existsSync(join(l.root, "state/vpp"))],
      [false, false, false],
    );
  },
);

test(
  "install from the repository refuses a key with another fingerprint, and undoes a failed apt-get",
  { skip },
  () => {
    const l = lab();
    refused(
      run(VS, "install", l.env({ ...REPO, FAKE_KEY_FPR: "F".repeat(40) })),
      /fingerprint\(s\) F{40} - not 0123456789ABCDEF/,
      /fix: check vswitch\.options\.install\.keyFingerprint/,
    );
    assert.equal(existsSync(join(l.root, "etc/apt/keyrings/vpl-fdio-t.gpg")), false);
    assert.equal(existsSync(join(l.fake, "apt.log")), false, "apt never ran with an unchecked key");
    refused(
      run(VS, "install", l.env({ ...REPO, FAKE_APT_FAIL: "install" })),
      /apt-get install .* failed/,
      /install failed: undoing it/,
    );
    assert.deepEqual(readdirSync(join(l.root, "etc/apt/sources.list.d")), []);
    assert.deepEqual(readdirSync(join(l.root, "etc/apt/keyrings")), []);
    assert.equal(existsSync(join(l.root, "usr/sbin/policy-rc.d")), false);
    assert.match(
      readFileSync(join(l.fake, "apt.log"), "utf8"),
      /^purge -y vpp vpp-plugin-core vpp-plugin-dpdk$/m,
    );
    assert.equal(existsSync(join(l.root, "state/vpp")), false);
    installed(l, "23.10-release");
    refused(run(VS, "install", l.env(REPO)), /does not up- or downgrade a VPP it did not install/);
  },
);

test(
  "start: vpp -c <own startup.conf>, ready on its CLI, the exact vppctl sequence, JSON line; again; status; stop",
  { skip },
  () => {
    const l = lab();
    installed(l);
    const r = json(run(VS, "start", l.env({ FAKE_VPP_DELAY: "0.5" })));
    const pid = r.pid as number;
    assert.ok(alive(pid));
    assert.deepEqual(readFileSync(join(l.fake, "vpp.argv"), "utf8").trim().split("\n"), [
      "-c",
      join(l.dir, "startup.conf"),
    ]);
    assert.equal(readFileSync(join(l.dir, "startup.conf"), "base64"), l.env().VPP_STARTUP_B64);
    assert.deepEqual(
      [r.kind, r.already, r.workerTids, r.cliSocket, r.version],
      ["vpp", false, [2824], join(l.dir, "cli.sock"), "24.10-release"],
    );
    assert.deepEqual(r.rings, [
      {
        interface: "VirtualEthernet0/0/0",
        socket: "/run/vpp/sock-1-1",
        connected: true,
        rxSize: 256,
        txSize: 256,
      },
      { interface: "VirtualEthernet0/0/1", socket: "/run/vpp/sock-1-2", connected: false },
    ]);
    const log = l.vppctlLog();
    const firstWire = log.indexOf(WIRING[0]!);
    assert.ok(firstWire >= 2 && log.slice(0, firstWire).every((c) => c === "show version"), log.join("\n"));
    assert.deepEqual(log.slice(firstWire), [...WIRING, "show threads", "show threads", "show vhost-user"]);

    const again = json(run(VS, "start", l.env()));
    assert.deepEqual([again.already, again.pid], [true, pid]);
    assert.equal(l.vppctlLog().filter((c) => c.startsWith("create")).length, 2, "no second wiring");
    const st = json(run(VS, "status", l.env()));
    assert.deepEqual([st.pid, st.workerTids], [pid, [2824]]);

    writeFileSync(join(l.root, "shm", "vpl-t-dut1-vswitch-vpe-api"), "");
    writeFileSync(join(l.root, "shm", "other-vpe-api"), "");
    const s = json(run(VS, "stop", l.env()));
    assert.equal(s.stopped, true);
    assert.equal(alive(pid), false);
    assert.equal(existsSync(l.dir), false, "its dir (made by start) is gone");
    assert.deepEqual(
      readdirSync(join(l.root, "shm")),
      ["other-vpe-api"],
      "only its own shared memory removed",
    );
    assert.equal(existsSync(join(l.root, "state", "vpp")), false);
    assert.equal(run(VS, "status", l.env()).status, 3);
    assert.equal(json(run(VS, "stop", l.env())).stopped, false, "stop again: nothing to do");
  },
);

test(
  "start undoes itself: a wiring answer that differs, a VPP that exits, another version, a cancel",
  { skip },
  async () => {
    const l = lab();
    installed(l);
    const bad = run(VS, "start", l.env({ FAKE_VPPCTL_FAIL: "xconnect port0" }));
    refused(
      bad,
      /vppctl 'set interface l2 xconnect port0 VirtualEthernet0\/0\/0' answered 'set interface l2 xconnect: unknown input `port9'', expected ''/,
      /start failed: stopping/,
    );
    const pid = Number(readFileSync(join(l.fake, "vpp.pid"), "utf8"));
    assert.equal(alive(pid), false, "the VPP it started is stopped");
    assert.equal(existsSync(l.dir), false);
    assert.equal(existsSync(join(l.root, "state", "vpp")), false);
    assert.ok(
      !l.vppctlLog().includes("set interface rx-placement port0 queue 0 worker 0"),
      "nothing after the failed command",
    );

    refused(
      run(VS, "start", l.env({ FAKE_VPP_EXIT: "1" })),
      /VPP exited before its CLI answered/,
      /EAL init failed/,
    );
    assert.equal(existsSync(l.dir), false);

    writeFileSync(
      join(l.fake, "version.txt"),
      "vpp v24.06-release built by root on x at 2024-06-26T10:00:00\n",
    );
    refused(
      run(VS, "start", l.env({ FAKE_VERSION_FILE: join(l.fake, "version.txt") })),
      /says version '24\.06-release', the config asks for 24\.10-release/,
    );
    assert.equal(existsSync(l.dir), false);

    rmSync(join(l.fake, "vpp.pid")); // the signal for the cancel: this run's VPP has started
    const c = await runCancelled(VS, "start", l.env({ FAKE_VPP_DELAY: "30" }), join(l.fake, "vpp.pid"));
    assert.ok(c.reached);
    assert.equal(c.status, 143, `${c.signal} ${c.stderr}`);
    assert.match(c.stderr, /interrupted by SIGTERM/);
    const pid2 = Number(readFileSync(join(l.fake, "vpp.pid"), "utf8"));
    for (let i = 0; i < 50 && alive(pid2); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid2), false, "a cancelled start stops its VPP");
    assert.equal(existsSync(l.dir), false);

    refused(run(VS, "start", l.env({ VPP_DIR: "/etc/vpp" })), /is not a directory under the stack's run dir/);
  },
);

test("stop: a VPP that ignores TERM is killed after the grace", { skip }, () => {
  const l = lab();
  installed(l);
  const r = json(run(VS, "start", l.env({ FAKE_VPP_IGNORE_TERM: "1" })));
  const s = run(VS, "stop", l.env());
  assert.equal(json(s).stopped, true);
  assert.match(s.stderr, /still running after 2s: KILL/);
  assert.equal(alive(r.pid as number), false);
});

test(
  "start with a chain of 2 VMs (4 sockets): port0 -> vm1 -> vm2 -> port1 cross-connected both ways",
  { skip },
  () => {
    const l = lab();
    installed(l);
    const sockets = ["/run/vpp/sock-1-1", "/run/vpp/sock-1-2", "/run/vpp/sock-2-1", "/run/vpp/sock-2-2"];
    const wiring = wiringScript(
      vppWiring({
        nicNames: ["port0", "port1"],
        sockets,
        nicRxQueues: 1,
        vhostQueues: 1,
        workers: 1,
        mode: "l2xc",
      }),
    );
    json(run(VS, "start", l.env({ VPP_WIRING_B64: Buffer.from(wiring).toString("base64") })));
    const log = l.vppctlLog();
    assert.deepEqual(
      log.filter((c) => c.startsWith("create vhost-user")),
      sockets.map((s) => `create vhost-user socket ${s}`),
    );
    const ve = (k: number): string => `VirtualEthernet0/0/${k}`;
    const xc = (a: string, b: string): string[] => [
      `set interface l2 xconnect ${a} ${b}`,
      `set interface l2 xconnect ${b} ${a}`,
    ];
    assert.deepEqual(
      log.filter((c) => c.includes("l2 xconnect")),
      [...xc("port0", ve(0)), ...xc(ve(1), ve(2)), ...xc(ve(3), "port1")],
    );
    json(run(VS, "stop", l.env()));
  },
);

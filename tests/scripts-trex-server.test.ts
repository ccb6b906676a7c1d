/**
 * scripts/trex-server.sh for real on this machine, with a stand-in TRex: an install dir whose
 * `t-rex-64` records its argv and working directory, leaves a child in its process group, and
 * listens on a test RPC port (45020-45029; never TRex's 4500/4501). Install from a tarball built
 * here (file:// URL) and its sha256 refusal, the check of an existing install dir, start / ready /
 * stop with the config's original put back, and the undo of a start that fails or is cancelled.
 * Config paths, state, run and cache dirs are temporary: /etc/trex_cfg.yaml is never touched.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { has, run, runCancelled, script, shellcheck, type Run } from "../components/dut/scriptTestKit";
import { TempDirs } from "./support/host";

const TS = script("trex-server.sh");
const skip =
  !(has("python3") && has("curl") && has("setsid") && has("timeout")) &&
  "needs python3, curl, setsid, timeout";
const tmp = new TempDirs();
const started: number[] = [];

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  tmp.removeAll();
});

const STAND_IN = `#!/bin/bash
# stand-in for TRex's t-rex-64: argv and cwd recorded, a child in the group, the RPC port opened
{ pwd; printf '%s\\n' "$@"; } >"$FAKE_TREX_ARGV"
sleep 300 &
echo $! >"$FAKE_TREX_CHILD"
[ -z "\${FAKE_TREX_EXIT:-}" ] || { echo "EAL: cannot init hugepages" >&2; exit 1; }
exec python3 -c '
import os, signal, socket, time
if os.environ.get("FAKE_TREX_IGNORE_TERM"): signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.environ["FAKE_TREX_STARTED"], "w").close()
time.sleep(float(os.environ.get("FAKE_TREX_DELAY", "0")))
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["TREX_RPC_PORT"]))); s.listen(8)
while True:
    c, _ = s.accept(); c.close()
'
`;

/** a TRex release dir: <dir>/t-rex-64 and trex_client_v<version>.tar.gz */
function release(dir: string, version = "3.03"): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "t-rex-64"), STAND_IN);
  chmodSync(join(dir, "t-rex-64"), 0o755);
  writeFileSync(join(dir, `trex_client_v${version}.tar.gz`), "");
}

interface Lab {
  root: string;
  env: (extra?: Record<string, string>) => Record<string, string>;
  cfg: string;
  installDir: string;
}
function lab(port: number): Lab {
  const root = tmp.make("vpl-trex-");
  const cfgSrc = join(root, "given.yaml");
  writeFileSync(cfgSrc, '- version: 2\n  interfaces: ["0000:3b:00.0", "0000:3b:00.1"]\n');
  const l: Lab = {
    root,
    cfg: join(root, "etc", "trex_cfg.yaml"),
    installDir: join(root, "opt", "trex-core"),
    env: (extra = {}) => ({
      LAB_STACK: "t",
      LAB_STATE_DIR: join(root, "state"),
      LAB_RUN_DIR: join(root, "run"),
      TREX_INSTALL_DIR: l.installDir,
      TREX_VERSION: "3.03",
      TREX_CACHE_DIR: join(root, "cache"),
      TREX_CFG: l.cfg,
      TREX_CFG_SRC: cfgSrc,
      TREX_RPC_PORT: String(port),
      TREX_READY_TIMEOUT: "20",
      FAKE_TREX_ARGV: join(root, "argv"),
      FAKE_TREX_CHILD: join(root, "child"),
      FAKE_TREX_STARTED: join(root, "started"),
      ...extra,
    }),
  };
  return l;
}
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
/** a tarball holding v3.03/ (the release layout) and its sha256 */
function tarball(root: string): { url: string; sha256: string } {
  const src = join(root, "src");
  release(join(src, "v3.03"));
  const tgz = join(root, "v3.03.tar.gz");
  assert.equal(spawnSync("tar", ["-czf", tgz, "-C", src, "v3.03"]).status, 0);
  return { url: `file://${tgz}`, sha256: createHash("sha256").update(readFileSync(tgz)).digest("hex") };
}

test(
  "shellcheck -x scripts/trex-server.sh is clean",
  { skip: !has("shellcheck") && "shellcheck missing" },
  () => shellcheck(TS),
);

test(
  "trex-server.sh install from the release tarball (file:// URL, sha256 checked), again, uninstall",
  { skip },
  () => {
    const l = lab(45020);
    const t = tarball(l.root);
    const env = l.env({ TREX_TARBALL_URL: t.url, TREX_TARBALL_SHA256: t.sha256 });
    assert.equal(run(TS, "install-status", env).status, 3);
    const r = json(run(TS, "install", env));
    assert.deepEqual([r.created, r.bindir, r.version], [true, l.installDir, "3.03"]);
    assert.ok(statSync(join(l.installDir, "t-rex-64")).mode & 0o100);
    assert.ok(existsSync(join(l.root, "cache", `trex-${t.sha256}.tar.gz`)), "the tarball is cached");
    assert.deepEqual(readdirSync(join(l.root, "opt")), ["trex-core"], "no unpack leftovers beside it");
    assert.equal(run(TS, "install-status", env).status, 0);
    const again = run(TS, "install", env);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /installed at .* by this stack/);
    json(run(TS, "uninstall", env));
    assert.equal(existsSync(join(l.root, "opt")), false, "the install dir and the level it created are gone");
    assert.equal(existsSync(join(l.root, "state", "trex")), false, "no records left");
    assert.ok(
      existsSync(join(l.root, "cache", `trex-${t.sha256}.tar.gz`)),
      "the cache stays (like the build caches)",
    );
    assert.equal(run(TS, "install-status", env).status, 3);
  },
);

test("trex-server.sh install refuses a tarball whose sha256 differs, leaving nothing", { skip }, () => {
  const l = lab(45020);
  const t = tarball(l.root);
  const r = run(TS, "install", l.env({ TREX_TARBALL_URL: t.url, TREX_TARBALL_SHA256: "0".repeat(64) }));
  refused(
    r,
    /sha256 of file:.* is [0-9a-f]{64}, expected 0{64}: refused/,
    /fix: check the tarball's URL and sha256/,
  );
  assert.equal(existsSync(join(l.root, "opt")), false);
  assert.deepEqual(readdirSync(join(l.root, "cache")), [], "no download left in the cache");
  assert.equal(existsSync(join(l.root, "state", "trex")), false);
});

test(
  "trex-server.sh install checks an existing install dir: version, t-rex-64; missing without a tarball",
  { skip },
  () => {
    const l = lab(45020);
    refused(
      run(TS, "install", l.env()),
      /not installed at .*trex-core and no release tarball/,
      /tg\.options\.installDir/,
    );
    release(join(l.installDir, "scripts"), "3.08"); // a source tree, CSIT's layout, of another version
    refused(
      run(TS, "install", l.env()),
      /holds TRex 3\.08, the config asks for 3\.03/,
      /fix: .*vhost-perf-lab:tg\.options\.installDir \/ tg\.options\.version/,
    );
    const ok = json(run(TS, "install", l.env({ TREX_VERSION: "v3.08" })));
    assert.deepEqual([ok.created, ok.bindir], [false, join(l.installDir, "scripts")]);
    json(run(TS, "uninstall", l.env({ TREX_VERSION: "3.08" })));
    assert.ok(existsSync(join(l.installDir, "scripts", "t-rex-64")), "an install the lab did not make stays");
    const bare = lab(45020);
    mkdirSync(bare.installDir, { recursive: true });
    refused(run(TS, "install", bare.env()), /has no t-rex-64/);
  },
);

test(
  "trex-server.sh start: cfg written (original kept), t-rex-64 -i detached, ready on its port; status; stop puts all back",
  { skip },
  () => {
    const l = lab(45021);
    release(l.installDir);
    mkdirSync(join(l.root, "etc"));
    writeFileSync(l.cfg, "# the host's own config\n");
    chmodSync(l.cfg, 0o600);
    const r = json(run(TS, "start", l.env()));
    const pid = r.pid as number;
    started.push(pid);
    assert.equal(r.pgid, pid, "its own process group");
    assert.equal(r.rpcPort, 45021);
    assert.match(String(r.startTime), /^\d+$/);
    assert.deepEqual(readFileSync(join(l.root, "argv"), "utf8").trim().split("\n"), [
      l.installDir,
      "-i",
      "--prefix",
      "vpl-t",
      "--cfg",
      l.cfg,
      "--hdrh",
      "--no-scapy-server",
      "--mbuf-factor",
      "32",
    ]);
    assert.match(readFileSync(l.cfg, "utf8"), /^- version: 2/);
    assert.equal(run(TS, "status", l.env()).status, 0);
    const again = json(run(TS, "start", l.env()));
    assert.deepEqual([again.already, again.pid], [true, pid], "a second start keeps the running server");
    const child = Number(readFileSync(join(l.root, "child"), "utf8"));
    assert.ok(alive(child));

    const s = json(run(TS, "stop", l.env()));
    assert.deepEqual([s.stopped, s.cfgRestored], [true, true]);
    assert.equal(alive(pid) || alive(child), false, "the whole group is gone");
    assert.equal(readFileSync(l.cfg, "utf8"), "# the host's own config\n");
    assert.equal(statSync(l.cfg).mode & 0o777, 0o600);
    assert.equal(run(TS, "status", l.env()).status, 3);
    assert.equal(existsSync(join(l.root, "state", "trex")), false);
    json(run(TS, "stop", l.env())); // idempotent
  },
);

test(
  "trex-server.sh: no cfg before = none after; a server ignoring TERM is KILLed after the grace",
  { skip },
  () => {
    const l = lab(45022);
    release(l.installDir);
    const env = l.env({
      FAKE_TREX_IGNORE_TERM: "1",
      TREX_STOP_GRACE: "1",
      TREX_SOFTWARE: "1",
      TREX_MBUF_FACTOR: "8",
    });
    const r = json(run(TS, "start", env));
    started.push(r.pid as number);
    assert.match(readFileSync(join(l.root, "argv"), "utf8"), /--mbuf-factor\n8\n--software\n$/);
    const s = run(TS, "stop", env);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, /still running after 1s: KILL/);
    assert.equal(alive(r.pid as number), false);
    assert.equal(existsSync(l.cfg), false, "the cfg this stack wrote is removed");
  },
);

test(
  "trex-server.sh start: TRex exiting early fails with its log, the port already taken is refused; both undone",
  { skip },
  async () => {
    const l = lab(45023);
    release(l.installDir);
    mkdirSync(join(l.root, "etc"));
    writeFileSync(l.cfg, "orig\n");
    refused(
      run(TS, "start", l.env({ FAKE_TREX_EXIT: "1" })),
      /cannot init hugepages/,
      /TRex exited before its RPC port 45023 answered/,
    );
    assert.equal(readFileSync(l.cfg, "utf8"), "orig\n");
    assert.equal(existsSync(join(l.root, "state", "trex")), false);
    assert.equal(
      alive(Number(readFileSync(join(l.root, "child"), "utf8"))),
      false,
      "what the dead TRex left in its group is stopped too",
    );

    rmSync(join(l.root, "argv"));
    const busy: Server = createServer();
    await new Promise<void>((res) => busy.listen(45023, "127.0.0.1", res));
    try {
      refused(run(TS, "start", l.env()), /TCP port 45023 already answers/);
    } finally {
      busy.close();
    }
    assert.equal(readFileSync(l.cfg, "utf8"), "orig\n");
    assert.equal(existsSync(join(l.root, "argv")), false, "not started");
  },
);

test(
  "trex-server.sh start: SIGTERM while waiting for the port stops the server and puts the cfg back (exit 143)",
  { skip },
  async () => {
    const l = lab(45024);
    release(l.installDir);
    mkdirSync(join(l.root, "etc"));
    writeFileSync(l.cfg, "orig\n");
    const r = await runCancelled(TS, "start", l.env({ FAKE_TREX_DELAY: "60" }), join(l.root, "started"));
    assert.ok(r.reached, r.stderr);
    assert.equal(r.status, 143, r.stderr);
    assert.match(r.stderr, /interrupted by SIGTERM/);
    const child = Number(readFileSync(join(l.root, "child"), "utf8"));
    assert.equal(alive(child), false, "the server's group is gone");
    assert.equal(readFileSync(l.cfg, "utf8"), "orig\n");
    assert.equal(existsSync(join(l.root, "state", "trex")), false);
  },
);

/**
 * scripts/tg-netns.sh, for real on this machine (root, iproute2): netns and veths named h5-<random>
 * so they never meet the lab's own. Setup undone when a step fails or SIGTERM arrives, status
 * 0/3 for the drift probe, setup on a half-torn wiring. An after-hook removes anything left.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { isRoot, PATH, scriptPath, TempDirs } from "./support/host";

const TG = scriptPath("tg-netns.sh");
const IP = spawnSync("sh", ["-c", "command -v ip"], { encoding: "utf8" }).stdout.trim();
const skip = !(isRoot && IP) && "needs root and iproute2";

interface Wiring {
  ns: string;
  host: string[];
  nsIfs: string[];
  env: Record<string, string>;
}
const made: Wiring[] = [];
const tmp = new TempDirs();

function wiring(): Wiring {
  const id = randomBytes(3).toString("hex");
  const w = {
    ns: `h5-${id}`,
    host: [`h5${id}s0`, `h5${id}s1`],
    nsIfs: [`h5${id}t0`, `h5${id}t1`],
    env: {} as Record<string, string>,
  };
  w.env = { TG_NETNS: w.ns, TG_HOST_IFS: w.host.join(","), TG_NS_IFS: w.nsIfs.join(","), TG_MTU: "1500" };
  made.push(w);
  return w;
}
const ip = (...a: string[]) => spawnSync(IP, a, { encoding: "utf8" });
const linkExists = (name: string): boolean => ip("link", "show", "dev", name).status === 0;
const nsExists = (ns: string): boolean =>
  ip("netns", "list")
    .stdout.split("\n")
    .some((l) => l.split(" ")[0] === ns);
const nsLinkExists = (ns: string, name: string): boolean =>
  nsExists(ns) && ip("-n", ns, "link", "show", "dev", name).status === 0;

afterEach(() => {
  for (const w of made.splice(0)) {
    for (const h of w.host) if (linkExists(h)) ip("link", "del", "dev", h);
    for (const h of [`${w.host[1]}x`]) if (linkExists(h)) ip("link", "del", "dev", h);
    if (nsExists(w.ns)) ip("netns", "del", w.ns);
  }
  tmp.removeAll();
});

function tg(cmd: string, env: Record<string, string>, path = PATH) {
  const r = spawnSync("bash", [TG, cmd], { env: { PATH: path, ...env }, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function gone(w: Wiring): void {
  assert.equal(nsExists(w.ns), false, `netns ${w.ns} left`);
  for (const h of w.host) assert.equal(linkExists(h), false, `${h} left`);
}

test(
  "tg-netns.sh status: 3 when absent or half there, 0 with the whole wiring; setup, teardown",
  { skip },
  () => {
    const w = wiring();
    const s0 = tg("status", w.env);
    assert.equal(s0.status, 3);
    assert.equal(JSON.parse(s0.stdout).netnsPresent, false);
    const up = tg("setup", w.env);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(tg("status", w.env).status, 0);
    ip("-n", w.ns, "link", "del", "dev", w.nsIfs[1]!); // drift: one pair gone
    const half = tg("status", w.env);
    assert.equal(half.status, 3);
    assert.equal(JSON.parse(half.stdout).links[1].hostState, "absent");
    assert.equal(tg("setup", w.env).status, 0, "setup makes the missing pair again");
    assert.equal(tg("status", w.env).status, 0);
    assert.equal(tg("teardown", w.env).status, 0);
    assert.equal(tg("status", w.env).status, 3);
    gone(w);
  },
);

test(
  "tg-netns.sh with TG_MGMT: a management cable, addressed, reachable from the host; teardown takes it",
  { skip },
  () => {
    const w = wiring();
    const mgmtHost = `${w.host[0]!.slice(0, 9)}m`;
    const env = { ...w.env, TG_MGMT: `${mgmtHost},mgmt0,10.250.251.1/30,10.250.251.2/30` };
    w.host.push(mgmtHost); // the after-hook removes it too
    const up = tg("setup", env);
    assert.equal(up.status, 0, up.stderr);
    assert.match(ip("-4", "addr", "show", "dev", mgmtHost).stdout, /10\.250\.251\.1\/30/);
    assert.match(ip("-n", w.ns, "-4", "addr", "show", "dev", "mgmt0").stdout, /10\.250\.251\.2\/30/);
    // a listener inside the netns on its management address, reached from the host (no ping here)
    const reach = spawnSync(
      "bash",
      [
        "-c",
        `ip netns exec ${w.ns} python3 -c 'import socket; s=socket.socket(); s.bind(("10.250.251.2", 45099)); s.listen(); c, _ = s.accept(); c.send(b"hi")' &
       for i in $(seq 50); do exec 3<>/dev/tcp/10.250.251.2/45099 2>/dev/null && break; sleep 0.1; done; cat <&3; wait`,
      ],
      { encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(reach.stdout, "hi", `the netns host answers on its management address: ${reach.stderr}`);
    assert.equal(tg("status", env).status, 0);
    ip("link", "del", "dev", mgmtHost); // drift: the management cable is cut
    assert.equal(tg("status", env).status, 3, "a cut management cable is drift");
    assert.equal(tg("setup", env).status, 0, "setup makes it again");
    assert.equal(tg("teardown", env).status, 0);
    gone(w);
    assert.equal(
      tg("setup", { ...env, TG_MGMT: `${mgmtHost},mgmt0,10.250.251.1` }).status,
      1,
      "a malformed TG_MGMT is refused",
    );
    gone(w);
  },
);

test("tg-netns.sh setup on leftovers: a veth whose peer is not in the netns is made again", { skip }, () => {
  const w = wiring();
  // a half-torn earlier wiring: pair 0's veth with both ends in the host, pair 1's netns end
  // alone in the netns (its host end went elsewhere)
  ip("link", "add", w.host[0]!, "type", "veth", "peer", "name", w.nsIfs[0]!);
  ip("netns", "add", w.ns);
  ip("link", "add", `${w.host[1]}x`, "type", "veth", "peer", "name", w.nsIfs[1]!, "netns", w.ns);
  const r = tg("setup", w.env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /is a veth whose peer is not .* \(leftover\): making the pair again/);
  assert.match(r.stderr, /has no peer .* \(leftover\): removing it/);
  assert.equal(tg("status", w.env).status, 0);
  assert.equal(linkExists(w.nsIfs[0]!), false, "the stray host-side peer went with its veth");
  assert.equal(tg("teardown", w.env).status, 0);
  gone(w);
});

test("tg-netns.sh setup: a failing step removes the netns and veths this run created", { skip }, () => {
  const w = wiring();
  // the second host name is taken by something that is not a veth (a bridge)
  assert.equal(ip("link", "add", w.host[1]!, "type", "bridge").status, 0);
  const r = tg("setup", w.env);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is not a veth; refusing to touch it/);
  assert.match(r.stderr, /setup undone/);
  assert.equal(nsExists(w.ns), false, "the netns this run created is gone");
  assert.equal(linkExists(w.host[0]!), false, "the pair this run created is gone");
  assert.equal(linkExists(w.host[1]!), true, "the bridge is not ours: untouched");
  ip("link", "del", "dev", w.host[1]!);

  // a netns that was there before is kept; only this run's pair goes
  ip("netns", "add", w.ns);
  ip("link", "add", w.host[1]!, "type", "bridge");
  assert.equal(tg("setup", w.env).status, 1);
  assert.equal(nsExists(w.ns), true);
  assert.equal(nsLinkExists(w.ns, w.nsIfs[0]!), false);
});

test("tg-netns.sh setup: SIGTERM in the middle removes what it created (exit 143)", { skip }, async () => {
  const w = wiring();
  // an `ip` that hangs when asked to bring up the second pair, so the signal lands mid-setup
  const bin = tmp.make("vpl-h5-tg-");
  const mark = join(bin, "hanging");
  writeFileSync(
    join(bin, "ip"),
    `#!/bin/sh\ncase " $* " in *" ${w.host[1]} mtu "*" up "*) touch ${mark}; sleep 60 ;; esac\nexec ${IP} "$@"\n`,
  );
  chmodSync(join(bin, "ip"), 0o755);
  const child = spawn("bash", [TG, "setup"], {
    env: { PATH: `${bin}:${PATH}`, ...w.env },
    detached: true,
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  const t0 = Date.now();
  while (!existsSync(mark)) {
    assert.ok(Date.now() - t0 < 30_000, `setup never got to the second pair: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(linkExists(w.host[0]!) && linkExists(w.host[1]!), "both pairs exist at the signal");
  const tSig = Date.now();
  process.kill(-child.pid!, "SIGTERM");
  assert.equal(await closed, 143, stderr);
  assert.ok(Date.now() - tSig < 3000);
  assert.match(stderr, /interrupted by SIGTERM \(setup undone\)/);
  gone(w);
});

const netnsMounted = (): boolean =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === "/run/netns");

test("tg-netns.sh: the /run/netns mount the lab's first netns made goes with the last one", { skip }, () => {
  if (existsSync("/run/netns") && readdirSync("/run/netns").length > 0) {
    return; // other netns on this host: the mount is not the lab's to take
  }
  if (netnsMounted()) spawnSync("umount", ["/run/netns"]);
  if (existsSync("/run/netns")) rmSync("/run/netns", { recursive: true });
  const w = wiring();
  assert.equal(tg("setup", w.env).status, 0);
  assert.ok(netnsMounted(), "ip netns add mounts /run/netns");
  assert.equal(tg("teardown", w.env).status, 0);
  gone(w);
  assert.equal(netnsMounted(), false, "the /run/netns mount is still there after the last netns went");
  assert.equal(existsSync("/run/netns"), false, "/run/netns is still there");
  assert.equal(existsSync("/run/.vhost-perf-lab-netns-mount"), false, "the marker is still there");
});

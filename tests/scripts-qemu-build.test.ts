/**
 * scripts/qemu-build.sh and scripts/qemu-remove.sh with a stand-in QEMU source tree (a
 * configure + Makefile that install a small qemu-system-x86_64 which, like QEMU, looks for its
 * BIOS relative to its own binary unless configured with --disable-relocatable) and, for the
 * Debian source path, stand-ins for apt-get, apt-cache, dpkg-source and dpkg-query on PATH.
 * Everything the scripts write goes to a temporary directory: prefixes, the build cache, the
 * stacks' records (LAB_STATE_ROOT) and the deb-src file (QEMU_DEB_SRC_FILE).
 * Checked: per-stack records and their removal (no empty dir left), the parent levels of a
 * prefix, the deb-src file shared by two stacks (handed over, removed by the last), the build
 * cache restored into another stack's prefix (and refused when the install is not
 * relocatable), undo of a failed or interrupted build.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { has, isRoot, PATH, scriptPath, TempDirs } from "./support/host";

const BUILD = scriptPath("qemu-build.sh");
const REMOVE = scriptPath("qemu-remove.sh");
const skip = !(isRoot && has("make") && has("python3") && has("flock")) && "needs root, make, python3, flock";

const CONFIGURE = `#!/bin/sh
prefix=/usr/local
reloc=1
for a in "$@"; do
  case "$a" in
    --prefix=*) prefix=\${a#--prefix=} ;;
    --disable-relocatable | --enable-fake-absolute-datadir) reloc=0 ;;
  esac
done
src=$(cd "$(dirname "$0")" && pwd)
{
  printf 'all:\\n'
  printf '\\t[ -z "$$FAKE_MAKE_MARK" ] || { touch "$$FAKE_MAKE_MARK"; sleep 60; }\\n'
  printf "\\tsed -e 's|@PREFIX@|%s|' -e 's|@RELOC@|%s|' %s/qemu.in > qemu-system-x86_64\\n" "$prefix" "$reloc" "$src"
  printf '\\tchmod +x qemu-system-x86_64\\n'
  printf 'install:\\n'
  printf '\\tmkdir -p $(DESTDIR)%s/bin $(DESTDIR)%s/share/qemu\\n' "$prefix" "$prefix"
  printf '\\tcp qemu-system-x86_64 $(DESTDIR)%s/bin/\\n' "$prefix"
  printf '\\techo bios > $(DESTDIR)%s/share/qemu/bios-256k.bin\\n' "$prefix"
} > Makefile
`;
const QEMU_IN = `#!/bin/sh
# stand-in qemu-system-x86_64: finds its BIOS the way QEMU does
if [ "$1" = --version ]; then echo "QEMU emulator version 7.2.0 (stand-in)"; exit 0; fi
data=""
while [ $# -gt 0 ]; do
  case "$1" in -L) data=$2; shift ;; esac
  shift
done
if [ -z "$data" ]; then
  if [ @RELOC@ = 1 ]; then data=$(dirname "$0")/../share/qemu; else data=@PREFIX@/share/qemu; fi
fi
[ -f "$data/bios-256k.bin" ] || { echo "qemu: could not load PC BIOS 'bios-256k.bin' (in $data)" >&2; exit 1; }
cat >/dev/null
`;
/** Stand-ins for the Debian tools qemu-build.sh calls (the deb-src file is $QEMU_DEB_SRC_FILE). */
const STUBS: Record<string, string> = {
  "dpkg-query": `#!/bin/sh\nprintf 'install ok installed'\n`,
  "apt-get": `#!/bin/sh
case "$1" in
  indextargets)
    case "$3" in
      *REPO_URI*) echo "deb http://deb.example/debian/ bookworm" ;;
      *) echo deb; [ -f "$QEMU_DEB_SRC_FILE" ] && echo deb-src ;;
    esac ;;
  update) echo "apt-get update" >> "$FAKE_APT_LOG" ;;
  source) v=\${3#qemu=}; : > "qemu_\${v#*:}.dsc" ;;
  install) exit 0 ;;
esac
exit 0
`,
  "apt-cache": `#!/bin/sh\n[ -f "$QEMU_DEB_SRC_FILE" ] && printf 'Package: qemu\\nVersion: 1:7.2+dfsg-7\\n'\nexit 0\n`,
  "dpkg-source": `#!/bin/sh\nmkdir -p "$3" && tar -xzf "$FAKE_QEMU_TARBALL" -C "$3" --strip-components=1\n`,
};

interface Fixture {
  dir: string;
  tarball: string;
  sha256: string;
  stubs: string;
  state: string;
  srcList: string;
}
const tmp = new TempDirs();
afterEach(() => tmp.removeAll());

function fixture(): Fixture {
  const dir = tmp.make("vpl-h5-qb-");
  const src = join(dir, "src", "qemu-7.2.0");
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "configure"), CONFIGURE);
  chmodSync(join(src, "configure"), 0o755);
  writeFileSync(join(src, "qemu.in"), QEMU_IN);
  const tarball = join(dir, "qemu-7.2.0.tar.gz");
  assert.equal(spawnSync("tar", ["-czf", tarball, "-C", join(dir, "src"), "qemu-7.2.0"]).status, 0);
  const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
  const stubs = join(dir, "stubs");
  mkdirSync(stubs);
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(stubs, name), text);
    chmodSync(join(stubs, name), 0o755);
  }
  mkdirSync(join(dir, "apt"));
  return {
    dir,
    tarball,
    sha256,
    stubs,
    state: join(dir, "state"),
    srcList: join(dir, "apt", "vhost-perf-lab-src.sources"),
  };
}

function env(f: Fixture, stack: string, over: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${f.stubs}:${PATH}`,
    LAB_STACK: stack,
    LAB_STATE_DIR: join(f.state, stack),
    LAB_STATE_ROOT: f.state,
    QEMU_PREFIX: join(f.dir, "opt", "qemu", stack, "7.2-k1"),
    QEMU_WORK_DIR: join(f.dir, "cache"),
    QEMU_SOURCE_KIND: "local",
    QEMU_LOCAL_TARBALL: f.tarball,
    QEMU_LOCAL_TARBALL_SHA256: f.sha256,
    QEMU_DEB_SRC_FILE: f.srcList,
    FAKE_QEMU_TARBALL: f.tarball,
    FAKE_APT_LOG: join(f.dir, "apt.log"),
    QEMU_MAKE_JOBS: "1",
    ...over,
  };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}
function run(script: string, e: Record<string, string>): Run {
  const r = spawnSync("bash", [script], { env: e, encoding: "utf8", timeout: 120_000 });
  let json: Record<string, unknown> = {};
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (last.startsWith("{")) json = JSON.parse(last) as Record<string, unknown>;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}
const ok = (r: Run): Run => {
  assert.equal(r.status, 0, r.stderr);
  return r;
};
const ls = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);

test(
  "qemu-build.sh: records per stack, cache restored into another stack's prefix, remove leaves nothing",
  { skip },
  () => {
    const f = fixture();
    const a = env(f, "h5-a");
    const b = env(f, "h5-b");

    const built = ok(run(BUILD, a)).json;
    assert.equal(built.built, true);
    assert.equal(built.stateDir, join(f.state, "h5-a", "qemu"));
    const [rec] = ls(join(f.state, "h5-a", "qemu"));
    assert.match(rec!, /^prefix-[0-9a-f]{12}$/);
    assert.equal(
      readFileSync(join(f.state, "h5-a", "qemu", rec!), "utf8"),
      `prefix=${a.QEMU_PREFIX}\ncreated=${join(f.dir, "opt", "qemu", "h5-a")}\ncreated=${join(f.dir, "opt", "qemu")}\ncreated=${join(f.dir, "opt")}\n`,
    );
    assert.equal(ok(run(BUILD, a)).json.built, false, "the same inputs: reused");

    // stack b, same content, its own prefix: restored from the cache, and it runs there
    const restored = ok(run(BUILD, b));
    assert.equal(restored.json.restored, true, restored.stderr);
    assert.match(restored.stderr, /smoke test passed at the new place/);
    const stamp = readFileSync(join(b.QEMU_PREFIX!, "vhost-perf-lab-qemu.stamp"), "utf8");
    assert.match(stamp, new RegExp(`^prefix=${b.QEMU_PREFIX}$`, "m"), "the stamp names b's prefix");
    assert.equal(ok(run(BUILD, b)).json.built, false, "b reuses its restored prefix");
    assert.equal(spawnSync(join(b.QEMU_PREFIX!, "bin", "qemu-system-x86_64"), [], { input: "" }).status, 0);

    // a goes first: its levels above b's prefix are handed over to b's record
    const ra = ok(run(REMOVE, a)).json;
    assert.equal(ra.removedPrefix, true);
    assert.deepEqual(ra.removedDirs, [join(f.dir, "opt", "qemu", "h5-a")]);
    assert.equal(existsSync(join(f.state, "h5-a")), true, "LAB_STATE_DIR itself is the wrapper's");
    assert.deepEqual(ls(join(f.state, "h5-a")), [], "no qemu record dir left");
    const rb = ok(run(REMOVE, b)).json;
    assert.deepEqual(rb.removedDirs, [
      join(f.dir, "opt", "qemu", "h5-b"),
      join(f.dir, "opt", "qemu"),
      join(f.dir, "opt"),
    ]);
    assert.deepEqual(ls(join(f.state, "h5-b")), []);
    assert.equal(existsSync(join(f.dir, "opt")), false);
    ok(run(REMOVE, b)); // idempotent
    assert.ok(
      ls(join(f.dir, "cache")).some((n) => /^dist-[0-9a-f]{12}\.tar$/.test(n)),
      "the build cache stays",
    );
  },
);

test(
  "qemu-build.sh: staging left by a killed run is removed; levels it did not create stay",
  { skip },
  () => {
    const f = fixture();
    const a = env(f, "h5-a");
    const parent = join(f.dir, "opt", "qemu", "h5-a");
    mkdirSync(`${a.QEMU_PREFIX}.staging-999999`, { recursive: true }); // also makes the parent
    writeFileSync(join(`${a.QEMU_PREFIX}.staging-999999`, "half-installed"), "");
    const r = ok(run(BUILD, a));
    assert.match(r.stderr, /removed .*7\.2-k1\.staging-999999 \(left by a run that was killed\)/);
    assert.deepEqual(ls(parent), ["7.2-k1"]);
    const [rec] = ls(join(f.state, "h5-a", "qemu"));
    assert.equal(readFileSync(join(f.state, "h5-a", "qemu", rec!), "utf8"), `prefix=${a.QEMU_PREFIX}\n`);
    const rm = ok(run(REMOVE, a)).json;
    assert.deepEqual(rm.removedDirs, []);
    assert.deepEqual(ls(parent), [], "the parent was there before: it stays");
    assert.deepEqual(ls(join(f.state, "h5-a")), []);
  },
);

test(
  "qemu-build.sh: a cached install that is not relocatable is not restored elsewhere: built instead",
  { skip },
  () => {
    const f = fixture();
    // QEMU's own switch: known before anything is unpacked
    const flags = { QEMU_CONFIGURE_FLAGS: "--target-list=x86_64-softmmu --disable-relocatable" };
    ok(run(BUILD, env(f, "h5-c", flags)));
    const d = ok(run(BUILD, env(f, "h5-d", flags)));
    assert.match(d.stderr, /built for another prefix with --disable-relocatable: building/);
    assert.equal(d.json.built, true);
    ok(run(REMOVE, env(f, "h5-c", flags)));
    ok(run(REMOVE, env(f, "h5-d", flags)));
    // any other reason (the stand-in's switch): the smoke test at the new place catches it
    const other = { QEMU_CONFIGURE_FLAGS: "--target-list=x86_64-softmmu --enable-fake-absolute-datadir" };
    ok(run(BUILD, env(f, "h5-c", other)));
    ok(run(REMOVE, env(f, "h5-c", other))); // the prefix it was built for is gone
    const e = ok(run(BUILD, env(f, "h5-e", other)));
    assert.match(e.stderr, /could not load PC BIOS/);
    assert.match(e.stderr, /does not run outside the prefix it was built for .*: building/);
    assert.equal(e.json.built, true);
    assert.equal(e.json.restored, false);
    ok(run(REMOVE, env(f, "h5-e", other)));
    assert.deepEqual(
      ls(f.state).flatMap((s) => ls(join(f.state, s))),
      [],
    );
    assert.equal(existsSync(join(f.dir, "opt")), false);
  },
);

test(
  "qemu-build.sh: the deb-src file shared by two stacks is handed over, removed by the last",
  { skip },
  () => {
    const f = fixture();
    const deb = { QEMU_SOURCE_KIND: "debian", QEMU_DEBIAN_VERSION: "1:7.2+dfsg-7", QEMU_DIST_CACHE: "0" };
    // a file no stack recorded (someone else's): used, never recorded, never removed
    writeFileSync(f.srcList, "Types: deb-src\n");
    const x = env(f, "h5-x", deb);
    assert.equal(ok(run(BUILD, x)).json.addedDebSrc, false);
    assert.deepEqual(
      ls(join(f.state, "h5-x", "qemu")).filter((n) => n === "deb-src"),
      [],
    );
    assert.equal(ok(run(REMOVE, x)).json.debSrc, "none");
    assert.ok(existsSync(f.srcList));
    rmSync(f.srcList);

    const a = env(f, "h5-a", deb);
    const b = env(f, "h5-b", deb);
    const ba = ok(run(BUILD, a)).json;
    assert.equal(ba.addedDebSrc, true);
    assert.ok(existsSync(f.srcList));
    assert.equal(
      readFileSync(join(f.state, "h5-a", "qemu", "deb-src"), "utf8"),
      `file=${f.srcList}\nrole=created\n`,
    );
    const bb = ok(run(BUILD, b));
    assert.equal(bb.json.addedDebSrc, false);
    assert.match(bb.stderr, /added by another stack .*recorded as used/);
    assert.equal(
      readFileSync(join(f.state, "h5-b", "qemu", "deb-src"), "utf8"),
      `file=${f.srcList}\nrole=uses\n`,
    );

    // the creator goes first: the file stays, b now owns it
    const ra = ok(run(REMOVE, a)).json;
    assert.equal(ra.debSrc, "handed-over");
    assert.equal(ra.debSrcTo, "h5-b");
    assert.ok(existsSync(f.srcList));
    assert.deepEqual(ls(join(f.state, "h5-a")), []);
    assert.equal(
      readFileSync(join(f.state, "h5-b", "qemu", "deb-src"), "utf8"),
      `file=${f.srcList}\nrole=created\nfrom=h5-a\n`,
    );
    const rb = ok(run(REMOVE, b)).json;
    assert.equal(rb.debSrc, "removed");
    assert.equal(rb.removedDebSrc, true);
    assert.equal(existsSync(f.srcList), false, "the last stack listing it removes it");
    assert.deepEqual(ls(join(f.state, "h5-b")), []);
  },
);

test("qemu-build.sh: a failed build undoes its deb-src file, directories and records", { skip }, () => {
  const f = fixture();
  const patches = join(f.dir, "patches");
  mkdirSync(patches);
  writeFileSync(join(patches, "0001-bad.patch"), "--- a/nothing.c\n+++ b/nothing.c\n@@ -1 +1 @@\n-x\n+y\n");
  const a = env(f, "h5-a", {
    QEMU_SOURCE_KIND: "debian",
    QEMU_DEBIAN_VERSION: "1:7.2+dfsg-7",
    QEMU_PATCH_DIR: patches,
  });
  const r = run(BUILD, a);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /patch 0001-bad\.patch does not apply cleanly/);
  assert.match(r.stderr, /undo: removed .*vhost-perf-lab-src\.sources \(added by this run\)/);
  assert.equal(existsSync(f.srcList), false);
  assert.deepEqual(ls(join(f.state, "h5-a")), []);
  assert.equal(existsSync(join(f.dir, "opt")), false);
});

test("qemu-build.sh: SIGTERM during make undoes the run (exit 143)", { skip }, async () => {
  const f = fixture();
  const mark = join(f.dir, "make-started");
  const a = env(f, "h5-a", {
    QEMU_SOURCE_KIND: "debian",
    QEMU_DEBIAN_VERSION: "1:7.2+dfsg-7",
    FAKE_MAKE_MARK: mark,
  });
  const child = spawn("bash", [BUILD], { env: a, detached: true });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  const t0 = Date.now();
  while (!existsSync(mark)) {
    assert.ok(Date.now() - t0 < 60_000, `make never started: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(existsSync(f.srcList));
  process.kill(-child.pid!, "SIGTERM");
  assert.equal(await closed, 143, stderr);
  assert.match(stderr, /interrupted by SIGTERM/);
  assert.equal(existsSync(f.srcList), false);
  assert.deepEqual(ls(join(f.state, "h5-a")), []);
  assert.equal(existsSync(join(f.dir, "opt")), false);
});

test(
  "qemu-build.sh and qemu-remove.sh refuse to run without the wrapper's LAB_STACK/LAB_STATE_DIR",
  { skip },
  () => {
    const f = fixture();
    for (const script of [BUILD, REMOVE]) {
      const r = run(script, { ...env(f, "h5-a"), LAB_STACK: "" });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /LAB_STACK '' is not a stack name/);
      const s = run(script, { ...env(f, "h5-a"), LAB_STATE_DIR: "" });
      assert.match(s.stderr, /LAB_STATE_DIR is not set/);
    }
  },
);

/**
 * scripts/guest-image/deploy.sh and remove.sh (real runs on files in a temporary directory):
 * what the lab did not deploy, or another stack deployed, is refused before anything changes;
 * the image is 0600; remove takes away only its stack's image and the directory levels deploy
 * created (handed over to another stack's image still in them). And build.sh's output mode,
 * through its up-to-date path (no debootstrap run needed).
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
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { has, isRoot, PATH, scriptPath, TempDirs } from "./support/host";

const DEPLOY = scriptPath("guest-image", "deploy.sh");
const REMOVE = scriptPath("guest-image", "remove.sh");
const BUILD = scriptPath("guest-image", "build.sh");
const skip = !(has("bash") && has("flock")) && "needs bash, flock";

const tmp = new TempDirs();
afterEach(() => tmp.removeAll());

interface Run {
  status: number | null;
  stderr: string;
  json: Record<string, unknown>;
}
function run(script: string, env: Record<string, string>): Run {
  const r = spawnSync("bash", [script], {
    env: { PATH, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return { status: r.status, stderr: r.stderr, json: last.startsWith("{") ? JSON.parse(last) : {} };
}
const ok = (r: Run): Run => {
  assert.equal(r.status, 0, r.stderr);
  return r;
};
const mode = (p: string): number => statSync(p).mode & 0o777;

/** A temp dir with a built image (random content) and its sha256. */
function fixture(): { dir: string; src: string; sha: string } {
  const dir = tmp.make("vpl-h5-img-");
  const src = join(dir, "built.qcow2");
  const data = createHash("sha256").update(dir).digest("hex").repeat(1000);
  writeFileSync(src, data, { mode: 0o600 });
  return { dir, src, sha: createHash("sha256").update(data).digest("hex") };
}

test(
  "deploy.sh: 0600 image, stack in the marker, idempotent; remove.sh takes the levels it created",
  { skip },
  () => {
    const f = fixture();
    const target = join(f.dir, "lv", "a", "b", "vhost-nested.img");
    const env = { LAB_STACK: "h5-a", IMAGE_SRC: f.src, IMAGE_SHA256: f.sha, IMAGE_PATH: target };
    const d = ok(run(DEPLOY, env)).json;
    assert.deepEqual(
      { deployed: d.deployed, stack: d.stack, mode: d.mode, image: d.image },
      { deployed: true, stack: "h5-a", mode: "0600", image: target },
    );
    assert.equal(mode(target), 0o600, "the image holds the password hash");
    const marker = readFileSync(join(f.dir, "lv", "a", "b", ".vhost-nested.img.vhost-perf-lab"), "utf8");
    assert.match(marker, /^stack=h5-a$/m);
    assert.match(marker, /^created_levels=3$/m);
    chmodSync(target, 0o644); // as an earlier version left it
    const stale = join(f.dir, "lv", "a", "b", ".vhost-nested.img.tmp.999999"); // a killed deploy's copy
    writeFileSync(stale, "half a copy");
    assert.equal(ok(run(DEPLOY, env)).json.deployed, false);
    assert.equal(mode(target), 0o600);
    assert.equal(existsSync(stale), false);
    const r = ok(run(REMOVE, env)).json;
    assert.deepEqual(
      { removed: r.removed, dir_removed: r.dir_removed, owner: r.owner },
      { removed: true, dir_removed: true, owner: "h5-a" },
    );
    assert.deepEqual(readdirSync(f.dir), ["built.qcow2"], "nothing of the deploy left");
    assert.equal(ok(run(REMOVE, env)).json.removed, false, "idempotent");
  },
);

test("deploy.sh: a relative IMAGE_SRC that starts with '-' is a file, not an option", { skip }, () => {
  const f = fixture();
  writeFileSync(join(f.dir, "-built.qcow2"), readFileSync(f.src));
  const target = join(f.dir, "vm", "vhost-nested.img");
  const r = spawnSync("bash", [DEPLOY], {
    cwd: f.dir,
    env: {
      PATH,
      LAB_STACK: "h5-a",
      IMAGE_SRC: "-built.qcow2",
      IMAGE_SHA256: f.sha,
      IMAGE_PATH: target,
    },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(target, "utf8"), readFileSync(f.src, "utf8"));
  assert.equal(ok(run(REMOVE, { LAB_STACK: "h5-a", IMAGE_PATH: target })).json.removed, true);
});

test("deploy.sh refuses a file the lab did not deploy, before changing anything", { skip }, () => {
  const f = fixture();
  const target = join(f.dir, "vm", "vhost-nested.img");
  mkdirSync(join(f.dir, "vm"));
  writeFileSync(target, "someone's disk\n", { mode: 0o644 });
  const r = run(DEPLOY, { LAB_STACK: "h5-a", IMAGE_SRC: f.src, IMAGE_SHA256: f.sha, IMAGE_PATH: target });
  assert.equal(r.status, 1);
  assert.ok(
    r.stderr.includes(
      `image.path ${target} exists and was not deployed by this lab (stack h5-a)\n[deploy] fix: choose another vhost-perf-lab:image.path or remove the file`,
    ),
    r.stderr,
  );
  assert.equal(readFileSync(target, "utf8"), "someone's disk\n");
  assert.equal(mode(target), 0o644);
  assert.deepEqual(readdirSync(join(f.dir, "vm")), ["vhost-nested.img"], "no marker, no backup, no copy");
  // the same content is refused too: the lab would use (and never remove) a file it does not own
  writeFileSync(target, readFileSync(f.src));
  assert.equal(
    run(DEPLOY, { LAB_STACK: "h5-a", IMAGE_SRC: f.src, IMAGE_SHA256: f.sha, IMAGE_PATH: target }).status,
    1,
  );
  // remove.sh without a marker touches nothing
  assert.equal(ok(run(REMOVE, { LAB_STACK: "h5-a", IMAGE_PATH: target })).json.removed, false);
  assert.ok(existsSync(target));
});

test(
  "deploy.sh/remove.sh: another stack's image is refused and left alone; shared levels are handed over",
  { skip },
  () => {
    const f = fixture();
    const dir = join(f.dir, "lv", "vm");
    const a = { LAB_STACK: "h5-a", IMAGE_SRC: f.src, IMAGE_SHA256: f.sha, IMAGE_PATH: join(dir, "a.img") };
    ok(run(DEPLOY, a));
    const b = { ...a, LAB_STACK: "h5-b" };
    const refused = run(DEPLOY, b);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /image\.path .*a\.img was deployed by stack h5-a, not by this stack \(h5-b\)/,
    );
    const kept = ok(run(REMOVE, b)).json;
    assert.deepEqual({ removed: kept.removed, owner: kept.owner }, { removed: false, owner: "h5-a" });
    assert.ok(existsSync(join(dir, "a.img")));

    // b's own image in the same directory: a goes first, its two levels pass to b's marker
    const b2 = { ...b, IMAGE_PATH: join(dir, "b.img") };
    ok(run(DEPLOY, b2));
    assert.match(readFileSync(join(dir, ".b.img.vhost-perf-lab"), "utf8"), /^created_levels=0$/m);
    const ra = ok(run(REMOVE, a));
    assert.match(ra.stderr, /handed over to .*\.b\.img\.vhost-perf-lab/);
    assert.ok(existsSync(join(dir, "b.img")));
    assert.match(readFileSync(join(dir, ".b.img.vhost-perf-lab"), "utf8"), /^created_levels=2$/m);
    ok(run(REMOVE, b2));
    assert.deepEqual(readdirSync(f.dir), ["built.qcow2"]);
  },
);

test(
  "deploy.sh: a failed copy leaves nothing; an earlier version's marker is refused, removed by remove.sh",
  { skip },
  () => {
    const f = fixture();
    const target = join(f.dir, "lv", "vhost-nested.img");
    const bad = run(DEPLOY, {
      LAB_STACK: "h5-a",
      IMAGE_SRC: f.src,
      IMAGE_SHA256: "0".repeat(64),
      IMAGE_PATH: target,
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /sha256 of the copy is [0-9a-f]{64}, expected 0{64}/);
    assert.deepEqual(readdirSync(f.dir), ["built.qcow2"], "dir, marker and copy removed again");

    mkdirSync(join(f.dir, "lv"));
    writeFileSync(target, "old\n");
    writeFileSync(
      join(f.dir, "lv", ".vhost-nested.img.vhost-perf-lab"),
      `managed_by=vhost-perf-lab\nimage=${target}\ncreated_dir=1\nbackup=\n`,
    );
    const legacy = run(DEPLOY, {
      LAB_STACK: "h5-a",
      IMAGE_SRC: f.src,
      IMAGE_SHA256: f.sha,
      IMAGE_PATH: target,
    });
    assert.equal(legacy.status, 1);
    assert.match(legacy.stderr, /deployed by an earlier version of this lab that recorded no stack/);
    assert.equal(readFileSync(target, "utf8"), "old\n");
    const r = ok(run(REMOVE, { LAB_STACK: "h5-a", IMAGE_PATH: target })).json;
    assert.equal(r.removed, true);
    assert.deepEqual(readdirSync(f.dir), ["built.qcow2"]);
  },
);

test(
  "build.sh: the cached image (it holds the password hash) is made 0600",
  {
    skip:
      !(isRoot && has("debootstrap") && has("extlinux") && has("qemu-img")) &&
      "needs root, debootstrap, extlinux, qemu-img",
  },
  () => {
    const f = fixture();
    const out = join(f.dir, "images", "vhost-nested.qcow2");
    mkdirSync(join(f.dir, "images"));
    const env = {
      IMAGE_OUT: out,
      IMAGE_WORK_DIR: join(f.dir, "work"),
      IMAGE_MIRROR: "http://127.0.0.1:9/debian", // nothing listens: a rebuild fails at once
      IMAGE_SECURITY_MIRROR: "none",
    };
    writeFileSync(out, "an image built earlier\n", { mode: 0o644 });
    chmodSync(out, 0o644);
    const sha = createHash("sha256").update("an image built earlier\n").digest("hex");
    writeFileSync(`${out}.sha256`, `${sha}  vhost-nested.qcow2\n`);
    writeFileSync(`${out}.inputs`, "other inputs\n");
    // learn the fingerprint of these inputs from the rebuild it starts (and that fails)
    const first = run(BUILD, env);
    assert.notEqual(first.status, 0);
    const fp = /built from other inputs \(these are ([0-9a-f]{64})\)/.exec(first.stderr)?.[1];
    assert.ok(fp, first.stderr);
    writeFileSync(`${out}.inputs`, `${fp}\n`);
    const again = ok(run(BUILD, env));
    assert.match(again.stderr, /up to date/);
    assert.equal(again.json.built, false);
    assert.equal(mode(out), 0o600);
  },
);

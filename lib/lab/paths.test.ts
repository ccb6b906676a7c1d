import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hostPathProblem, HostPathKind, repoPathProblem, stackFromFileName } from "./paths";

const problem = (p: string, kind: HostPathKind = "dir", stack = "perf") => hostPathProblem(p, kind, stack);

function refused(p: string, why: RegExp, kind: HostPathKind = "dir", stack = "perf"): void {
  const r = problem(p, kind, stack);
  assert.ok(r, `accepted: ${JSON.stringify(p)} (${kind})`);
  assert.match(r.reason, why, p);
  assert.ok(r.fix.length > 0);
}

describe("host paths: form", () => {
  it("accepts ordinary lab paths", () => {
    for (const p of [
      "/opt/vhost-perf-lab/qemu",
      "/opt/qemu-7.2.0",
      "/var/lib/vm/vhost-nested.img",
      "/srv/lab/images/guest_1.qcow2",
      "/usr/local/vhost-perf-lab/qemu",
      "/run/vpp/sock-1-1",
      "/run/vhost-perf-lab/perf/vhu-1-2.sock",
      "/dev/hugepages/vhost-perf-lab",
      "/home/lab/images/vm.img",
      "/var/lib/vhost-perf-lab-images/vm.img",
    ]) {
      assert.equal(problem(p, "file"), undefined, p);
    }
  });

  it("refuses relative, empty, . and .. segments, //", () => {
    refused("", /empty path/);
    refused("var/lib/vm/img", /relative/);
    refused("/var/lib/vm/../../etc/passwd", /\.\. segment/);
    refused("/var/lib/vm/./img", /\.\. segment/);
    refused("/opt//qemu", /empty segment/);
    refused("/opt/qemu/", /empty segment/);
    assert.match(problem("/opt//qemu/")?.fix ?? "", /write \/opt\/qemu$/);
  });

  it("refuses commas, whitespace, control characters, leading dashes and shell characters", () => {
    refused("/run/vhu-1,server=off.sock", /comma/, "socket");
    refused("/opt/my lab", /whitespace/);
    refused("/opt/lab\u00a0x", /whitespace/);
    refused("/opt/lab\nx", /control character \(U\+000A\)/);
    refused("/opt/lab\u001b[2J", /control character \(U\+001B\)/);
    refused("/opt/lab\u0085", /control character \(U\+0085\)/);
    refused("/opt/-rf", /starts with "-"/);
    refused("/opt/qemu/--prefix=x", /starts with "-"/);
    for (const c of ["'", '"', "$", "`", ";", "&", "|", "*", "?", "\\", "(", "{", "é"]) {
      refused(`/opt/a${c}b`, /character/);
    }
  });

  it("refuses any path holding a forbidden character anywhere (property)", () => {
    const bad = fc.constantFrom(",", " ", "\t", "\n", "\r", "\u0000", "\u007f", "'", "$", ";");
    const seg = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/);
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), bad, fc.nat(), (segs, c, at) => {
        const p = `/opt/${segs.join("/")}`;
        const i = 5 + (at % (p.length - 4));
        const withBad = p.slice(0, i) + c + p.slice(i);
        assert.ok(problem(withBad, "file"), JSON.stringify(withBad));
        assert.equal(problem(p, "file"), undefined, p);
      }),
      { numRuns: 300 },
    );
  });
});

describe("host paths: system locations", () => {
  it("refuses the system directories themselves", () => {
    for (const p of [
      "/",
      "/usr",
      "/etc",
      "/bin",
      "/boot",
      "/lib",
      "/lib32",
      "/lib64",
      "/libx32",
      "/sbin",
      "/dev",
      "/proc",
      "/sys",
      "/var",
      "/var/lib",
      "/run",
      "/tmp",
      "/home",
      "/root",
      "/opt",
      "/usr/local",
    ]) {
      refused(p, /system/);
    }
  });

  it("refuses paths inside /etc, /usr (but /usr/local/<dir>/...), /bin, /sbin, /lib*, /boot, /proc, /sys, /dev", () => {
    refused("/etc/shadow", /\/etc/, "file");
    refused("/etc/vhost-perf-lab/x", /\/etc/);
    refused("/usr/bin/qemu", /\/usr/);
    refused("/usr/lib/vm.img", /\/usr/, "file");
    refused("/usr/local/bin/pulumi", /\/usr/, "file");
    refused("/usr/local/sbin/x", /\/usr/);
    refused("/usr/local/lib", /\/usr/);
    refused("/usr/local/qemu", /\/usr/);
    assert.equal(problem("/usr/local/lib/vhost-perf-lab"), undefined);
    refused("/bin/sh", /\/bin/, "file");
    refused("/sbin/init", /\/sbin/, "file");
    refused("/lib64/ld-linux-x86-64.so.2", /system/, "file");
    refused("/lib/modules/x", /system/);
    refused("/boot/vmlinuz", /\/boot/, "file");
    refused("/proc/sys/kernel/x", /\/proc/, "file");
    refused("/sys/kernel/mm/x", /\/sys/, "file");
    refused("/dev/sda", /device nodes/, "file");
    refused("/dev/shm/x.sock", /device nodes/, "socket");
    assert.equal(problem("/dev/hugepages1G/lab", "dir"), undefined);
  });

  it("refuses well-known files, credentials and package state", () => {
    refused("/vmlinuz", /system file/, "file");
    refused("/swapfile", /system file/, "file");
    refused("/root/.bashrc", /system file/, "file");
    refused("/home/lab/.profile", /system file/, "file");
    refused("/root/.ssh/authorized_keys", /\.ssh/, "file");
    refused("/home/lab/.ssh", /\.ssh/);
    refused("/var/lib/dpkg/status", /package manager/, "file");
    refused("/var/run/vhu.sock", /symlink to \/run/, "socket");
  });

  it("keeps stacks apart under the project's own roots", () => {
    refused("/run/vhost-perf-lab", /shared by all stacks/, "dir");
    refused("/run/vhost-perf-lab/vhu-1-1.sock", /shared by all stacks/, "socket");
    refused("/run/vhost-perf-lab/other/vhu-1-1.sock", /shared by all stacks/, "socket");
    refused("/run/vhost-perf-lab/perf", /run dir .* itself/, "socket");
    assert.equal(problem("/run/vhost-perf-lab/perf/vhu-1-1.sock", "socket"), undefined);
    assert.equal(problem("/run/vhost-perf-lab/other/vhu-1-1.sock", "socket", "other"), undefined);
    refused("/var/lib/vhost-perf-lab/perf/vm.img", /records/, "file");
    refused("/var/cache/vhost-perf-lab/qemu", /build cache/);
  });
});

describe("repo-relative directory (qemu.patchDir)", () => {
  it("accepts a directory of the project", () => {
    assert.equal(repoPathProblem("patches/qemu-7.2"), undefined);
    assert.equal(repoPathProblem("./patches/qemu-7.2"), undefined);
  });

  it("refuses options, escapes, commas, whitespace and control characters", () => {
    const why = (p: string) => repoPathProblem(p)?.reason ?? "accepted";
    assert.match(why("--use-compress-program=sh"), /starts with "-"/);
    assert.match(why("patches/-x"), /starts with "-"/);
    assert.match(why("../patches"), /stay inside the project/);
    assert.match(why("patches/../../x"), /stay inside the project/);
    assert.match(why("/work/patches"), /stay inside the project/);
    assert.match(why("~/patches"), /stay inside the project/);
    assert.match(why("patches,x"), /comma/);
    assert.match(why("patches x"), /whitespace/);
    assert.match(why("patches\u0007"), /control character/);
  });
});

describe("stack names from stack files", () => {
  it("reads <stack> from Pulumi.<stack>.yaml, with or without a directory", () => {
    assert.equal(stackFromFileName("Pulumi.perf.yaml"), "perf");
    assert.equal(stackFromFileName("/work/main/Pulumi.local.yml"), "local");
    assert.equal(stackFromFileName("lib/lab/testdata/invalid/001-x.yaml"), undefined);
    assert.equal(stackFromFileName("Pulumi.yaml"), undefined);
  });
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { buildQemuArgv } from "./argv";
import { QemuSpecError } from "./errors";
import { decodeArgv, encodeArgv } from "./transport";
import type { VhostUserNicSpec, VmSpec } from "./types";
import { parseOpts, valuesOf } from "./testSpec";

const nicArb: fc.Arbitrary<Omit<VhostUserNicSpec, "socketPath">> = fc.record(
  {
    queueSize: fc.constantFrom(256, 512, 1024),
    queues: fc.integer({ min: 1, max: 8 }),
    msix: fc.boolean(),
  },
  { requiredKeys: [] },
);

const specArb: fc.Arbitrary<VmSpec> = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
    index: fc.integer({ min: 0, max: 255 }),
    accel: fc.constantFrom("kvm" as const, "tcg" as const),
    vcpus: fc.integer({ min: 1, max: 16 }),
    pages: fc.integer({ min: 1, max: 4096 }),
    hugepageSizeMiB: fc.constantFrom(2, 1024),
    sshHostPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    nics: fc.array(nicArb, { minLength: 1, maxLength: 6 }),
    runDir: fc.constantFrom("/run/vpl", "/tmp/a,b", "/run/vhost-perf-lab/vm"),
  })
  .map((r) => ({
    name: r.name,
    index: r.index,
    qemuBinary: "/usr/bin/qemu-system-x86_64",
    accel: r.accel,
    vcpus: r.vcpus,
    memoryMiB: r.pages * r.hugepageSizeMiB,
    hugepageSizeMiB: r.hugepageSizeMiB,
    hugepagesPath: "/dev/hugepages",
    diskImage: `${r.runDir}/${r.name}.qcow2`,
    mgmt: r.sshHostPort === undefined ? {} : { sshHostPort: r.sshHostPort },
    vhostUser: r.nics.map((n, i) => ({ ...n, socketPath: `${r.runDir}/vhu-${r.index}-${i}.sock` })),
    runDir: r.runDir,
  }));

test("property: exactly one -name, one memory backend, one -device per NIC (+ mgmt), sizes as asked", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const argv = buildQemuArgv(spec);
      assert.equal(argv.filter((a) => a === "-name").length, 1);
      const objects = valuesOf(argv, "-object").map(parseOpts);
      assert.equal(objects.filter((o) => o.head === "memory-backend-file").length, 1);
      assert.equal(objects[0]!.props.get("share"), "on");
      const devs = valuesOf(argv, "-device").map(parseOpts);
      const nets = devs.filter((d) => d.head === "virtio-net-pci");
      assert.equal(nets.length, spec.vhostUser.length);
      assert.equal(devs.length, spec.vhostUser.length + 1);
      nets.forEach((d, i) => {
        const nic = spec.vhostUser[i]!;
        const size = String(nic.queueSize ?? 1024);
        assert.equal(d.props.get("rx_queue_size"), size);
        assert.equal(d.props.get("tx_queue_size"), size);
        assert.equal(d.props.get("vectors") === "0", nic.msix === false);
      });
      assert.equal(valuesOf(argv, "-serial").join(" "), "chardev:console chardev:qga");
      assert.equal(argv.includes("-enable-kvm"), spec.accel === "kvm");
      assert.deepEqual(decodeArgv(encodeArgv(argv)), argv);
    }),
    { numRuns: 300 },
  );
});

test("property: any queue size outside {256, 512, 1024} is refused with a queue-size issue", () => {
  const bad = fc.integer({ min: -4096, max: 65536 }).filter((n) => ![256, 512, 1024].includes(n));
  fc.assert(
    fc.property(specArb, bad, (spec, size) => {
      spec.vhostUser[0]!.queueSize = size;
      assert.throws(
        () => buildQemuArgv(spec),
        (e: unknown) => e instanceof QemuSpecError && e.has("queue-size"),
      );
    }),
    { numRuns: 200 },
  );
});

test("property: encodeArgv/decodeArgv round-trip any NUL-free strings", () => {
  const arg = fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => !s.includes("\0"));
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 30 }), (argv) => {
      assert.deepEqual(decodeArgv(encodeArgv(argv)), argv);
    }),
    { numRuns: 500 },
  );
});

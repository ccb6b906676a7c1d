import { test } from "node:test";
import assert from "node:assert/strict";
import { buildQemuArgv } from "./argv";
import { QemuSpecError, type QemuSpecIssueCode } from "./errors";
import { isValidQueueSize, resolveVmSpec, validateVmSpec } from "./validate";
import type { VmSpec } from "./types";
import { localVm } from "./testSpec";

function codes(spec: VmSpec): QemuSpecIssueCode[] {
  return validateVmSpec(spec).map((i) => i.code);
}

function throwsWith(spec: VmSpec, code: QemuSpecIssueCode, field?: string): void {
  assert.throws(
    () => buildQemuArgv(spec),
    (e: unknown) => {
      assert.ok(e instanceof QemuSpecError, "a QemuSpecError");
      assert.ok(e.has(code), `has ${code}: ${e.message}`);
      if (field)
        assert.ok(
          e.issues.some((i) => i.field === field),
          `field ${field}: ${e.message}`,
        );
      return true;
    },
  );
}

test("the local lab's VM is valid", () => {
  assert.deepEqual(validateVmSpec(localVm()), []);
});

test("queue size: a power of two in 256..1024", () => {
  assert.deepEqual([128, 256, 512, 768, 1000, 1024, 2048].map(isValidQueueSize), [
    false,
    true,
    true,
    false,
    false,
    true,
    false,
  ]);
  for (const queueSize of [128, 768, 2048, 0, 512.5]) {
    const spec = localVm();
    spec.vhostUser[1]!.queueSize = queueSize;
    throwsWith(spec, "queue-size", "vhostUser[1].queueSize");
  }
});

test("sockets must be unique, also against the VM's own QMP/agent/console sockets", () => {
  throwsWith(
    localVm({ vhostUser: [{ socketPath: "/run/a.sock" }, { socketPath: "/run/a.sock" }] }),
    "duplicate-socket",
    "vhostUser[1].socketPath",
  );
  throwsWith(
    localVm({ runDir: "/run/x", vhostUser: [{ socketPath: "/run/x/vm1-qmp.sock" }] }),
    "duplicate-socket",
  );
});

test("socket paths must fit in sun_path (107 bytes)", () => {
  const long = `/run/${"d".repeat(100)}/s.sock`;
  throwsWith(localVm({ vhostUser: [{ socketPath: long }] }), "socket-path-length", "vhostUser[0].socketPath");
  throwsWith(localVm({ runDir: `/run/${"d".repeat(95)}` }), "socket-path-length");
});

test("vcpus: an integer >= 1", () => {
  throwsWith(localVm({ vcpus: 0 }), "vcpus");
  throwsWith(localVm({ vcpus: 1.5 }), "vcpus");
  throwsWith(localVm({ vcpus: 300 }), "vcpus");
  assert.deepEqual(codes(localVm({ vcpus: 1 })), []);
});

test("memory: a positive multiple of the hugepage size", () => {
  throwsWith(localVm({ memoryMiB: 2047 }), "memory");
  throwsWith(localVm({ memoryMiB: 0 }), "memory");
  throwsWith(localVm({ memoryMiB: 1536, hugepageSizeMiB: 1024 }), "memory");
  assert.deepEqual(codes(localVm({ memoryMiB: 4096, hugepageSizeMiB: 1024 })), []);
  throwsWith(localVm({ hugepageSizeMiB: 4 }), "hugepage-size");
});

test("names, indexes, paths, ports, MACs, NICs", () => {
  throwsWith(localVm({ name: "vm 1" }), "name");
  throwsWith(localVm({ name: "vm,1" }), "name");
  throwsWith(localVm({ index: 256 }), "index");
  throwsWith(localVm({ diskImage: "overlay.qcow2" }), "path", "diskImage");
  throwsWith(localVm({ hugepagesPath: "/dev/huge\npages" }), "path", "hugepagesPath");
  throwsWith(localVm({ mgmt: { sshHostPort: 0 } }), "port");
  throwsWith(localVm({ mgmt: { mac: "01:00:5e:00:00:01" } }), "mac", "mgmt.mac");
  throwsWith(localVm({ vhostUser: [{ socketPath: "/run/a.sock", mac: "52:54:00:00:01" }] }), "mac");
  throwsWith(
    localVm({ mgmt: { mac: "52:54:00:00:01:01" } }),
    "mac",
    "vhostUser[0].mac", // clashes with NIC 1's derived MAC
  );
  throwsWith(localVm({ vhostUser: [] }), "no-nics");
  throwsWith(localVm({ vhostUser: [{ socketPath: "/run/a.sock", queues: 0 }] }), "queues");
  throwsWith(localVm({ cpuModel: "EPYC; rm -rf /" }), "cpu-model");
  throwsWith(localVm({ extraArgs: ["a\0b"] }), "argument");
});

test("one error lists every problem, each with its field", () => {
  const spec = localVm({ vcpus: 0, memoryMiB: 3 });
  spec.vhostUser[0]!.queueSize = 100;
  try {
    buildQemuArgv(spec);
    assert.fail("expected a QemuSpecError");
  } catch (e) {
    assert.ok(e instanceof QemuSpecError);
    assert.deepEqual(e.issues.map((i) => i.code).sort(), ["memory", "queue-size", "vcpus"]);
    assert.match(e.message, /invalid VM spec "vm1": 3 problems/);
    assert.match(e.message, /vhostUser\[0\]\.queueSize: expected 256, 512 or 1024/);
  }
});

test("resolve fills the defaults: queue size 1024, 1 queue, MSI-X on, EPYC, 2M pages, prealloc", () => {
  const r = resolveVmSpec(localVm());
  assert.equal(r.cpuModel, "EPYC");
  assert.equal(r.hugepageSizeMiB, 2);
  assert.equal(r.prealloc, true);
  assert.deepEqual(
    r.vhostUser.map((n) => [n.n, n.queueSize, n.queues, n.msix, n.mac, n.qomPath]),
    [
      [1, 1024, 1, true, "52:54:00:00:01:01", "/machine/peripheral/nic1/virtio-backend"],
      [2, 1024, 1, true, "52:54:00:00:01:02", "/machine/peripheral/nic2/virtio-backend"],
    ],
  );
  assert.equal(r.paths.qgaSocket, "/run/vhost-perf-lab/vm1/vm1-qga.sock");
  assert.equal(resolveVmSpec(localVm({ mgmt: { mac: "52:54:00:AB:CD:EF" } })).mgmt.mac, "52:54:00:ab:cd:ef");
});

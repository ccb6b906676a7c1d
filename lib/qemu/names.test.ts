import { test } from "node:test";
import assert from "node:assert/strict";
import { mgmtMac, optValue, VCPU_THREAD_NAME, vcpuThreadNames, vhostUserMac, vmPaths } from "./names";
import { expectedGuestNics, vmScriptEnv } from "./script";
import { decodeArgv } from "./transport";
import { buildQemuArgv } from "./argv";
import { localVm } from "./testSpec";

test("vCPU thread names as QEMU gives them with debug-threads=on", () => {
  assert.deepEqual(vcpuThreadNames("tcg", 2), ["CPU 0/TCG", "CPU 1/TCG"]);
  assert.deepEqual(vcpuThreadNames("kvm", 3), ["CPU 0/KVM", "CPU 1/KVM", "CPU 2/KVM"]);
  assert.deepEqual(vcpuThreadNames("kvm", 0), []);
  assert.equal(VCPU_THREAD_NAME.exec("CPU 12/KVM")?.[1], "12");
  assert.equal(VCPU_THREAD_NAME.test("CPU 1/TCG "), false);
  // /proc/<tid>/comm keeps 15 characters: the names fit up to vCPU 99999
  assert.ok(vcpuThreadNames("tcg", 255).every((n) => n.length <= 15));
});

test("MACs in hex, per VM and NIC", () => {
  assert.equal(vhostUserMac(1, 1), "52:54:00:00:01:01");
  assert.equal(vhostUserMac(255, 16), "52:54:00:00:ff:10");
  assert.equal(mgmtMac(2), "52:54:00:00:02:ff");
});

test("runDir files, with or without a trailing slash", () => {
  assert.deepEqual(vmPaths("/run/x/", "vm2"), {
    runDir: "/run/x",
    qmpSocket: "/run/x/vm2-qmp.sock",
    qgaSocket: "/run/x/vm2-qga.sock",
    consoleSocket: "/run/x/vm2-console.sock",
    consoleLog: "/run/x/vm2-console.log",
    pidfile: "/run/x/vm2.pid",
  });
  assert.equal(vmPaths("/", "v").pidfile, "/v.pid");
  assert.equal(optValue("/a,b,,c"), "/a,,b,,,,c");
});

test("vm.sh's environment agrees with the argv", () => {
  const spec = localVm();
  const env = vmScriptEnv(spec, {
    baseImage: "/var/lib/vm/vhost-nested.img",
    qgaPy: "/opt/vhost-perf-lab/bin/qga.py",
    qmpPy: "/opt/vhost-perf-lab/bin/qmp.py",
    guestTestpmd: "io",
  });
  assert.deepEqual(decodeArgv(env.VM_ARGV_B64!), buildQemuArgv(spec));
  assert.equal(env.VM_NAME, "vm1");
  assert.equal(env.VM_OVERLAY, spec.diskImage);
  assert.equal(env.VM_PIDFILE, "/run/vhost-perf-lab/vm1/vm1.pid");
  assert.equal(env.VM_QMP_SOCKET, "/run/vhost-perf-lab/vm1/vm1-qmp.sock");
  assert.equal(env.VM_QGA_SOCKET, "/run/vhost-perf-lab/vm1/vm1-qga.sock");
  assert.equal(env.VM_CONSOLE_LOG, "/run/vhost-perf-lab/vm1/vm1-console.log");
  assert.equal(env.VM_BOOT_TIMEOUT, "300");
  assert.equal(env.VM_GUEST_NICS, "mgmt0 virtio0 virtio1");
  assert.equal(env.VM_GUEST_TESTPMD, "io");
  assert.equal(env.VM_KEEP_LOGS, "0");
  assert.equal(env.QMP_PY, "/opt/vhost-perf-lab/bin/qmp.py");
  assert.equal(
    vmScriptEnv(localVm({ accel: "kvm" }), { baseImage: "/b", qgaPy: "/q", qmpPy: "/m" }).VM_BOOT_TIMEOUT,
    "120",
  );
  assert.ok(Object.values(env).every((v) => typeof v === "string" && !v.includes("\n")));
  assert.deepEqual(expectedGuestNics(localVm({ vhostUser: [{ socketPath: "/run/a.sock" }] })), [
    "mgmt0",
    "virtio0",
  ]);
});

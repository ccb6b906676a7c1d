/**
 * scripts/nic-bind.sh on fake sysfs trees (SYSFS_ROOT): PCI devices, drivers with bind/unbind,
 * IOMMU groups, vfio's no-IOMMU switch. A hook (SYSFS_WRITE_HOOK) plays the kernel's part after
 * each write: unbind drops the driver link and the netdev, bind makes the link (honouring
 * driver_override) and brings the netdev back for its native driver. Stand-ins for `ip` (the
 * interface's addresses) and `modprobe`. The real /sys is never touched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  has,
  link,
  put,
  run,
  runCancelled,
  script,
  shellcheck,
  snapshot,
  withTmp,
  type Run,
} from "../components/dut/scriptTestKit";

const NB = script("nic-bind.sh");
const A = "0000:3b:00.0";
const B = "0000:3b:00.1";
const DEV = (pci: string) => `sys/bus/pci/devices/${pci}`;

const HOOK = `#!/bin/bash
f=$1 v=$2
S=$SYSFS_ROOT
case "$f" in
  */driver_override) [ -n "$v" ] || echo "(null)" >"$f" ;;
  "$S"/bus/pci/drivers/*/unbind)
    : >"$f"
    d=$S/bus/pci/devices/$v
    [ -L "$d/driver" ] || exit 1
    rm "$d/driver"; rm -rf "$d/net" ;;
  "$S"/bus/pci/drivers/*/bind)
    : >"$f"
    drv=\${f%/bind}; drv=\${drv##*/}
    d=$S/bus/pci/devices/$v
    [ ! -L "$d/driver" ] || exit 1
    ovr=$(cat "$d/driver_override")
    [ "$ovr" = "(null)" ] || [ "$ovr" = "$drv" ] || exit 1
    case ",\${FAKE_BIND_FAIL:-}," in *",$v=$drv,"*) exit 1 ;; esac
    if [ "$v=$drv" = "\${FAKE_BIND_STALL_ON:-}" ]; then : >"$FAKE_BIND_STALL"; sleep 30; fi
    ln -s "../../drivers/$drv" "$d/driver"
    if [ "$drv" = "$(cat "$FAKE_NETDEV/$v/driver" 2>/dev/null)" ]; then cp -a "$FAKE_NETDEV/$v/net" "$d/net"; fi ;;
esac
`;
const IP = `#!/bin/bash
f="$FAKE_ADDRS/\${*: -1}"
[ -f "$f" ] || exit 0
while read -r a; do echo "2: \${*: -1}    inet $a scope global"; done <"$f"
`;
const MODPROBE = `#!/bin/bash
[ -n "\${FAKE_MODPROBE_OK:-}" ] || { echo "modprobe: FATAL: Module \${*: -1} not found" >&2; exit 1; }
mkdir -p "$SYSFS_ROOT/bus/pci/drivers/\${*: -1}"; : >"$SYSFS_ROOT/bus/pci/drivers/\${*: -1}/bind"; : >"$SYSFS_ROOT/bus/pci/drivers/\${*: -1}/unbind"
`;

interface Lab {
  tree: string;
  env: (extra?: Record<string, string>) => Record<string, string>;
  /** the fake host: sysfs and the netdev templates (not the state dir) */
  host: () => Record<string, string>;
  driver: (pci: string) => string;
  state: string;
}

function lab(fn: (l: Lab) => void | Promise<void>, opts: { iommu?: boolean } = {}): void | Promise<void> {
  return withTmp(({ tree, state, root }) => {
    const bin = join(root, "bin");
    mkdirSync(bin);
    for (const [name, body] of Object.entries({ hook: HOOK, ip: IP, modprobe: MODPROBE })) {
      writeFileSync(join(bin, name), body);
      chmodSync(join(bin, name), 0o755);
    }
    const files: Record<string, string> = {
      "sys/bus/pci/drivers/i40e/bind": "",
      "sys/bus/pci/drivers/i40e/unbind": "",
      "sys/bus/pci/drivers/vfio-pci/bind": "",
      "sys/bus/pci/drivers/vfio-pci/unbind": "",
      "sys/bus/pci/drivers/uio_pci_generic/bind": "",
      "sys/bus/pci/drivers/uio_pci_generic/unbind": "",
      "sys/module/vfio/parameters/enable_unsafe_noiommu_mode": "N\n",
    };
    if (opts.iommu !== false) files["sys/kernel/iommu_groups/5/type"] = "DMA\n";
    else mkdirSync(join(tree, "sys/kernel/iommu_groups"), { recursive: true });
    [A, B].forEach((pci, i) => {
      const net = { address: `3c:fd:fe:00:00:0${i + 1}\n`, flags: "0x1002\n", operstate: "down\n" };
      files[`${DEV(pci)}/driver_override`] = "(null)\n";
      files[`${DEV(pci)}/numa_node`] = "0\n";
      files[`netdev/${pci}/driver`] = "i40e\n";
      for (const [k, v] of Object.entries(net)) {
        files[`${DEV(pci)}/net/ens1f${i}/${k}`] = v;
        files[`netdev/${pci}/net/ens1f${i}/${k}`] = v;
      }
    });
    put(tree, files);
    for (const pci of [A, B]) link(tree, `${DEV(pci)}/driver`, "../../drivers/i40e");
    mkdirSync(join(root, "addrs"));
    return fn({
      tree,
      state,
      env: (extra = {}) => ({
        PATH_PREFIX: bin,
        SYSFS_ROOT: join(tree, "sys"),
        SYSFS_WRITE_HOOK: join(bin, "hook"),
        FAKE_NETDEV: join(tree, "netdev"),
        FAKE_ADDRS: join(root, "addrs"),
        LAB_STATE_DIR: state,
        NIC_BIND: `${A}=vfio-pci,${B}=vfio-pci`,
        ...extra,
      }),
      host: () => snapshot(tree),
      driver: (pci) => {
        const l = join(tree, DEV(pci), "driver");
        return lstatSync(l, { throwIfNoEntry: false }) ? readlinkSync(l).split("/").pop()! : "";
      },
    });
  });
}

function json(r: Run): { action: string; devices: Record<string, unknown>[] } {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!);
}
function refused(r: Run, ...m: RegExp[]): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  for (const x of m) assert.match(r.stderr, x);
}

test("shellcheck -x scripts/nic-bind.sh is clean", { skip: !has("shellcheck") && "shellcheck missing" }, () =>
  shellcheck(NB),
);

test("nic-bind.sh: up binds both to vfio-pci (MACs recorded first), second up changes nothing, down restores byte for byte", () =>
  lab((l) => {
    const before = l.host();
    assert.equal(run(NB, "status", l.env()).status, 3, "nothing bound yet");
    const up = json(run(NB, "up", l.env()));
    assert.deepEqual(
      up.devices.map((d) => [d.pci, d.driver, d.original, d.mac, d.ifname, d.changed]),
      [
        [A, "vfio-pci", "i40e", "3c:fd:fe:00:00:01", "ens1f0", true],
        [B, "vfio-pci", "i40e", "3c:fd:fe:00:00:02", "ens1f1", true],
      ],
    );
    assert.equal(readFileSync(join(l.tree, DEV(A), "driver_override"), "utf8"), "vfio-pci\n");
    assert.equal(existsSync(join(l.tree, DEV(A), "net")), false, "the netdev went with i40e");
    assert.equal(readFileSync(join(l.state, "nic-bind", A), "utf8").includes("original=i40e"), true);
    assert.equal(run(NB, "status", l.env()).status, 0);

    const bound = l.host();
    const again = run(NB, "up", l.env());
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /already on vfio-pci/);
    assert.deepEqual(l.host(), bound, "a second up changes nothing");
    assert.deepEqual(
      json(again).devices.map((d) => d.mac),
      ["3c:fd:fe:00:00:01", "3c:fd:fe:00:00:02"],
      "the MACs still come from the records",
    );

    json(run(NB, "down", l.env()));
    assert.deepEqual(l.host(), before, "down puts sysfs back exactly");
    assert.equal(existsSync(join(l.state, "nic-bind")), false, "records gone");
    assert.equal(run(NB, "status", l.env()).status, 3);
    json(run(NB, "down", l.env())); // idempotent
  }));

test("nic-bind.sh: drift (back on i40e after a reboot) is status 3; up binds again keeping the original; down restores", () =>
  lab((l) => {
    const before = l.host();
    json(run(NB, "up", l.env()));
    // what a reboot does: the kernel driver takes the device again, override cleared
    rmSync(join(l.tree, DEV(B), "driver"));
    link(l.tree, `${DEV(B)}/driver`, "../../drivers/i40e");
    writeFileSync(join(l.tree, DEV(B), "driver_override"), "(null)\n");
    assert.equal(run(NB, "status", l.env()).status, 3);
    const r = run(NB, "up", l.env());
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /0000:3b:00\.1 is on i40e, not vfio-pci \(drifted\)/);
    assert.equal(l.driver(B), "vfio-pci");
    assert.equal(json(r).devices[1]!.original, "i40e");
    json(run(NB, "down", l.env()));
    assert.equal(l.driver(B), "i40e");
    assert.equal(l.driver(A), "i40e");
    assert.deepEqual(Object.keys(l.host()).sort(), Object.keys(before).sort());
  }));

test("nic-bind.sh refuses before changing anything: interface up, addresses, unknown device, bad NIC_BIND, driver missing", () =>
  lab((l) => {
    const before = l.host();
    writeFileSync(join(l.tree, DEV(B), "net/ens1f1/flags"), "0x1003\n");
    refused(
      run(NB, "up", l.env()),
      /0000:3b:00\.1 is ens1f1, which is in use \(up\)/,
      /fix: .*ip link set dev ens1f1 down/,
    );
    writeFileSync(join(l.tree, DEV(B), "net/ens1f1/flags"), "0x1002\n");
    writeFileSync(join(l.env().FAKE_ADDRS!, "ens1f1"), "192.0.2.12/24\n");
    refused(run(NB, "up", l.env()), /ens1f1, which is in use \(addresses 192\.0\.2\.12\/24\)/);
    rmSync(join(l.env().FAKE_ADDRS!, "ens1f1"));
    refused(
      run(NB, "up", l.env({ NIC_BIND: `${A}=vfio-pci,0000:5e:00.0=vfio-pci` })),
      /no PCI device 0000:5e:00\.0/,
    );
    refused(run(NB, "up", l.env({ NIC_BIND: `${A}=vfio pci` })), /is not <pci>=<driver>/);
    refused(
      run(NB, "up", l.env({ NIC_BIND: `${A}=igb_uio` })),
      /driver igb_uio is not available/,
      /hosts\[\]\.nics\[\]\.driver/,
    );
    assert.deepEqual(l.host(), before, "nothing changed by a refusal");
    assert.equal(existsSync(join(l.state, "nic-bind")), false, "no records");
  }));

test("nic-bind.sh: vfio-pci without an IOMMU is refused with the fix; no-IOMMU mode or a uio driver works", () =>
  lab(
    (l) => {
      const before = l.host();
      refused(
        run(NB, "up", l.env()),
        /vfio-pci needs an IOMMU/,
        /intel_iommu=on iommu=pt.*tuning\.kernelArgs.*enable_unsafe_noiommu_mode.*uio_pci_generic/,
      );
      assert.deepEqual(l.host(), before);
      const uio = `${A}=uio_pci_generic,${B}=uio_pci_generic`;
      assert.equal(json(run(NB, "up", l.env({ NIC_BIND: uio }))).devices[0]!.driver, "uio_pci_generic");
      json(run(NB, "down", l.env({ NIC_BIND: uio })));
      assert.deepEqual(l.host(), before);
      writeFileSync(join(l.tree, "sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), "Y\n");
      json(run(NB, "up", l.env()));
      assert.equal(l.driver(A), "vfio-pci");
      json(run(NB, "down", l.env()));
      assert.equal(l.driver(A), "i40e");
    },
    { iommu: false },
  ));

test("nic-bind.sh: a missing driver module is loaded with modprobe", () =>
  lab((l) => {
    rmSync(join(l.tree, "sys/bus/pci/drivers/vfio-pci"), { recursive: true });
    json(run(NB, "up", l.env({ FAKE_MODPROBE_OK: "1" })));
    assert.equal(l.driver(A), "vfio-pci");
    json(run(NB, "down", l.env()));
  }));

test("nic-bind.sh: a device already on the target before the lab is recorded and left there by down", () =>
  lab((l) => {
    rmSync(join(l.tree, DEV(A), "driver"));
    rmSync(join(l.tree, DEV(A), "net"), { recursive: true });
    link(l.tree, `${DEV(A)}/driver`, "../../drivers/vfio-pci");
    const before = l.host();
    const up = json(run(NB, "up", l.env()));
    assert.equal(up.devices[0]!.changed, false);
    assert.equal(up.devices[1]!.changed, true);
    json(run(NB, "down", l.env()));
    assert.deepEqual(l.host(), before);
    assert.equal(l.driver(A), "vfio-pci");
  }));

test("nic-bind.sh: a bind failing half way puts the devices it changed back (exit 1)", () =>
  lab((l) => {
    const before = l.host();
    const r = run(NB, "up", l.env({ FAKE_BIND_FAIL: `${B}=vfio-pci` }));
    refused(r, /binding 0000:3b:00\.1 to vfio-pci failed/, /putting back what it changed/);
    assert.deepEqual(l.host(), before, "both devices back on i40e, overrides cleared");
    assert.equal(existsSync(join(l.state, "nic-bind")), false);
  }));

test("nic-bind.sh: SIGTERM during the second bind undoes the first (exit 143)", async () =>
  lab(async (l) => {
    const before = l.host();
    const ready = join(l.state, "..", "stalled");
    const r = await runCancelled(
      NB,
      "up",
      l.env({ FAKE_BIND_STALL_ON: `${B}=vfio-pci`, FAKE_BIND_STALL: ready }),
      ready,
    );
    assert.ok(r.reached, r.stderr);
    assert.equal(r.status, 143, r.stderr);
    assert.match(r.stderr, /interrupted by SIGTERM: putting back/);
    assert.deepEqual(l.host(), before);
    assert.equal(existsSync(join(l.state, "nic-bind")), false);
  }));

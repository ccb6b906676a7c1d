import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { union } from "./cpuset";
import { formatErrors } from "./errors";
import { checkHostFacts, HostFacts, HUGEPAGE_HEADROOM_MIB } from "./hostFacts";
import { parseLab } from "./parse";
import { csitConfig, localConfig } from "./testutil";
import type { Host, Lab } from "./types";

function lab(config: Record<string, unknown>): Lab {
  const r = parseLab(config, "Pulumi.t.yaml");
  if (!r.ok) assert.fail(formatErrors(r.errors));
  return r.lab;
}

const csit = lab(csitConfig());
const dut = csit.hosts[0] as Host; // 8 CPUs: hk 0, vswitch main 0, worker 2, vm 3-5; 8 x 1G; pci 0000:18:00.0/.1
const tg = csit.hosts[1] as Host; // tg 1-4; 8 x 1G; pci 0000:3b:00.0/.1
const local = lab(localConfig());
const me = local.hosts[0] as Host; // 2 CPUs; 1536 x 2M

/** Facts of a host that has everything the config asks for, with plenty of memory. */
function goodFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    cpusOnline: Array.from({ length: 8 }, (_, i) => i),
    numaNodes: [0, 1],
    hugepageSizesKiB: [2048, 1048576],
    memTotalMiB: 65536,
    memAvailableMiB: 60000,
    hugepagesFreeBySizeKiB: { "2048": 0, "1048576": 0 },
    pciAddresses: ["0000:00:00.0", "0000:18:00.0", "0000:18:00.1", "0000:3b:00.0", "0000:3b:00.1"],
    ...over,
  };
}

const paths = (errors: { path: string }[]) => errors.map((e) => e.path);

describe("checkHostFacts", () => {
  it("finds nothing wrong on hosts that have what the config asks for", () => {
    assert.deepEqual(checkHostFacts(dut, csit, goodFacts()), []);
    assert.deepEqual(checkHostFacts(tg, csit, goodFacts()), []);
    const small = goodFacts({ cpusOnline: [0, 1], numaNodes: [], memTotalMiB: 7900, memAvailableMiB: 6000 });
    assert.deepEqual(checkHostFacts(me, local, small), [], "local: no NUMA, 2 CPUs, 3 GiB pool of 6 GiB");
  });

  it("names each role whose CPUs are not online, with the host's online CPUs and a fix", () => {
    const errors = checkHostFacts(dut, csit, goodFacts({ cpusOnline: [0, 1] }));
    assert.deepEqual(paths(errors), [
      "vhost-perf-lab:hosts[0].cpus.vswitch",
      "vhost-perf-lab:hosts[0].cpus.vms[0]",
    ]);
    const vm = errors[1];
    assert.match(vm?.found ?? "", /"3-5": CPUs 3-5 are not online \(this host has CPUs 0-1 online\)/);
    assert.match(
      vm?.hint ?? "",
      /use online CPUs of NUMA node 0 .*echo 1 > \/sys\/devices\/system\/cpu\/cpu3\/online/,
    );
    assert.deepEqual(paths(checkHostFacts(tg, csit, goodFacts({ cpusOnline: [0, 1, 2] }))), [
      "vhost-perf-lab:hosts[1].cpus.tg",
    ]);
    const housekeeping = checkHostFacts(dut, csit, goodFacts({ cpusOnline: [1, 2, 3, 4, 5] }));
    assert.deepEqual(
      paths(housekeeping),
      ["vhost-perf-lab:hosts[0].cpus.housekeeping"],
      "vswitchMain = housekeeping[0]: one error",
    );
  });

  it("checks an explicit vswitchMain of its own", () => {
    const c = csitConfig();
    const hosts = c.hosts as Record<string, Record<string, unknown>>[];
    (hosts[0] as Record<string, Record<string, unknown>>).cpus = {
      count: 8,
      housekeeping: "0",
      vswitchMain: 1,
      vswitch: "2",
      vms: ["3-5"],
    };
    const l = lab(c);
    const errors = checkHostFacts(l.hosts[0] as Host, l, goodFacts({ cpusOnline: [0, 2, 3, 4, 5] }));
    assert.deepEqual(paths(errors), ["vhost-perf-lab:hosts[0].cpus.vswitchMain"]);
  });

  it("checks the NUMA node, taking a kernel without NUMA as node 0", () => {
    const c = csitConfig();
    (c.hosts as Record<string, unknown>[])[0] = { ...(c.hosts as Record<string, unknown>[])[0], numaNode: 1 };
    const l = lab(c);
    const errors = checkHostFacts(l.hosts[0] as Host, l, goodFacts({ numaNodes: [0] }));
    assert.deepEqual(paths(errors), ["vhost-perf-lab:hosts[0].numaNode"]);
    assert.match(errors[0]?.found ?? "", /1 \(this host has NUMA node 0\)/);
    assert.match(errors[0]?.hint ?? "", /\/sys\/bus\/pci\/devices\/0000:18:00.0\/numa_node/);
    assert.deepEqual(checkHostFacts(dut, csit, goodFacts({ numaNodes: [] })), []);
  });

  it("checks the hugepage size against the kernel's and offers the same memory in the other size", () => {
    const errors = checkHostFacts(dut, csit, goodFacts({ hugepageSizesKiB: [2048] }));
    assert.deepEqual(paths(errors), ["vhost-perf-lab:hosts[0].hugepages.size"]);
    assert.match(errors[0]?.found ?? "", /"1G" \(this host offers 2M pages\)/);
    assert.match(errors[0]?.hint ?? "", /size: 2M with count: 4096 .*pdpe1gb/);
    const none = checkHostFacts(dut, csit, goodFacts({ hugepageSizesKiB: [] }));
    assert.match(none[0]?.found ?? "", /offers no hugepages/);
  });

  it("checks that every pci port is present (any case, with or without the domain)", () => {
    const errors = checkHostFacts(dut, csit, goodFacts({ pciAddresses: ["0000:18:00.0"] }));
    assert.deepEqual(paths(errors), ["vhost-perf-lab:hosts[0].nics[1].pci"]);
    assert.match(errors[0]?.hint ?? "", /lspci -D/);
    assert.deepEqual(
      checkHostFacts(dut, csit, goodFacts({ pciAddresses: ["18:00.0", "0000:18:00.1".toUpperCase()] })),
      [],
    );
    assert.deepEqual(
      checkHostFacts(me, local, goodFacts({ pciAddresses: [] })),
      [],
      "veth ports need no device",
    );
  });

  it("wants the pool to fit MemAvailable plus the pool's free pages, minus the headroom", () => {
    // dut: 8 x 1G = 8192 MiB
    const fits = (avail: number, free = 0, opts = {}) =>
      checkHostFacts(
        dut,
        csit,
        goodFacts({ memAvailableMiB: avail, hugepagesFreeBySizeKiB: { "1048576": free } }),
        opts,
      );
    assert.deepEqual(fits(8192 + HUGEPAGE_HEADROOM_MIB), []);
    const short = fits(8192 + HUGEPAGE_HEADROOM_MIB - 1);
    assert.deepEqual(paths(short), ["vhost-perf-lab:hosts[0].hugepages.count"]);
    assert.match(
      short[0]?.found ?? "",
      /8 x 1G = 8192 MiB; the host can give 8191 MiB \(MemAvailable 8703 MiB - 512 MiB headroom\)/,
    );
    assert.match(short[0]?.hint ?? "", /at most 7/);
    assert.deepEqual(fits(3072 + HUGEPAGE_HEADROOM_MIB, 5), [], "5 free 1G pages count");
    assert.deepEqual(fits(100, 0, { heldPages: 8 }), [], "pages the stack already holds count");
    assert.deepEqual(fits(8192, 0, { headroomMiB: 0 }), []);
    const tiny = checkHostFacts(dut, csit, goodFacts({ memTotalMiB: 4096, memAvailableMiB: 3000 }));
    assert.match(tiny[0]?.found ?? "", /4096 MiB of RAM in all/);
  });

  it("reports every problem at once", () => {
    const errors = checkHostFacts(dut, csit, {
      cpusOnline: [0],
      numaNodes: [1],
      hugepageSizesKiB: [2048],
      memTotalMiB: 1024,
      memAvailableMiB: 512,
      hugepagesFreeBySizeKiB: {},
      pciAddresses: [],
    });
    assert.deepEqual(paths(errors).sort(), [
      "vhost-perf-lab:hosts[0].cpus.vms[0]",
      "vhost-perf-lab:hosts[0].cpus.vswitch",
      "vhost-perf-lab:hosts[0].hugepages.size",
      "vhost-perf-lab:hosts[0].nics[0].pci",
      "vhost-perf-lab:hosts[0].nics[1].pci",
      "vhost-perf-lab:hosts[0].numaNode",
    ]);
    for (const e of errors) assert.ok(e.expected && e.found && e.hint, JSON.stringify(e));
  });

  it("properties: a CPU taken offline is reported at exactly the roles that use it; more memory never adds errors", () => {
    const used = union(dut.cpus.housekeeping, dut.cpus.vswitch, ...dut.cpus.vms);
    fc.assert(
      fc.property(fc.constantFrom(...used), fc.subarray([8, 9, 10, 11]), (off, extra) => {
        const online = [...Array.from({ length: 8 }, (_, i) => i).filter((i) => i !== off), ...extra];
        const got = paths(checkHostFacts(dut, csit, goodFacts({ cpusOnline: online })));
        const want = [
          ...(dut.cpus.housekeeping.includes(off) ? ["vhost-perf-lab:hosts[0].cpus.housekeeping"] : []),
          ...(dut.cpus.vswitch.includes(off) ? ["vhost-perf-lab:hosts[0].cpus.vswitch"] : []),
          ...dut.cpus.vms.flatMap((v, i) =>
            v.includes(off) ? [`vhost-perf-lab:hosts[0].cpus.vms[${i}]`] : [],
          ),
        ];
        assert.deepEqual(got, want);
      }),
    );
    fc.assert(
      fc.property(fc.nat({ max: 20000 }), fc.nat({ max: 20000 }), fc.nat({ max: 16 }), (a, more, free) => {
        const at = (avail: number) =>
          checkHostFacts(
            dut,
            csit,
            goodFacts({ memAvailableMiB: avail, hugepagesFreeBySizeKiB: { "1048576": free } }),
          ).length;
        assert.ok(at(a + more) <= at(a));
        const canGive = Math.max(0, a - HUGEPAGE_HEADROOM_MIB) + free * 1024;
        assert.equal(at(a) === 0, canGive >= 8192);
      }),
    );
  });
});

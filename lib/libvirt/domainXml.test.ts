import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { buildDomainXml, xmlEscape } from "./domainXml";
import { localVm } from "../qemu/testSpec";
import type { VhostUserNicSpec, VmSpec } from "../qemu/types";
import { repoRoot } from "../lab/testutil";

const golden = (f: string): string => readFileSync(join(repoRoot(), "lib", "libvirt", "testdata", f), "utf8");

/** A small XML reader for the tests: elements with unescaped attributes and text; throws when not well-formed. */
interface El {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: El[];
}
const unescape = (s: string): string => {
  assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(s), `a bare & in ${JSON.stringify(s)}`);
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
};
function parseXml(xml: string): El {
  const root: El = { name: "#root", attrs: {}, text: "", children: [] };
  const stack: El[] = [root];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < xml.length && (m = re.exec(xml)) !== null) {
    at = re.lastIndex;
    const top = stack[stack.length - 1]!;
    if (m[5] !== undefined) {
      assert.ok(!m[5].includes(">"), `a bare > in text ${JSON.stringify(m[5])}`);
      top.text += unescape(m[5]);
      continue;
    }
    if (m[1] === "/") {
      assert.equal(top.name, m[2], `</${m[2]}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (m[3] ?? "").matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
    const el: El = { name: m[2]!, attrs, text: "", children: [] };
    top.children.push(el);
    if (m[4] !== "/") stack.push(el);
  }
  assert.equal(at, xml.length, `not well-formed at ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
  assert.equal(stack.length, 1, "unclosed elements");
  assert.equal(root.children.length, 1);
  return root.children[0]!;
}
const all = (el: El, name: string): El[] => [
  ...(el.name === name ? [el] : []),
  ...el.children.flatMap((c) => all(c, name)),
];
const one = (el: El, name: string): El => {
  const found = all(el, name);
  assert.equal(found.length, 1, `${found.length} <${name}>`);
  return found[0]!;
};

test("golden: the local lab's VM (TCG, 2 vCPUs on CPU 1, 2 GiB on 2M pages, two vhost-user NICs)", () => {
  const xml = buildDomainXml(localVm(), {
    domainName: "vpl-local-vm1",
    vcpuPin: [[1], [1]],
    emulatorPin: [0],
  });
  assert.equal(xml, golden("local-vm1.xml"));
});

test("golden: KVM, 1G pages, multi-queue and msix off go through qemu:override", () => {
  const spec = localVm({
    accel: "kvm",
    memoryMiB: 4096,
    hugepageSizeMiB: 1024,
    hugepagesPath: "/dev/hugepages1G",
    vhostUser: [
      { socketPath: "/run/vpl/a.sock", queues: 2, queueSize: 512 },
      { socketPath: "/run/vpl/b.sock", msix: false, queueSize: 256 },
    ],
  });
  assert.equal(buildDomainXml(spec, { domainName: "vpl-perf-vm1" }), golden("kvm-mq.xml"));
});

test("a bad domain name or spec is refused before any XML is made", () => {
  assert.throws(() => buildDomainXml(localVm(), { domainName: "a b" }), /domain name/);
  assert.throws(() => buildDomainXml(localVm(), { domainName: "x<y" }), /domain name/);
  assert.throws(() => buildDomainXml(localVm({ vcpus: 0 }), { domainName: "vm" }));
});

test("property: xmlEscape leaves no markup character and unescapes to the input", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (s) => {
      const e = xmlEscape(s);
      assert.ok(!/[<>"']/.test(e));
      assert.equal(unescape(e), s);
    }),
    { numRuns: 500 },
  );
});

const nicArb: fc.Arbitrary<Omit<VhostUserNicSpec, "socketPath">> = fc.record(
  { queueSize: fc.constantFrom(256, 512, 1024), queues: fc.integer({ min: 1, max: 8 }), msix: fc.boolean() },
  { requiredKeys: [] },
);
// directories with every character XML treats specially (and QEMU's option comma)
const dirArb = fc.constantFrom("/run/vpl", "/tmp/a&b", "/tmp/<x>", `/tmp/q"u'o`, "/tmp/a,b", "/tmp/&amp;");

const specArb = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
    index: fc.integer({ min: 0, max: 255 }),
    accel: fc.constantFrom("kvm" as const, "tcg" as const),
    vcpus: fc.integer({ min: 1, max: 16 }),
    pages: fc.integer({ min: 1, max: 4096 }),
    hugepageSizeMiB: fc.constantFrom(2, 1024),
    sshHostPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    nics: fc.array(nicArb, { minLength: 1, maxLength: 6 }),
    runDir: dirArb,
    binDir: dirArb,
    pin: fc.array(fc.array(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: 3 }), {
      maxLength: 16,
    }),
  })
  .map((r) => ({
    pin: r.pin,
    spec: {
      name: r.name,
      index: r.index,
      qemuBinary: `${r.binDir}/qemu-system-x86_64`,
      accel: r.accel,
      vcpus: r.vcpus,
      memoryMiB: r.pages * r.hugepageSizeMiB,
      hugepageSizeMiB: r.hugepageSizeMiB,
      hugepagesPath: "/dev/hugepages",
      diskImage: `${r.runDir}/${r.name}.qcow2`,
      mgmt: r.sshHostPort === undefined ? {} : { sshHostPort: r.sshHostPort },
      vhostUser: r.nics.map((n, i) => ({ ...n, socketPath: `${r.runDir}/vhu-${r.index}-${i}.sock` })),
      runDir: r.runDir,
    } satisfies VmSpec,
  }));

test("property: well-formed, every value escaped; vhost-user NICs at the spec's sizes; shared hugepages; vcpupin per the plan; the emulator", () => {
  fc.assert(
    fc.property(specArb, ({ spec, pin }) => {
      const dom = parseXml(buildDomainXml(spec, { domainName: "vpl-t-vm1", vcpuPin: pin, emulatorPin: [0] }));
      assert.equal(dom.attrs["type"], spec.accel === "kvm" ? "kvm" : "qemu");
      assert.equal(one(dom, "emulator").text, spec.qemuBinary);
      assert.equal(one(dom, "vcpu").text, String(spec.vcpus));
      // without ACPI the guest sees one CPU (found in the e2e: EAL "lcore 1 unavailable")
      assert.equal(one(one(dom, "features"), "acpi").children.length, 0);
      const mb = one(dom, "memoryBacking");
      assert.equal(one(mb, "access").attrs["mode"], "shared");
      assert.equal(one(mb, "page").attrs["size"], String(spec.hugepageSizeMiB * 1024));
      assert.equal(one(one(dom, "disk"), "source").attrs["file"], spec.diskImage);
      const nics = all(dom, "interface");
      assert.equal(nics.length, spec.vhostUser.length);
      nics.forEach((el, i) => {
        const nic = spec.vhostUser[i]!;
        assert.equal(el.attrs["type"], "vhostuser");
        assert.deepEqual(one(el, "source").attrs, { type: "unix", path: nic.socketPath, mode: "server" });
        const drv = all(el, "driver")[0]!;
        const size = String(nic.queueSize ?? 1024);
        assert.equal(drv.attrs["rx_queue_size"], size);
        assert.equal(drv.attrs["tx_queue_size"], size);
        assert.equal(drv.attrs["queues"], String(nic.queues ?? 1));
      });
      const pins = all(dom, "vcpupin");
      const want = pin.slice(0, spec.vcpus);
      assert.equal(pins.length, want.length);
      pins.forEach((p, i) => {
        assert.equal(p.attrs["vcpu"], String(i));
        assert.equal(p.attrs["cpuset"], want[i]!.join(","));
      });
      const serials = all(dom, "serial").map((s) => one(s, "target").attrs["port"]);
      assert.deepEqual(serials, ["0", "1"]);
      const args = all(dom, "qemu:arg").map((a) => a.attrs["value"]);
      assert.ok(
        args.some((a) => a?.startsWith("e1000,")),
        "the e1000 management NIC",
      );
    }),
    { numRuns: 300 },
  );
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  AF_PACKET_FRAME_HEADROOM,
  guestFrameOptions,
  guestPoolMiB,
  largestFrameBytes,
  matrixMaxFrame,
  maxFrameForMtu,
  MBUF_HEADROOM,
  mtuForFrame,
  vswitchFrameSizes,
} from "./frames";
import { formatErrors } from "./errors";
import { parseLab } from "./parse";
import { localConfig } from "./testutil";
import { vmScriptEnv } from "../qemu/script";
import { localVm } from "../qemu/testSpec";
import { parseTrialOutput } from "../bench/trafgenGenerator";

const frame = fc.integer({ min: 64, max: 9216 });

/** localConfig() with these frames and this mtu on both ports */
function lab(frames: (number | "imix")[], mtu: number): ReturnType<typeof parseLab> {
  const c = localConfig() as { hosts: { nics: { mtu?: number }[] }[]; matrix?: unknown };
  for (const n of c.hosts[0]!.nics) n.mtu = mtu;
  c.matrix = { frames, vringSizes: [1024], cfsPolicies: ["cfs"], tests: ["mrr"] };
  return parseLab(c as Record<string, unknown>, "Pulumi.t.yaml");
}

describe("frame sizes -> MTU", () => {
  it("a frame needs mtu = frame - 18 (Ethernet header + FCS); IMIX's largest is 1518", () => {
    assert.equal(mtuForFrame(1518), 1500);
    assert.equal(mtuForFrame(9000), 8982);
    assert.equal(maxFrameForMtu(9000), 9018);
    assert.equal(largestFrameBytes("imix"), 1518);
    assert.equal(matrixMaxFrame([64, "imix"]), 1518);
    assert.equal(matrixMaxFrame([64]), 1518, "never below a standard frame");
    assert.equal(matrixMaxFrame([64, 9000, "imix", 1518]), 9000);
  });

  it("property: mtuForFrame and maxFrameForMtu are inverse", () => {
    fc.assert(fc.property(frame, (f) => maxFrameForMtu(mtuForFrame(f)) === f));
  });

  it("lab:check refuses a frame above mtu + 18 with the path and the fix, before any host step", () => {
    const r = lab([64, 9000], 8981);
    assert.equal(r.ok, false);
    const text = r.ok ? "" : formatErrors(r.errors);
    assert.match(text, /matrix\.frames\[1\]/);
    assert.match(text, /mtu 8981, so at most 8999 B/);
    assert.match(text, /raise hosts\[\]\.nics\[\]\.mtu of local\.port0 .* to 8982/);
    const ok = lab([64, 9000, "imix"], 8982);
    assert.ok(ok.ok, ok.ok ? "" : formatErrors(ok.errors));
    const imix = lab(["imix"], 1499);
    assert.equal(imix.ok, false, "IMIX carries 1518 B frames");
  });

  it("property: a matrix passes lab:check exactly when its largest frame fits the smallest mtu", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(frame, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1000, max: 9710 }),
        (fs, mtu) => {
          const r = lab(fs, mtu);
          return r.ok === Math.max(...fs) <= mtu + 18;
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("frame sizes -> the testpmd vswitch's af_packet and mbuf sizes", () => {
  it("up to 1518 B: the defaults the script always used; 9000 B: 10 KiB ring frames", () => {
    assert.deepEqual(vswitchFrameSizes(1518), {
      maxFrame: 1518,
      afFramesz: 2048,
      afBlocksz: 4096,
      afFramecnt: 4096,
    });
    assert.deepEqual(vswitchFrameSizes(9000), {
      maxFrame: 9000,
      afFramesz: 10240,
      afBlocksz: 20480,
      afFramecnt: 1024,
      mbufSize: 10368,
    });
  });

  it("property: a ring frame holds the frame and its tpacket header, blocks are whole pages of whole frames, the mbuf holds a ring frame", () => {
    fc.assert(
      fc.property(frame, (f) => {
        const s = vswitchFrameSizes(f);
        const dataRoom = (s.mbufSize ?? 2048 + MBUF_HEADROOM) - MBUF_HEADROOM;
        return (
          s.afFramesz >= f + (f > 1518 ? AF_PACKET_FRAME_HEADROOM : 0) &&
          s.afFramesz % 2048 === 0 &&
          s.afBlocksz % 4096 === 0 &&
          s.afBlocksz % s.afFramesz === 0 &&
          // net_af_packet refuses a queue whose mbuf data room is below framesz - 32
          dataRoom >= s.afFramesz - 32 &&
          // the rings stay small: two rings per port, ~20 MiB each at most
          s.afFramesz * s.afFramecnt <= 20 * 1024 * 1024
        );
      }),
    );
  });
});

describe("frame sizes -> the guest testpmd", () => {
  it("nothing for standard frames; --max-pkt-len, big mbufs and a bounded pool for jumbo", () => {
    assert.deepEqual(guestFrameOptions(1518), {});
    assert.deepEqual(guestFrameOptions(9000), { maxPktLen: 9000, mbufSize: 9216, totalMbufs: 8192 });
  });

  it("property: one mbuf holds the whole frame and the pool fits the guest's 256 x 2 MiB pages", () => {
    fc.assert(
      fc.property(frame, (f) => {
        const o = guestFrameOptions(f);
        if (f <= 1518) return o.maxPktLen === undefined && guestPoolMiB(o) === 0;
        return o.maxPktLen === f && (o.mbufSize ?? 0) - MBUF_HEADROOM >= f && guestPoolMiB(o) < 256;
      }),
    );
  });

  it("vm.sh gets the options only for jumbo frames (a standard lab's step inputs stay as they were)", () => {
    const base = { baseImage: "/b", qgaPy: "/q", qmpPy: "/m", guestTestpmd: "io" as const };
    const std = vmScriptEnv(localVm(), { ...base, guestMaxFrame: 1518 });
    assert.equal(std["VM_GUEST_MAX_PKT_LEN"], undefined);
    assert.deepEqual(std, vmScriptEnv(localVm(), base));
    const jumbo = vmScriptEnv(localVm(), { ...base, guestMaxFrame: 9000 });
    assert.equal(jumbo["VM_GUEST_MAX_PKT_LEN"], "9000");
    assert.equal(jumbo["VM_GUEST_MBUF_SIZE"], "9216");
    assert.equal(jumbo["VM_GUEST_MBUFS"], "8192");
  });
});

describe("trafgen trial records carry the bytes (whole frames arrived)", () => {
  it("reads tx/rx bytes when the record has them, and older records without", () => {
    const out = parseTrialOutput(
      [
        "C before 0 7 100 8 50 0 1000 2000",
        "C after 0 7 1100 8 1050 0 8997000 8998000",
        "RC 0 0",
        "WALL 1",
      ].join("\n"),
    );
    assert.equal(out.before[0]?.txBytes, 1000n);
    assert.equal((out.after[0]!.rxBytes! - out.before[0]!.rxBytes!) / 1000n, 8996n);
    const old = parseTrialOutput(
      ["C before 0 7 100 8 50 0", "C after 0 7 1100 8 1050 0", "RC 0 0", "WALL 1"].join("\n"),
    );
    assert.equal(old.after[0]?.rxBytes, undefined);
  });
});

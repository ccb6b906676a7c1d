import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { dpdkNamedCounters, OvsParseError, parseInterfaceList, vhostRingSizes } from "./parse";

// `ovs-vsctl --format=json --data=json --columns=name,ofport,statistics,status list Interface`
// in the shape OVS 3.1 prints it (maps as ["map", [[k, v], ...]], an unset optional as ["set", []])
const LISTING = JSON.stringify({
  data: [
    [
      "vhu0",
      2,
      [
        "map",
        [
          ["rx_packets", 120],
          ["rx_dropped", 3],
          ["tx_packets", 118],
          ["tx_dropped", 2],
        ],
      ],
      [
        "map",
        [
          ["mode", "client"],
          ["num_of_vrings", "2"],
          ["vring_0_size", "1024"],
          ["vring_1_size", "1024"],
        ],
      ],
    ],
    ["vplbr0", 65534, ["map", [["rx_packets", 0]]], ["map", []]],
    ["nic0", ["set", []], ["map", []], ["map", [["driver_name", "net_af_packet"]]]],
  ],
  headings: ["name", "ofport", "statistics", "status"],
});

test("parseInterfaceList reads names, ofports, statistics and status maps", () => {
  const rows = parseInterfaceList(LISTING);
  assert.deepEqual(
    rows.map((r) => [r.name, r.ofport]),
    [
      ["vhu0", 2],
      ["vplbr0", 65534],
      ["nic0", null],
    ],
  );
  assert.deepEqual(
    { ...rows[0]!.statistics },
    { rx_packets: 120, rx_dropped: 3, tx_packets: 118, tx_dropped: 2 },
  );
  assert.equal(rows[0]!.status["vring_0_size"], "1024");
  assert.equal(rows[2]!.status["driver_name"], "net_af_packet");
});

test("parseInterfaceList refuses what is not the JSON listing", () => {
  assert.throws(() => parseInterfaceList("name : vhu0"), OvsParseError);
  assert.throws(() => parseInterfaceList(JSON.stringify({ data: [] })), /no headings\/data/);
  assert.throws(
    () => parseInterfaceList(JSON.stringify({ headings: ["name", "statistics"], data: [["a", 1]] })),
    /a.statistics: not an OVSDB map/,
  );
  assert.throws(() => parseInterfaceList(JSON.stringify({ headings: ["name"], data: [["a", 1]] })), /row 0/);
});

test("dpdkNamedCounters maps OVS statistics to the runner's DPDK names", () => {
  const rows = parseInterfaceList(LISTING);
  assert.deepEqual(dpdkNamedCounters(rows[0]!.statistics), {
    ipackets: 120,
    opackets: 118,
    imissed: 3,
    ierrors: 0,
    oerrors: 2,
  });
});

test("vhostRingSizes: the negotiated vrings of a connected port, null before the guest set them up", () => {
  const rows = parseInterfaceList(LISTING);
  assert.deepEqual(vhostRingSizes(rows[0]!.status), { rxSize: 1024, txSize: 1024 });
  assert.equal(vhostRingSizes(rows[2]!.status), null);
  assert.deepEqual(vhostRingSizes({ vring_0_size: "256" }), { rxSize: 256 });
  assert.equal(vhostRingSizes({ vring_0_size: "1024x" }), null);
});

test("property: statistics round-trip through the OVSDB map encoding", () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.stringMatching(/^[a-z_]{1,20}$/), fc.nat()),
      fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
      (stats, name) => {
        const text = JSON.stringify({
          headings: ["name", "statistics"],
          data: [[name, ["map", Object.entries(stats)]]],
        });
        const [row] = parseInterfaceList(text);
        assert.equal(row!.name, name);
        assert.deepEqual({ ...row!.statistics }, { ...stats });
      },
    ),
  );
});

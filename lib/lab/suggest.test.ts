import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { editDistance, nearest } from "./suggest";

describe("editDistance", () => {
  it("counts edits, a swap of neighbours as one", () => {
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("vswitch", "vswitch"), 0);
    assert.equal(editDistance("vswich", "vswitch"), 1);
    assert.equal(editDistance("matirx", "matrix"), 1);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });
});

describe("nearest", () => {
  const top = ["lab", "hosts", "tuning", "qemu", "image", "vswitch", "vms", "tg", "matrix"];
  it("names the key that was meant", () => {
    assert.equal(nearest("vswich", top), "vswitch");
    assert.equal(nearest("matirx", top), "matrix");
    assert.equal(nearest("host", top), "hosts");
    assert.equal(nearest("Qemu", top), "qemu");
    assert.equal(nearest("hugepage", ["size", "hugepages", "nics"]), "hugepages");
    assert.equal(nearest("vswitch_main", ["vswitch", "vswitchMain"]), "vswitchMain");
    assert.equal(nearest("ovs", ["testpmd", "vpp", "ovs-dpdk"]), "ovs-dpdk");
    assert.equal(nearest("cfsrr", ["cfs", "cfsrr1"]), "cfsrr1");
  });
  it("says nothing when nothing is close", () => {
    assert.equal(nearest("bananas", top), undefined);
    assert.equal(nearest("x", ["count", "shared"]), undefined);
    assert.equal(nearest("foo", []), undefined);
  });
});

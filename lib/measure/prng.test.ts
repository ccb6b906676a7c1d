import { test } from "node:test";
import assert from "node:assert/strict";
import { normalUpperTail, SeededRandom } from "./prng";

test("the same seed gives the same sequence, another seed another one", () => {
  const take = (seed: number): number[] => {
    const random = new SeededRandom(seed);
    return Array.from({ length: 8 }, () => random.nextUint32());
  };
  assert.deepEqual(take(42), take(42));
  assert.notDeepEqual(take(42), take(43));
});

test("floats are uniform in [0, 1)", () => {
  const random = new SeededRandom(7);
  const buckets = new Array<number>(10).fill(0);
  for (let index = 0; index < 20000; index++) {
    const value = random.nextFloat();
    assert.ok(value >= 0 && value < 1);
    buckets[Math.floor(value * 10)] = (buckets[Math.floor(value * 10)] ?? 0) + 1;
  }
  for (const count of buckets) assert.ok(count > 1800 && count < 2200, `bucket count ${count}`);
});

test("normal deviates have mean 0 and standard deviation 1", () => {
  const random = new SeededRandom(11);
  const values = Array.from({ length: 20000 }, () => random.nextNormal());
  const average = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - average) ** 2, 0) / values.length;
  assert.ok(Math.abs(average) < 0.03, `mean ${average}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});

test("forked generators are independent of later draws from the parent", () => {
  const parent = new SeededRandom(5);
  const child = parent.fork();
  const first = child.nextUint32();
  const again = new SeededRandom(5).fork().nextUint32();
  assert.equal(first, again);
});

test("normal upper tail matches known values", () => {
  assert.ok(Math.abs(normalUpperTail(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalUpperTail(1.959964) - 0.025) < 1e-6);
  assert.ok(Math.abs(normalUpperTail(-1) - 0.8413447) < 1e-6);
  assert.ok(normalUpperTail(8) < 1e-12);
});

test("a non-finite seed is refused", () => {
  assert.throws(() => new SeededRandom(NaN), RangeError);
});

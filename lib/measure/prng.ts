/**
 * A small seeded pseudo-random number generator, so simulations are reproducible without a
 * dependency. It walks a Weyl sequence (a counter advanced by an odd constant) and scrambles
 * each step with a 32-bit avalanche mix. Good enough for noise in simulations; not for
 * anything security related.
 */
export class SeededRandom {
  private counter: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    this.counter = Math.trunc(seed) >>> 0;
  }

  /** Next raw value, uniform over the 32-bit unsigned integers. */
  nextUint32(): number {
    this.counter = (this.counter + 0x9e3779b9) >>> 0;
    let mixed = this.counter;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    return (mixed ^ (mixed >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal deviate (mean 0, standard deviation 1), Box-Muller with one value cached. */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const cached = this.spareNormal;
      this.spareNormal = null;
      return cached;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - this.nextFloat()));
    const angle = 2 * Math.PI * this.nextFloat();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** An independent generator derived from this one (for giving sub-systems their own stream). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}

/** Upper tail of the standard normal distribution, P(Z > x), accurate to about 1e-7. */
export function normalUpperTail(x: number): number {
  // Complementary error function by the rational approximation of Abramowitz & Stegun 7.1.26.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfcAbs = poly * Math.exp(-z * z);
  return x >= 0 ? erfcAbs / 2 : 1 - erfcAbs / 2;
}

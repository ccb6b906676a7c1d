/**
 * A value that must never be printed: SSH private keys, guest passwords.
 *
 * In a stack file a secret is `{secure: "v1:..."}` (Pulumi's ciphertext); inside the Pulumi
 * program the engine hands it over decrypted as a plain string. Both forms become a `Secret`.
 * `String()`, `JSON.stringify()` and `util.inspect()` (console.log) all print a placeholder;
 * only `reveal()` gives the plaintext, and only for a decrypted secret.
 */
export class Secret {
  private constructor(
    private readonly sealed: string,
    /** true when this is still Pulumi ciphertext (read from a stack file, not via the engine) */
    readonly encrypted: boolean,
  ) {}

  static plain(value: string): Secret {
    return new Secret(value, false);
  }

  static encrypted(ciphertext: string): Secret {
    return new Secret(ciphertext, true);
  }

  /** The plaintext. Throws for a secret that is still encrypted: only the Pulumi engine decrypts. */
  reveal(): string {
    if (this.encrypted) {
      throw new Error(
        "this secret is still Pulumi ciphertext ({secure: ...}); it is decrypted only when the " +
          "Pulumi engine runs the program (pulumi up/preview)",
      );
    }
    return this.sealed;
  }

  /** The ciphertext of an encrypted secret (for writing it back to a stack file). */
  ciphertext(): string {
    if (!this.encrypted) throw new Error("this secret is not encrypted");
    return this.sealed;
  }

  toString(): string {
    return this.encrypted ? "[secret, encrypted]" : "[secret]";
  }

  toJSON(): string {
    return this.toString();
  }
}

// console.log / util.inspect use this symbol; defined on the prototype so no node:util import is needed.
Object.defineProperty(Secret.prototype, Symbol.for("nodejs.util.inspect.custom"), {
  value(this: Secret) {
    return this.toString();
  },
  enumerable: false,
});

/** `{secure: "<ciphertext>"}` as Pulumi writes it into a stack file. */
export function isSecureObject(v: unknown): v is { secure: string } {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as { secure?: unknown }).secure === "string"
  );
}

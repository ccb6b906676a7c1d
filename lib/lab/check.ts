/** What lab-check does for one file: read it, validate it the stack-file way, collect every error. */
import type { LabError } from "./errors";
import { parseLab } from "./parse";
import { loadStackFile } from "./stackfile";
import type { Lab } from "./types";

export interface StackCheck {
  lab: Lab | undefined;
  errors: LabError[];
  locate: (path: string) => number | undefined;
}

export function checkStackFile(path: string): StackCheck {
  const stack = loadStackFile(path);
  if (!stack.readable) return { lab: undefined, errors: stack.errors, locate: stack.locate };
  // in a stack file a secret must be ciphertext: a plain string there is a leaked key or password
  const r = parseLab(stack.config, path, { requireEncryptedSecrets: true });
  const errors = [...stack.errors, ...(r.ok ? [] : r.errors)];
  return { lab: r.ok && errors.length === 0 ? r.lab : undefined, errors, locate: stack.locate };
}

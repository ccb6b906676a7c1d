/**
 * The JSON Schema of the stack file (schema/stack.schema.json): committed = generated, the
 * shipped stack files and the valid configs pass it (a real validator: ajv), the invalid corpus
 * files it can catch are refused, and its key sets agree with parseLab's unknown-key errors.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Ajv from "ajv";
import fc from "fast-check";
import { parse } from "yaml";
import { NAMESPACE } from "./errors";
import { parseLab } from "./parse";
import { TOP_KEYS } from "./shape";
import { csitConfig, localConfig, repoRoot } from "./testutil";
import { schemaText, stackSchema, type Schema } from "./schema/generate";

const root = repoRoot();
const validate = new Ajv({ allErrors: true, strict: true }).compile(stackSchema());
const check = (doc: unknown): string[] =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
const stackDoc = (config: Record<string, unknown>) => ({
  config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`${NAMESPACE}:${k}`, v])),
});

describe("stack file JSON Schema", () => {
  it("the committed schema/stack.schema.json is the generated one", () => {
    const committed = readFileSync(join(root, "schema", "stack.schema.json"), "utf8");
    assert.ok(
      committed === schemaText(),
      "schema/stack.schema.json is stale: run `npm run schema` and commit it",
    );
  });

  for (const f of ["Pulumi.local.yaml", "Pulumi.local-ovs.yaml", "Pulumi.perf.yaml"]) {
    it(`${f} names the schema on its first line and passes it`, () => {
      const text = readFileSync(join(root, f), "utf8");
      assert.equal(text.split("\n")[0], "# yaml-language-server: $schema=./schema/stack.schema.json");
      assert.deepEqual(check(parse(text)), []);
    });
  }

  it("the valid test configs (csit, local) pass it, with Pulumi's own keys and other namespaces", () => {
    for (const c of [csitConfig(), localConfig()]) {
      const doc = stackDoc(c);
      Object.assign(doc.config, { "pulumi:tags": { a: "b" }, "command:x": 1 });
      assert.deepEqual(check({ ...doc, encryptionsalt: "v1:abc", secretsprovider: "passphrase" }), []);
    }
  });

  const invalid = join(root, "lib", "lab", "testdata", "invalid");
  // unknown keys / typos, wrong enums, wrong types: what a schema can see
  for (const f of [
    "001-unknown-top-key.yaml",
    "002-unknown-host-key.yaml",
    "003-unknown-cpu-key.yaml",
    "004-unknown-matrix-key.yaml",
    "005-unknown-ndrpdr-key.yaml",
    "006-profile-typo.yaml",
    "009-hosts-not-a-list.yaml",
    "014-role-typo.yaml",
    "039-hugepage-size-typo.yaml",
    "064-vswitch-kind-typo.yaml",
    "083-tuning-unknown.yaml",
    "097-cfs-policy-typo.yaml",
  ]) {
    it(`refuses invalid/${f}`, () => {
      assert.notDeepEqual(check(parse(readFileSync(join(invalid, f), "utf8"))), [], "the schema accepted it");
    });
  }

  it("a key is allowed by the schema exactly when parseLab does not call it unknown (property)", () => {
    const config = (stackSchema().properties as Record<string, Schema>).config as Schema;
    const sections = config.properties as Record<string, Schema>;
    // section -> its key set as the schema has it (maps; hosts: the host item)
    const keysOf = (s: Schema): string[] =>
      Object.keys(((s.type === "array" ? (s.items as Schema) : s).properties ?? {}) as object);
    const names = [...TOP_KEYS];
    const allKeys = [...new Set(names.flatMap((k) => keysOf(sections[`${NAMESPACE}:${k}`] as Schema)))];
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.oneof(fc.constantFrom(...allKeys), fc.stringMatching(/^[a-zA-Z]{1,12}$/)),
        (section, key) => {
          const base = csitConfig();
          const cur = base[section];
          const target = (Array.isArray(cur) ? cur[0] : cur) as Record<string, unknown> | undefined;
          const inSchema = keysOf(sections[`${NAMESPACE}:${section}`] as Schema).includes(key);
          if (target === undefined || key in target) return; // only new keys on present sections
          target[key] = null;
          const r = parseLab(base, "Pulumi.t.yaml");
          const path = `${NAMESPACE}:${section}${Array.isArray(cur) ? "[0]" : ""}.${key}`;
          const unknown = !r.ok && r.errors.some((e) => e.path === path && e.found.startsWith("unknown key"));
          assert.equal(!unknown, inSchema, `${path}: schema ${inSchema ? "allows" : "refuses"} it`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** `npm run schema`: write schema/stack.schema.json from the lab model. */
import * as fs from "node:fs";
import * as path from "node:path";
import { schemaText } from "./generate";

export const SCHEMA_FILE = "schema/stack.schema.json";

const root = path.resolve(__dirname, "..", "..", "..", "..");
fs.mkdirSync(path.join(root, "schema"), { recursive: true });
fs.writeFileSync(path.join(root, SCHEMA_FILE), schemaText());
console.log(`wrote ${SCHEMA_FILE}`);

#!/usr/bin/env node
/**
 * lab-check: validate Pulumi stack files of this project without the Pulumi engine.
 *
 *   npm run lab:check -- Pulumi.perf.yaml [Pulumi.local.yaml ...]
 *
 * Exit 0: every file is valid (a summary of each lab on stdout). Exit 1: errors (all of them,
 * on stderr, with config paths and line numbers). Exit 2: usage.
 */
import { dirname, resolve } from "node:path";
import { checkStackFile, fileErrors, fileWarnings, formatErrors, formatSummary } from "../lib/lab";

const USAGE = `usage: lab-check <Pulumi.<stack>.yaml> [more stack files]

Validates the vhost-perf-lab:* config of each stack file (the same rules the Pulumi program
applies before registering any resource) and prints a summary of each valid lab.`;

export function main(argv: string[]): number {
  if (argv.includes("-h") || argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const files = argv.filter((a) => a !== "--");
  const unknown = files.filter((a) => a.startsWith("-"));
  if (files.length === 0 || unknown.length > 0) {
    console.error(unknown.length ? `lab-check: unknown option ${unknown.join(" ")}\n${USAGE}` : USAGE);
    return 2;
  }
  let failed = 0;
  files.forEach((file, i) => {
    if (i > 0) console.log("");
    const { lab, errors, locate } = checkStackFile(file);
    const baseDir = dirname(resolve(file));
    // files the lab names that exist and are wrong (a host key file that is no public key line)
    const fileErrs = lab ? fileErrors(lab, baseDir) : [];
    if (lab && fileErrs.length === 0) {
      console.log(formatSummary(lab));
      for (const w of fileWarnings(lab, baseDir)) console.log(`warning: ${w}`);
    } else if (lab) {
      failed++;
      console.error(formatErrors(fileErrs, { source: file, locate }));
    } else {
      failed++;
      console.error(formatErrors(errors, { source: file, locate }));
    }
  });
  return failed > 0 ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

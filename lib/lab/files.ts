/**
 * Checks against the filesystem of the machine running the check (not part of parseLab, which
 * stays pure). lab-check prints them as warnings: a file may legitimately appear later
 * (a key generated on first run, a patch set still being written).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { Lab } from "./types";

function resolvePath(p: string, baseDir: string): string {
  if (p === "~" || p.startsWith("~/")) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Warnings (config path: message) about files the lab refers to. */
export function fileWarnings(lab: Lab, baseDir: string): string[] {
  const out: string[] = [];
  const q = lab.qemu;
  if (q.patchDir !== undefined) {
    const dir = resolvePath(q.patchDir, baseDir);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      out.push(`vhost-perf-lab:qemu.patchDir: ${q.patchDir} is not a directory under ${baseDir} (yet)`);
    } else if (!readdirSync(dir).some((f) => f.endsWith(".patch"))) {
      out.push(`vhost-perf-lab:qemu.patchDir: ${q.patchDir} holds no *.patch files`);
    }
  }
  if (q.source.kind === "local" && !existsSync(resolvePath(q.source.path, baseDir))) {
    out.push(`vhost-perf-lab:qemu.source.path: ${q.source.path} does not exist here`);
  }
  const src = lab.image.source;
  if (src.kind === "local" && !existsSync(resolvePath(src.path, baseDir))) {
    out.push(`vhost-perf-lab:image.source.path: ${src.path} does not exist here`);
  }
  lab.hosts.forEach((h, i) => {
    const k = h.ssh.privateKey;
    if (k.kind === "file" && !h.ssh.managed && !existsSync(resolvePath(k.path, baseDir))) {
      out.push(`vhost-perf-lab:hosts[${i}].ssh.privateKey.file: ${k.path} does not exist on this machine`);
    }
  });
  return out;
}

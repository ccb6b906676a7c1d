/**
 * Checks against the filesystem of the machine running the check (not part of parseLab, which
 * stays pure). lab-check prints fileWarnings as warnings: a file may legitimately appear later
 * (a key generated on first run, a patch set still being written). fileErrors are errors: a file
 * that is there and wrong (a host key file that is not a public key line).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { LabError } from "./errors";
import { NAMESPACE } from "./errors";
import { parseHostKey } from "./hostKey";
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
    const hk = h.ssh.hostKey;
    if (hk.kind === "file" && !h.ssh.managed && !existsSync(resolvePath(hk.path, baseDir))) {
      out.push(`vhost-perf-lab:hosts[${i}].ssh.hostKey.file: ${hk.path} does not exist on this machine`);
    }
  });
  return out;
}

/**
 * Errors about files the lab refers to that exist and are wrong: a hostKey.file must hold the
 * same public key line parseHostKey accepts in the config (the managed sshd's own file is written
 * by the program and not checked here).
 */
export function fileErrors(lab: Lab, baseDir: string): LabError[] {
  const out: LabError[] = [];
  lab.hosts.forEach((h, i) => {
    const hk = h.ssh.hostKey;
    if (hk.kind !== "file" || h.ssh.managed) return;
    const file = resolvePath(hk.path, baseDir);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return; // missing or unreadable: a warning (fileWarnings)
    }
    const r = parseHostKey(text, { host: h.ssh.host, port: h.ssh.port });
    if (!r.ok) {
      out.push({
        path: `${NAMESPACE}:hosts[${i}].ssh.hostKey.file`,
        expected: `a file holding the host's public key line "<type> <base64> [comment]" (a .pub file)`,
        found: `${hk.path}: ${r.error}`,
        hint: r.fix,
      });
    }
  });
  return out;
}

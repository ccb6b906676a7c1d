import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseHostKey, type Host } from "../../lib/lab";
import type { Connection } from "../shared/hostScript";

/**
 * The SSH connection of a lab host from its config: private key as a Pulumi secret, host key
 * pinned. (Managed hosts get theirs from LocalSshd instead.)
 */
export function configuredConnection(host: Host): pulumi.Output<Connection> {
  const ssh = host.ssh;
  const read = (what: string, file: string): string => {
    const resolved = file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file;
    try {
      return fs.readFileSync(resolved, "utf8");
    } catch (e) {
      throw new pulumi.RunError(
        `vhost-perf-lab:hosts (${host.name}).ssh.${what}: cannot read ${resolved} (${(e as NodeJS.ErrnoException).code ?? String(e)}); ` +
          "fix: create it, point the config at the right file, or set the key as a secret: " +
          "pulumi config set --secret --path 'hosts[i].ssh.privateKey' < key",
      );
    }
  };
  const key =
    ssh.privateKey.kind === "secret"
      ? ssh.privateKey.secret.reveal()
      : read("privateKey.file", ssh.privateKey.path);
  let hostKey: string;
  switch (ssh.hostKey.kind) {
    case "key":
      hostKey = ssh.hostKey.key;
      break;
    case "file": {
      // the same rule as lab:check, the command provider and the benchmark runner
      const r = parseHostKey(read("hostKey.file", ssh.hostKey.path), { host: ssh.host, port: ssh.port });
      if (!r.ok) {
        throw new pulumi.RunError(
          `vhost-perf-lab:hosts (${host.name}).ssh.hostKey.file ${ssh.hostKey.path}: ${r.error}; fix: ${r.fix}`,
        );
      }
      hostKey = r.line;
      break;
    }
  }
  return pulumi.secret({
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    privateKey: key,
    hostKey,
    dialErrorLimit: 10,
    perDialTimeout: 15,
  });
}

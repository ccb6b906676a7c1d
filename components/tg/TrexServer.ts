import * as pulumi from "@pulumi/pulumi";
import type { Host, Lab, TrexOptions } from "../../lib/lab";
import { TREX_ASYNC_PORT, TREX_RPC_PORT, trexCfg, trexPorts, type TrexPort } from "../../lib/tg/trex/trexCfg";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";

/** TRex's release tarball (trex-tgn.cisco.com/trex/release/vX.YY.tar.gz), pinned by sha256. */
export interface TrexTarball {
  url: string;
  sha256: string;
}

export interface TrexServerArgs {
  connection: pulumi.Input<Connection>;
  /** the TG host (roles include tg): its NICs, cpus.tg and NUMA node shape trex_cfg.yaml */
  host: Host;
  options: TrexOptions;
  /** the stack: TRex's --prefix (DPDK file prefix) is vpl-<stack> */
  stack: string;
  /** install from this tarball when options.installDir holds no TRex; omitted = the dir is checked */
  tarball?: TrexTarball;
  /** each port's own MAC by iface; needed for veth ports (nic-bind reports PCI ports' MACs) */
  macs?: Record<string, string>;
  /** dest MAC per TRex port; default L2 cross-connect (the other TG port) */
  destMacs?: string[];
  /** TRex's RPC port (default 4501; async = rpc - 1) */
  rpcPort?: number;
  /** tokens of the steps this one builds on (the lab directories, the TG's hugepages) */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

interface NicBindReport {
  devices: { pci: string; mac: string; driver: string; original: string }[];
}
interface StartReport {
  pid: number;
  startTime: string;
}

const LIB = "scripts/lib/trex-install.sh";

/**
 * The TRex server of a 2-node lab, on the TG host (issue 10): the TG's PCI NICs moved to their
 * configured driver (scripts/nic-bind.sh, originals restored on destroy), TRex installed from its
 * release tarball or an existing install dir checked (scripts/trex-server.sh install), then
 * /etc/trex_cfg.yaml written from the lab model (lib/tg/trex/trexCfg.ts, the host's original put
 * back on destroy) and `t-rex-64 -i` started detached, ready when its RPC port answers. Each step
 * is probed on refresh (binding and server: gone after a reboot; install: persistent).
 */
export class TrexServer extends pulumi.ComponentResource {
  readonly rpcHost: pulumi.Output<string>;
  readonly rpcPort: number;
  readonly asyncPort: number;
  readonly pid: pulumi.Output<number>;
  /** TRex port i: which lab NIC, its iface, MACs */
  readonly ports: pulumi.Output<TrexPort[]>;
  readonly cfg: pulumi.Output<string>;
  /** the server step (what traffic steps depend on) and its token */
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: TrexServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:tg:TrexServer", name, {}, opts);
    const { host, options } = args;
    this.rpcPort = args.rpcPort ?? TREX_RPC_PORT;
    this.asyncPort = args.rpcPort === undefined ? TREX_ASYNC_PORT : args.rpcPort - 1;
    // refuse a misfit (ports, CPUs for the workers) at preview, before any host is touched
    const layout = trexPorts(host);
    const software = !layout[0]!.pci;
    const placeholder = Object.fromEntries(
      layout.map((p, i) => [p.iface, `02:00:00:00:00:${String(i).padStart(2, "0")}`]),
    );
    trexCfg({ host, options, macs: placeholder, destMacs: args.destMacs });

    const after = args.after ?? [];
    const deps: pulumi.Input<pulumi.Resource>[] = [...(args.dependsOn ?? [])];
    let macs: pulumi.Output<Record<string, string>>;
    const tokens: pulumi.Input<string>[] = [];
    if (software) {
      if (!args.macs) {
        throw new pulumi.RunError(
          `vhost-perf-lab:hosts[${host.name}].nics: TRex on veth ports (software mode) needs the ports' MACs (TrexServerArgs.macs)`,
        );
      }
      macs = pulumi.output(args.macs);
    } else {
      const nics = hostScript(
        `${name}-nics`,
        {
          connection: args.connection,
          up: { script: "nic-bind.sh", args: ["up"] },
          down: { script: "nic-bind.sh", args: ["down"] },
          environment: {
            NIC_BIND: host.nics.map((n) => (n.kind === "pci" ? `${n.pci}=${n.driver}` : "")).join(","),
          },
          after,
          probe: { kind: "boot", status: { script: "nic-bind.sh", args: ["status"] } },
        },
        { parent: this, dependsOn: args.dependsOn },
      );
      macs = lastJson<NicBindReport>(nics.stdout).apply((r) =>
        Object.fromEntries(r.devices.map((d) => [d.pci, d.mac])),
      );
      tokens.push(stepToken(nics));
      deps.push(nics);
    }

    const installEnv: Record<string, string> = {
      TREX_INSTALL_DIR: options.installDir,
      TREX_VERSION: options.version,
      ...(args.tarball
        ? { TREX_TARBALL_URL: args.tarball.url, TREX_TARBALL_SHA256: args.tarball.sha256 }
        : {}),
    };
    const install = hostScript(
      `${name}-install`,
      {
        connection: args.connection,
        up: { script: "trex-server.sh", args: ["install"] },
        down: { script: "trex-server.sh", args: ["uninstall"] },
        environment: installEnv,
        files: [LIB],
        after,
        probe: { kind: "persistent", status: { script: "trex-server.sh", args: ["install-status"] } },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    tokens.push(stepToken(install));
    deps.push(install);

    const built = macs.apply((m) =>
      trexCfg({
        host,
        options,
        macs: m,
        destMacs: args.destMacs,
        rpcPort: this.rpcPort,
        asyncPort: this.asyncPort,
      }),
    );
    this.cfg = built.apply((c) => c.text);
    this.ports = built.apply((c) => c.ports);
    const server = hostScript(
      `${name}-server`,
      {
        connection: args.connection,
        up: { script: "trex-server.sh", args: ["start"] },
        down: { script: "trex-server.sh", args: ["stop"] },
        environment: {
          TREX_INSTALL_DIR: options.installDir,
          TREX_VERSION: options.version,
          TREX_CFG_B64: this.cfg.apply((t) => Buffer.from(t, "utf8").toString("base64")),
          TREX_PREFIX: `vpl-${args.stack}`,
          TREX_MBUF_FACTOR: String(options.mbufFactor),
          TREX_SOFTWARE: software ? "1" : "0",
          TREX_RPC_PORT: String(this.rpcPort),
          TREX_ASYNC_PORT: String(this.asyncPort),
        },
        files: [LIB],
        after: [...after, ...tokens],
        probe: { kind: "boot", status: { script: "trex-server.sh", args: ["status"] } },
      },
      { parent: this, dependsOn: deps },
    );
    this.pid = lastJson<StartReport>(server.stdout).apply((r) => r.pid);
    this.rpcHost = pulumi.output(args.connection).apply((c) => String(c.host));
    this.ready = server;
    this.token = stepToken(server);
    this.registerOutputs({ rpcHost: this.rpcHost, rpcPort: this.rpcPort, pid: this.pid, ports: this.ports });
  }
}

/**
 * The TRex server of a lab whose tg.kind is trex, on its TG host (`connection`: that host's own
 * SSH connection). Throws when the lab's TG is not TRex or its host is missing.
 */
export function trexServerFor(
  lab: Lab,
  connection: pulumi.Input<Connection>,
  extra: Omit<TrexServerArgs, "connection" | "host" | "options" | "stack"> = {},
  opts?: pulumi.ComponentResourceOptions,
): TrexServer {
  const tg = lab.tg;
  if (tg.kind !== "trex") throw new pulumi.RunError(`vhost-perf-lab:tg.kind is ${tg.kind}, not trex`);
  const host = lab.hosts.find((h) => h.name === tg.host);
  if (!host) throw new pulumi.RunError(`vhost-perf-lab:tg.host: no host named ${tg.host}`);
  return new TrexServer(
    `${host.name}-trex`,
    { connection, host, options: tg.options, stack: lab.stack, ...extra },
    opts,
  );
}

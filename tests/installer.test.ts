// `VPL_PULUMI_FROM=installer scripts/setup.sh`, offline: the installer URL and the plugin server
// point at a local HTTP server (tests/support/installerServer.ts) that serves a stand-in install
// script, a CLI release tarball built from the offline toolchain already in the cache
// (~/.cache/vhost-perf-lab/toolchain: bin/pulumi, bin/pulumi-language-nodejs and the command
// provider) and the provider tarball. Setup runs with `--only toolchain`, a temporary HOME,
// PULUMI_HOME, cache and VPL_BIN_DIR: nothing outside a temporary directory is touched.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "./support/repo";
import {
  closedPort,
  standInInstaller,
  startServer,
  tarball,
  type StandInServer,
} from "./support/installerServer";

function pinned(): Record<string, string> {
  const text = fs.readFileSync(path.join(repoRoot(), "tools", "versions.env"), "utf8");
  const pins: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)=(\S+)$/gm)) pins[m[1]!] = m[2]!;
  return pins;
}
const PULUMI = pinned()["PULUMI_VERSION"]!;
const COMMAND = pinned()["PULUMI_COMMAND_VERSION"]!;
const RELEASE = `/releases/sdk/pulumi-v${PULUMI}-linux-x64.tar.gz`;
const PLUGIN = `/plugins/pulumi-resource-command-v${COMMAND}-linux-amd64.tar.gz`;

// The offline toolchain scripts/setup.sh builds (VPL_PULUMI_FROM=go), reused as "the release".
const toolchain = path.join(
  process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"),
  "vhost-perf-lab",
  "toolchain",
);
function provider(): string | undefined {
  if (!fs.existsSync(toolchain)) return undefined;
  return fs
    .readdirSync(toolchain)
    .filter((d) => d.startsWith(`pulumi-resource-command-${COMMAND}-`))
    .map((d) => path.join(toolchain, d, "pulumi-resource-command"))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}
const cli = path.join(toolchain, "bin", "pulumi");
const languageHost = path.join(toolchain, "bin", "pulumi-language-nodejs");
const providerBinary = provider();

function skipReason(): string | false {
  if (process.platform !== "linux" || process.arch !== "x64")
    return "the installer path serves linux-x64 only";
  for (const f of [cli, languageHost]) {
    if (!fs.existsSync(f)) return `${f} is missing: run scripts/setup.sh (VPL_PULUMI_FROM=go) once first`;
  }
  if (!providerBinary) {
    return `no ${toolchain}/pulumi-resource-command-${COMMAND}-*/pulumi-resource-command: run scripts/setup.sh once first`;
  }
  for (const tool of ["curl", "tar", "gzip"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} not found`;
    }
  }
  return false;
}
const skip = skipReason();

let tmp = "";
let server: StandInServer;
let releaseTarball = "";
let pluginTarball = "";

/** One scenario's directories: a fresh HOME, PULUMI_HOME, cache and VPL_BIN_DIR. */
interface Sandbox {
  dir: string;
  home: string;
  pulumiHome: string;
  bin: string;
  installerArgs: string;
  env: NodeJS.ProcessEnv;
}

function sandbox(name: string, overrides: Record<string, string> = {}): Sandbox {
  const dir = path.join(tmp, name);
  const s = {
    dir,
    home: path.join(dir, "home"),
    pulumiHome: path.join(dir, "pulumi-home"),
    bin: path.join(dir, "bin"),
    installerArgs: path.join(dir, "installer-args"),
  };
  fs.mkdirSync(s.home, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(PULUMI_|VPL_)/.test(k) && !/proxy/i.test(k)) env[k] = v;
  }
  Object.assign(env, {
    HOME: s.home,
    PULUMI_HOME: s.pulumiHome, // deliberately not $HOME/.pulumi, where the real installer defaults to
    XDG_CACHE_HOME: path.join(dir, "cache"),
    VPL_HOME: path.join(dir, "vpl"),
    VPL_BIN_DIR: s.bin,
    VPL_PULUMI_FROM: "installer",
    VPL_PULUMI_INSTALLER_URL: `${server.url}/`,
    VPL_PULUMI_PLUGIN_SERVER: `${server.url}/plugins`,
    ...overrides,
  });
  return { ...s, env };
}

/** Serves the stand-in installer (recording its arguments for `s`), the release and the plugin. */
function serve(s: Sandbox, release: string = releaseTarball): void {
  server.routes.clear();
  server.routes.set("/", { body: standInInstaller(server.url, s.installerArgs) });
  server.routes.set(RELEASE, { file: release });
  server.routes.set(PLUGIN, { file: pluginTarball });
  server.requests.length = 0;
}

interface Run {
  code: number | null;
  stderr: string;
  ms: number;
}

/** `scripts/setup.sh --only toolchain` in the sandbox; async, so the server keeps answering. */
function setup(s: Sandbox): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(repoRoot(), "scripts", "setup.sh"), "--only", "toolchain"], {
      env: s.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr: out, ms: Date.now() - t0 }));
  });
}

const run = (s: Sandbox, cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}, cwd?: string): string =>
  execFileSync(cmd, args, {
    env: { ...s.env, PULUMI_SKIP_UPDATE_CHECK: "true", ...extra },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd ? { cwd } : {}),
  });

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vpl-installer-"));
  server = await startServer();
  // the release layout: pulumi/<binaries>, which the installer unpacks into <root>/bin
  releaseTarball = tarball(path.join(tmp, "release.tar.gz"), "pulumi", {
    pulumi: cli,
    "pulumi-language-nodejs": languageHost,
  });
  pluginTarball = tarball(path.join(tmp, "plugin.tar.gz"), "", {
    "pulumi-resource-command": providerBinary!,
  });
});

after(async () => {
  if (skip) return;
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

let main: Sandbox;

test(
  "installer: setup installs the pinned CLI and command provider into PULUMI_HOME",
  { skip, timeout: 180_000 },
  async (t) => {
    main = sandbox("main");
    serve(main);
    const r = await setup(main);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests, ["/", RELEASE, PLUGIN], "installer, release, then the plugin");
    assert.deepEqual(fs.readFileSync(main.installerArgs, "utf8").trim().split("\n"), [
      "--version",
      PULUMI,
      "--install-root",
      main.pulumiHome,
      "--no-edit-path",
    ]);
    assert.equal(fs.existsSync(path.join(main.home, ".profile")), false, "--no-edit-path: no profile edited");
    assert.equal(
      fs.existsSync(path.join(main.home, ".pulumi")),
      false,
      "nothing in ~/.pulumi: PULUMI_HOME is used",
    );

    // the installer layout: CLI and language host side by side in $PULUMI_HOME/bin
    const bin = path.join(main.pulumiHome, "bin");
    assert.deepEqual(fs.readdirSync(bin).sort(), ["pulumi", "pulumi-language-nodejs"]);
    const wrapper = path.join(main.bin, "pulumi");
    assert.match(fs.readFileSync(wrapper, "utf8"), new RegExp(`^toolchain=${bin}$`, "m"));
    assert.equal(run(main, wrapper, ["version"]).trim(), `v${PULUMI}`);

    const plugins = JSON.parse(run(main, wrapper, ["plugin", "ls", "--json"])) as {
      name: string;
      kind: string;
      version: string;
    }[];
    assert.deepEqual(
      plugins.map((p) => `${p.kind}/${p.name}@${p.version}`),
      [`resource/command@${COMMAND}`],
    );
    assert.ok(
      fs.existsSync(
        path.join(main.pulumiHome, "plugins", `resource-command-v${COMMAND}`, "pulumi-resource-command"),
      ),
    );
    // a new shell without PULUMI_HOME: the wrapper still finds the provider where setup put it
    const withoutHome: NodeJS.ProcessEnv = { ...main.env, PULUMI_SKIP_UPDATE_CHECK: "true" };
    delete withoutHome["PULUMI_HOME"];
    const plainShell = execFileSync(wrapper, ["plugin", "ls", "--json"], {
      env: withoutHome,
      encoding: "utf8",
    });
    // (the CLI takes the home directory from the passwd entry, not $HOME, so without the
    // wrapper's PULUMI_HOME it would read the real ~/.pulumi: tell them apart by install time)
    const installed = (json: string): string[] =>
      (JSON.parse(json) as { name: string; installTime: string }[]).map((p) => `${p.name} ${p.installTime}`);
    assert.deepEqual(
      installed(plainShell),
      installed(run(main, wrapper, ["plugin", "ls", "--json"])),
      "without PULUMI_HOME the wrapper must use the one setup ran with",
    );
    t.diagnostic(`first setup run ${(r.ms / 1000).toFixed(1)} s`);
  },
);

test(
  "installer: a second setup run downloads nothing and changes nothing",
  { skip, timeout: 60_000 },
  async (t) => {
    assert.ok(main, "needs the previous test's install");
    const cliBefore = fs.statSync(path.join(main.pulumiHome, "bin", "pulumi"));
    server.requests.length = 0;
    const r = await setup(main);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests, [], "no HTTP request: neither the installer nor the plugin");
    assert.match(r.stderr, new RegExp(`pulumi ${PULUMI}: installed \\(`));
    assert.match(r.stderr, new RegExp(`command provider ${COMMAND}: installed\\n`));
    const cliAfter = fs.statSync(path.join(main.pulumiHome, "bin", "pulumi"));
    assert.equal(cliAfter.mtimeMs, cliBefore.mtimeMs, "the CLI was not reinstalled");
    t.diagnostic(`second setup run ${(r.ms / 1000).toFixed(1)} s`);
  },
);

test(
  "installer: the wrapper runs a program with the installer layout (language host, provider)",
  { skip, timeout: 180_000 },
  async () => {
    assert.ok(main, "needs the first test's install");
    // the engine test's fixture, copied (stack init writes Pulumi.<stack>.yaml) with the repo's node_modules
    const project = path.join(main.dir, "project");
    fs.cpSync(path.join(repoRoot(), "tests", "fixtures", "command-stack"), project, { recursive: true });
    fs.symlinkSync(path.join(repoRoot(), "node_modules"), path.join(project, "node_modules"));
    const env = {
      PULUMI_BACKEND_URL: `file://${path.join(main.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "installer-test",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    fs.mkdirSync(path.join(main.dir, "state"));
    const wrapper = path.join(main.bin, "pulumi");
    run(main, wrapper, ["stack", "init", "probe", "--non-interactive"], env, project);
    const preview = run(
      main,
      wrapper,
      ["preview", "--stack", "probe", "--non-interactive", "--json", "-c", `markerDir=${main.dir}`],
      env,
      project,
    );
    const steps = (JSON.parse(preview) as { steps: { op: string; urn: string }[] }).steps;
    assert.ok(
      steps.some((s) => s.op === "create" && s.urn.endsWith("command:local:Command::probe")),
      `preview steps: ${steps.map((s) => `${s.op} ${s.urn}`).join(", ")}`,
    );
    assert.equal(fs.existsSync(path.join(main.dir, "created")), false, "a preview runs no command");
  },
);

test(
  "installer: a release of the wrong version fails setup, naming both versions",
  { skip, timeout: 60_000 },
  async () => {
    const s = sandbox("wrong-version");
    const fake = path.join(tmp, "fake-pulumi");
    fs.writeFileSync(fake, "#!/bin/sh\necho v3.100.0\n", { mode: 0o755 });
    serve(s, tarball(path.join(tmp, "wrong.tar.gz"), "pulumi", { pulumi: fake }));
    const r = await setup(s);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /ERROR: the Pulumi installer from http:\/\/127\.0\.0\.1:\d+\/ left pulumi 'v3\.100\.0'/,
    );
    assert.match(r.stderr, new RegExp(`expected v${PULUMI}`));
    assert.match(r.stderr, /fix: .*VPL_PULUMI_FROM=go/);
    assert.deepEqual(server.requests, ["/", RELEASE], "stops before the plugin");
    assert.equal(fs.existsSync(path.join(s.bin, "pulumi")), false, "no wrapper to a wrong CLI");
  },
);

test(
  "installer: a release the server does not have fails setup with the installer's error",
  { skip, timeout: 60_000 },
  async () => {
    const s = sandbox("no-release");
    serve(s);
    server.routes.delete(RELEASE);
    const r = await setup(s);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error: failed to download .*pulumi-v${PULUMI}-linux-x64\\.tar\\.gz`));
    assert.match(r.stderr, new RegExp(`ERROR: the Pulumi installer from \\S+ failed installing ${PULUMI}`));
    assert.match(r.stderr, /fix: no internet\? use the offline build: VPL_PULUMI_FROM=go/);
  },
);

test(
  "installer: an unreachable installer URL fails setup, naming the URL",
  { skip, timeout: 60_000 },
  async () => {
    const url = `http://127.0.0.1:${await closedPort()}/`;
    const s = sandbox("unreachable", { VPL_PULUMI_INSTALLER_URL: url });
    const r = await setup(s);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`ERROR: could not download the Pulumi installer from ${url}: curl: \\(7\\)`),
    );
    assert.match(r.stderr, /fix: no internet\? use the offline build: VPL_PULUMI_FROM=go/);
  },
);

test(
  "installer: a plugin server without the provider fails setup, naming the command",
  { skip, timeout: 120_000 },
  async () => {
    const s = sandbox("no-plugin");
    serve(s);
    server.routes.delete(PLUGIN);
    const r = await setup(s);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `ERROR: pulumi plugin install resource command ${COMMAND} --server ${server.url}/plugins failed`,
      ),
    );
    assert.match(r.stderr, /404/);
    assert.match(r.stderr, /VPL_PULUMI_PLUGIN_SERVER/);
  },
);

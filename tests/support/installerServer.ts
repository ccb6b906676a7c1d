// A local stand-in for Pulumi's download endpoints, so `VPL_PULUMI_FROM=installer` can be tested
// without internet: an HTTP server on 127.0.0.1 (random port) that serves
//   /                                                     an install script (standInInstaller below)
//   /releases/sdk/pulumi-v<version>-linux-x64.tar.gz      a CLI release tarball
//   /plugins/pulumi-resource-command-v<v>-linux-amd64.tar.gz  a provider tarball (`--server <url>/plugins`)
// from a route table the test changes per scenario, and records every request.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

/** What a route answers: a file's path, or a body. */
export type Route = { file: string } | { body: string };

export interface StandInServer {
  url: string;
  /** Request paths answered (any status), in order; clear it with `requests.length = 0`. */
  requests: string[];
  routes: Map<string, Route>;
  close(): Promise<void>;
}

export async function startServer(): Promise<StandInServer> {
  const requests: string[] = [];
  const routes = new Map<string, Route>();
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    requests.push(url);
    const route = routes.get(url);
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${url}\n`);
      return;
    }
    if ("body" in route) {
      res.writeHead(200, { "content-type": "text/plain" }).end(route.body);
      return;
    }
    res.writeHead(200, {
      "content-type": "application/gzip",
      "content-length": fs.statSync(route.file).size,
    });
    fs.createReadStream(route.file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A stand-in for the body of https://get.pulumi.com, written for this test (not Pulumi's
 * script): the same interface (`--version V`, `--install-root DIR` defaulting to ~/.pulumi and
 * not to $PULUMI_HOME, `--no-edit-path`, `--silent`) and the same result (the release tarball's
 * `pulumi/` directory unpacked into `<install root>/bin`), downloading from `base`. It writes
 * the arguments it got, one a line, to `argsFile`, and without `--no-edit-path` appends a PATH
 * line to ~/.profile as the real one edits the shell profile.
 */
export function standInInstaller(base: string, argsFile: string): string {
  return `#!/bin/sh
# Stand-in for Pulumi's install script, served by tests/installer.test.ts.
set -eu
printf '%s\\n' "$@" >${shQuote(argsFile)}
base=${shQuote(base)}
version=""
root="$HOME/.pulumi"
edit_path=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --install-root) root=$2; shift 2 ;;
    --no-edit-path) edit_path=no; shift ;;
    --silent) shift ;;
    *) echo "stand-in installer: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$version" ] || { echo "stand-in installer: no --version (the real one would look up the latest)" >&2; exit 2; }
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "stand-in installer: serves linux-x64 only" >&2; exit 1; }
tarball="$base/releases/sdk/pulumi-v$version-linux-x64.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "+ downloading $tarball"
curl -fsSL -o "$work/pulumi.tar.gz" "$tarball" || { echo "error: failed to download $tarball" >&2; exit 1; }
mkdir "$work/x"
tar -xzf "$work/pulumi.tar.gz" -C "$work/x"
rm -rf "\${root:?}/bin"
mkdir -p "$root/bin"
cp -R "$work/x/pulumi/." "$root/bin/"
if [ "$edit_path" = yes ]; then
  # shellcheck disable=SC2016 # $PATH is for the profile to expand
  printf '\\nexport PATH="$PATH:%s/bin"\\n' "$root" >>"$HOME/.profile"
fi
echo "+ pulumi v$version installed in $root/bin"
`;
}

/**
 * `tar.gz` of `files` (name in the archive -> file on disk, symlinks followed), every entry
 * under `prefix` ("" for the archive's root). Fast gzip: these are test fixtures.
 */
export function tarball(out: string, prefix: string, files: Record<string, string>): string {
  const stage = fs.mkdtempSync(`${out}.stage-`);
  try {
    const dir = path.join(stage, prefix);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, source] of Object.entries(files)) fs.symlinkSync(source, path.join(dir, name));
    const entries = prefix ? [prefix] : Object.keys(files);
    execFileSync("tar", ["-I", "gzip -1", "-chf", out, "-C", stage, ...entries], { stdio: "pipe" });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return out;
}

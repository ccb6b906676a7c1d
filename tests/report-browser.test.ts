/**
 * The HTML report in a real browser: Debian's headless chromium opens the file (file://), the test
 * asserts that every plot drew data (coloured pixels counted by the page into data-painted) and
 * that every number shown in the tables equals the stored JSON, and saves a screenshot
 * (path printed; VPL_REPORT_SCREENSHOT to choose it, default /tmp/vpl-report-browser.png).
 *
 * Input: each folder of tests/fixtures/results/ is one stack's stored runs (copies of result-store
 * documents, run.json; oldest first by name): real-local = two runs of the local lab on this
 * machine, fake-lab = runs of the real runner against lib/bench's FakeLab. Each is laid out as a
 * stack's store in a temporary VPL_HOME, then `node build/bin/report.js --stack <folder>`.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fmtPct, fmtPps } from "../lib/results/html";
import type { StoredRunDoc } from "../lib/results/types";
import { repoRoot } from "./support/repo";

const root = repoRoot();
const fixtures = join(root, "tests", "fixtures", "results");
const chromium = ["chromium", "chromium-browser"].find((b) => spawnSync("which", [b]).status === 0);
const skip = chromium ? false : "needs Debian's chromium (scripts/setup.sh installs it)";

function browse(file: string, extra: string[]): string {
  return execFileSync(
    chromium as string,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--virtual-time-budget=5000",
      ...extra,
      `file://${file}`,
    ],
    { encoding: "utf8", timeout: 120000, stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 },
  );
}

/** The value the table must show for (cell, metric), read from the stored document itself. */
function expected(doc: StoredRunDoc, cellName: string, metric: string): string | undefined {
  const cell = doc.cells.find((c) => c.name === cellName);
  if (!cell) return undefined;
  const dirs = cell.directions;
  const trial = /^mrr\.trial\.(\d+)$/.exec(metric);
  if (trial) return fmtPps(cell.mrr?.trials[Number(trial[1])]?.pps ?? null);
  const upper = (v: number | null | undefined): number | null =>
    v === null || v === undefined ? null : v * dirs;
  const table: Record<string, () => string> = {
    "mrr.avgPps": () => fmtPps(cell.mrr?.avgPps),
    "mrr.cv": () => fmtPct(cell.mrr?.cov ?? null, 2),
    "mrr.loadPps": () => fmtPps(cell.mrr?.loadPps),
    "mrr.stdevPps": () => fmtPps(cell.mrr?.stdevPps),
    "ndr.lowerPps": () => fmtPps(cell.ndrpdr?.ndr?.lowerBoundPps ?? null),
    "pdr.lowerPps": () => fmtPps(cell.ndrpdr?.pdr?.lowerBoundPps ?? null),
    "ndr.upperPps": () => fmtPps(upper(cell.ndrpdr?.ndr?.upperBoundPps)),
    "pdr.upperPps": () => fmtPps(upper(cell.ndrpdr?.pdr?.upperBoundPps)),
  };
  return table[metric]?.();
}

const decode = (s: string): string =>
  s
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");

const sets = existsSync(fixtures) ? readdirSync(fixtures).sort() : [];

describe("the HTML report in headless chromium", { skip }, () => {
  for (const set of sets)
    it(`${set}: draws every plot, shows the JSON's numbers, and leaves a screenshot`, () => {
      const docs = readdirSync(join(fixtures, set))
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(fixtures, set, f), "utf8")) as StoredRunDoc);
      assert.ok(docs.length >= 2, "two stored runs at least (to compare)");
      const home = mkdtempSync(join(tmpdir(), "vpl-report-home-"));
      try {
        const stack = set;
        for (const doc of docs) {
          const dir = join(home, "stacks", stack, "results", "runs", doc.results!.runId);
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, "run.json"), JSON.stringify(doc));
        }
        const out = execFileSync("node", [join(root, "build", "bin", "report.js"), "--stack", stack], {
          encoding: "utf8",
          env: { ...process.env, VPL_HOME: home },
        });
        const file = /^report: (.+)$/m.exec(out)?.[1];
        assert.ok(file && existsSync(file), out);
        const html = readFileSync(file, "utf8");
        assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/i, "self-contained: nothing to fetch");

        const dom = browse(file, ["--dump-dom"]);
        const plots = Number(/<body[^>]*data-plots="(\d+)"/.exec(dom)?.[1] ?? 0);
        const painted = [...dom.matchAll(/<div class="plot" id="([^"]+)"[^>]*data-painted="(\d+)"/g)];
        const declared = [...html.matchAll(/<div class="plot" id="([^"]+)"/g)].map((m) => m[1]);
        assert.ok(plots >= 3, `plots drawn: ${plots}`);
        assert.deepEqual(
          painted.map((m) => m[1]).sort(),
          [...declared].sort(),
          "every plot container was drawn",
        );
        for (const [, id, n] of painted)
          assert.ok(Number(n) > 20, `plot ${id} drew data (${n} coloured pixels)`);

        const current = docs[docs.length - 1]!;
        const shown = [
          ...dom.matchAll(
            /<td class="n" data-cell="([^"]*)" data-metric="([^"]*)" data-v="[^"]*">([^<]*)<\/td>/g,
          ),
        ];
        let compared = 0;
        for (const [, cell, metric, text] of shown) {
          const want = expected(current, decode(cell as string), metric as string);
          if (want === undefined) continue; // impact cells: derived, checked by the unit tests
          assert.equal(decode(text as string), want, `${cell} ${metric}`);
          compared++;
        }
        const measuredValues = current.cells.reduce(
          (n, c) => n + (c.mrr ? 4 + c.mrr.trials.length : 0) + (c.ndrpdr ? 4 : 0),
          0,
        );
        assert.ok(compared >= measuredValues, `numbers compared: ${compared} of at least ${measuredValues}`);
        // the comparison with the run before is there, with its rule
        assert.match(dom, /id="compare"/);
        assert.match(dom, /Rule: A change is flagged when/);

        const shot = process.env.VPL_REPORT_SCREENSHOT ?? `/tmp/vpl-report-browser-${set}.png`;
        browse(file, ["--window-size=1280,4200", `--screenshot=${shot}`]);
        assert.ok(existsSync(shot) && readFileSync(shot).length > 10000, "screenshot written");
        const kept = shot.replace(/\.png$/, ".html");
        writeFileSync(kept, html);
        process.stdout.write(`# report: ${kept}\n# screenshot: ${shot}\n`);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });
});

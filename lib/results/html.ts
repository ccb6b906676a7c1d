/**
 * The report as ONE self-contained HTML file: tables drawn here (so the numbers are in the file as
 * text), plots drawn in the page by uPlot (npm `uplot`, pinned in package.json) whose code and
 * CSS are inlined; nothing is fetched at view time. Each plot, once drawn, counts its painted
 * coloured pixels into data-painted (axes and grid are grey, so only drawn data counts; the browser
 * test reads it). Pure apart from reading uPlot's files.
 */
import { readFileSync } from "node:fs";
import type { CellView, RunView } from "./analysis";
import type { ReportModel } from "./model";

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Whole packets per second with thousands separators; "-" for none. */
export function fmtPps(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : Math.round(v).toLocaleString("en-US");
}
export function fmtPct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : `${(v * 100).toFixed(digits)} %`;
}
function fmtBps(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  const units: [number, string][] = [
    [1e9, "Gb/s"],
    [1e6, "Mb/s"],
    [1e3, "kb/s"],
  ];
  for (const [f, u] of units) if (v >= f) return `${(v / f).toFixed(2)} ${u}`;
  return `${v} b/s`;
}

/** A numeric cell the browser test can check against the JSON: data-cell, data-metric, data-v. */
function num(cell: string, metric: string, v: number | null | undefined, text = fmtPps(v)): string {
  return `<td class="n" data-cell="${esc(cell)}" data-metric="${esc(metric)}" data-v="${v ?? ""}">${esc(text)}</td>`;
}

function verdictBadge(v: string): string {
  return `<span class="v ${v === "pass" ? "pass" : v === "fail" ? "fail" : "na"}">${esc(v)}</span>`;
}

function summaryTable(run: RunView): string {
  const rows = run.cells.map((c) => {
    const failed = c.checks.filter((k) => k.verdict === "fail").length;
    return `<tr><td>${esc(c.name)}</td><td>${esc(c.policy)}</td><td>${esc(c.frame)}</td>
${num(c.name, "mrr.avgPps", c.mrr?.avgPps)}${num(c.name, "mrr.cv", c.mrr?.cv ?? null, fmtPct(c.mrr?.cv, 2))}
${num(c.name, "ndr.lowerPps", c.ndrpdr?.ndr.lowerPps)}${num(c.name, "pdr.lowerPps", c.ndrpdr?.pdr.lowerPps)}
<td>${esc(fmtBps(c.mrr?.l1Bps))}</td>
<td>${c.reused ? `reused (measured in ${esc(c.measuredIn)})` : "measured"}</td>
<td>${failed === 0 ? verdictBadge("pass") : verdictBadge("fail")} ${failed === 0 ? "" : `${failed} failed`}</td>
<td class="key">${esc(c.key)}</td></tr>`;
  });
  return `<table id="summary"><thead><tr><th>cell</th><th>policy</th><th>frame</th><th>MRR avg pps</th><th>MRR CV</th>
<th>NDR pps</th><th>PDR pps</th><th>MRR L1</th><th>result</th><th>checks</th><th>cell key</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function mrrTable(run: RunView): string {
  const max = Math.max(0, ...run.cells.map((c) => c.mrr?.trials.length ?? 0));
  const head = Array.from({ length: max }, (_, i) => `<th>#${i + 1}</th>`).join("");
  const rows = run.cells
    .filter((c) => c.mrr)
    .map((c) => {
      const m = c.mrr!;
      const cells = Array.from({ length: max }, (_, i) =>
        num(c.name, `mrr.trial.${i}`, m.trials[i] ?? null),
      ).join("");
      return `<tr><td>${esc(m.testName)}</td>${num(c.name, "mrr.loadPps", m.loadPps)}${cells}${num(c.name, "mrr.stdevPps", m.stdevPps)}</tr>`;
    });
  return `<table id="mrr"><thead><tr><th>test</th><th>offered pps/dir</th>${head}<th>stdev</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function ndrPdrTable(run: RunView): string {
  const rows = run.cells
    .filter((c) => c.ndrpdr)
    .map((c) => {
      const n = c.ndrpdr!;
      return `<tr><td>${esc(n.testName)}</td>${num(c.name, "ndr.lowerPps", n.ndr.lowerPps)}${num(c.name, "ndr.upperPps", n.ndr.upperPps)}
<td>${esc(n.ndr.outcome ?? "-")}</td>${num(c.name, "pdr.lowerPps", n.pdr.lowerPps)}${num(c.name, "pdr.upperPps", n.pdr.upperPps)}
<td>${esc(n.pdr.outcome ?? "-")}</td><td>${esc(fmtBps(n.ndr.lowerL1Bps))} / ${esc(fmtBps(n.pdr.lowerL1Bps))}</td><td>${esc(n.stopReason)}</td></tr>`;
    });
  return `<table id="ndrpdr"><thead><tr><th>test</th><th>NDR lower</th><th>NDR upper</th><th>NDR outcome</th>
<th>PDR lower</th><th>PDR upper</th><th>PDR outcome</th><th>L1 NDR / PDR</th><th>search stop</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function traceTables(run: RunView): string {
  return run.cells
    .filter((c) => c.ndrpdr && c.ndrpdr.trace.length > 0)
    .map((c) => {
      const rows = c.ndrpdr!.trace.map(
        (t, i) =>
          `<tr><td>${i + 1}</td><td class="n">${fmtPps(t.loadPps)}</td><td>${t.durationS}</td><td class="n">${fmtPct(t.loss, 3)}</td>
<td>${verdictBadge(t.ndrPass ? "pass" : "fail")}</td><td>${verdictBadge(t.pdrPass ? "pass" : "fail")}</td><td>${esc(t.why)}</td></tr>`,
      );
      return `<details open><summary>${esc(c.ndrpdr!.testName)}: ${c.ndrpdr!.trace.length} trials</summary>
<div class="plot" id="trace-${esc(c.name)}"></div>
<table><thead><tr><th>#</th><th>load pps/dir</th><th>s</th><th>loss</th><th>NDR goal</th><th>PDR goal</th><th>why</th></tr></thead><tbody>${rows.join("")}</tbody></table></details>`;
    })
    .join("\n");
}

function checksTable(run: RunView): string {
  const rows = run.cells.flatMap((c) =>
    c.checks.map(
      (k) =>
        `<tr><td>${esc(c.name)}</td><td>${esc(k.name)}</td><td data-check="${esc(c.name)}|${esc(k.name)}">${verdictBadge(k.verdict)}</td><td>${esc(k.detail)}</td></tr>`,
    ),
  );
  return `<table id="checks"><thead><tr><th>cell</th><th>check</th><th>verdict</th><th>detail</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function impactTable(m: ReportModel): string {
  const rows = m.impact.map((r) => {
    const d = r.diff;
    const interval = d && d.low !== null && d.high !== null ? `[${fmtPps(d.low)}, ${fmtPps(d.high)}]` : "-";
    const id = `${r.frame}-${r.metric}`;
    return `<tr><td>${esc(r.frame)}</td><td>${esc(r.metric)}</td>${num(id, "impact.cfs", r.cfs)}${num(id, "impact.cfsrr1", r.cfsrr1)}
${num(id, "impact.diff", d?.diff ?? null)}<td class="n">${esc(fmtPct(d?.relative ?? null))}</td><td class="n">${esc(interval)}</td>
<td>${d && d.low !== null ? verdictBadge(d.significant ? "significant" : "within noise") : "-"}</td><td>${esc(r.basis)}</td></tr>`;
  });
  return `<p class="method">${esc(m.impactMethod)}</p><table id="impact"><thead><tr><th>frame</th><th>metric</th><th>cfs pps</th><th>cfsrr1 pps</th>
<th>cfsrr1 - cfs</th><th>relative</th><th>95 % interval</th><th>verdict</th><th>basis</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function repeatTable(m: ReportModel): string {
  const rows = m.repeatability.map(
    (
      r,
    ) => `<tr><td>${esc(r.cell)}</td><td>${esc(r.metric)}</td><td class="n">${esc(fmtPct(r.cvWithin, 2))}</td><td class="n">${r.runs.length}</td>
<td class="n">${esc(r.runs.map((x) => fmtPps(x.value)).join(" / "))}</td><td class="n">${esc(fmtPct(r.cvAcross, 2))}</td><td class="n">${esc(fmtPct(r.spreadAcross, 2))}</td></tr>`,
  );
  return `<p class="method">CV within the run: sample stdev / mean of the MRR trials. Across runs: one value per run that measured the cell with the same cell key (reused results are not counted again); CV and spread = (max - min) / mean.</p>
<table id="repeat"><thead><tr><th>cell</th><th>metric</th><th>CV within run</th><th>runs</th><th>values (oldest first)</th><th>CV across runs</th><th>spread across runs</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function compareTable(m: ReportModel): string {
  if (!m.comparison || !m.baseline) return `<p>No earlier run to compare with.</p>`;
  const rows = m.comparison.map(
    (
      r,
    ) => `<tr class="${r.flagged ? "flag" : ""}"><td>${esc(r.cell)}</td><td>${esc(r.metric)}</td><td class="n">${fmtPps(r.before)}</td><td class="n">${fmtPps(r.after)}</td>
<td class="n">${esc(fmtPct(r.relative))}</td><td class="n">${esc(r.interval ? `[${fmtPps(r.interval[0])}, ${fmtPps(r.interval[1])}]` : "-")}</td>
<td class="n">${esc(fmtPct(r.noise))}</td><td data-flag="${esc(r.cell)}|${r.metric}">${r.flagged ? verdictBadge("CHANGED") : "within noise"}</td><td>${esc(r.note)}</td></tr>`,
  );
  const flagged = m.comparison.filter((r) => r.flagged).length;
  return `<p>Baseline: ${esc(m.baseline.stack)} run ${esc(m.baseline.runId)}; compared: ${esc(m.current.stack)} run ${esc(m.current.runId)}. ${flagged} change(s) flagged.</p>
<p class="method">Rule: ${esc(m.compareRule)}</p>
<table id="compare"><thead><tr><th>cell</th><th>metric</th><th>baseline</th><th>this</th><th>change</th><th>95 % interval of the difference</th><th>noise threshold</th><th>verdict</th><th>note</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function setupBlock(run: RunView): string {
  const cal = run.calibration;
  const calText = cal
    ? `asked ${fmtPps(cal.askedPps)} pps/dir at ${esc(cal.frame)}, TG achieved ${fmtPps(cal.achievedPps)} pps/dir: ${cal.capped ? `max load capped to ${fmtPps(cal.capPps)} pps/dir` : "no cap needed"} (${esc(cal.rule)})`
    : "no calibration in this run (every cell reused, or a runner without it)";
  return `<ul><li>TG: ${esc(run.tgNote)}</li><li id="calibration">TG calibration: ${calText}</li>
${run.fatal ? `<li class="fail">run stopped early: ${esc(run.fatal)}</li>` : ""}</ul>
<pre class="setup">${esc(JSON.stringify(run.setup, null, 2))}</pre>`;
}

function cellsNeeded(c: CellView): boolean {
  return c.mrr !== null || c.ndrpdr !== null;
}

function uplotAssets(): { js: string; css: string } {
  return {
    js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    css: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}

const PAGE_CSS = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{padding:0 4px;border-radius:3px}.pass{background:#d8f5d8}.fail,.CHANGED{background:#f8d0d0}.na{background:#eee}.significant{background:#ffe9b3}
tr.flag td{background:#fff0f0}.method{max-width:70em;color:#444}.plot{margin:.5em 0}.key{font-family:monospace;font-size:11px}
pre.setup{background:#f7f7f7;padding:6px;max-height:20em;overflow:auto;font-size:12px}`;

/** The page's own script: draws the plots from the embedded model, then counts painted pixels. */
const PAGE_JS = `(function(){
var m=JSON.parse(document.getElementById('model').textContent);
var colors=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b','#e377c2','#17becf'];
var drawn=0;
function painted(u,el){var c=u.ctx.canvas,d=u.ctx.getImageData(0,0,c.width,c.height).data,n=0;
for(var i=0;i<d.length;i+=4){var r=d[i],g=d[i+1],b=d[i+2];if(d[i+3]>0&&Math.max(r,g,b)-Math.min(r,g,b)>40)n++;}if(!el.hasAttribute('data-painted'))drawn++;el.setAttribute('data-painted',String(n));
document.body.setAttribute('data-plots',String(drawn));}
function plot(id,title,xs,series,opts){var el=document.getElementById(id);if(!el)return;
var s=[{label:opts&&opts.xLabel||'x'}].concat(series.map(function(x,i){return{label:x.label,stroke:x.color||colors[i%colors.length],
fill:x.fill,width:x.lines?1.5:0,paths:x.lines?undefined:function(){return null},points:{show:true,size:x.size||7,
fill:x.color||colors[i%colors.length]}}}));
var u=new uPlot({title:title,width:Math.min(900,window.innerWidth-60),height:300,scales:{x:{time:false}},
axes:[{label:opts&&opts.xLabel||'',incrs:[1,2,5,10,20,50,100],values:function(u,v){return v.map(function(x){return Number.isInteger(x)?String(x):''})}},{label:opts&&opts.yLabel||'pps',size:70}],series:s,
hooks:{draw:[function(u){painted(u,el)}]}},[xs].concat(series.map(function(x){return x.values})),el);}
var cur=m.current;
var mrrCells=cur.cells.filter(function(c){return c.mrr});
var n=Math.max.apply(null,[0].concat(mrrCells.map(function(c){return c.mrr.trials.length})));
var xs=[];for(var i=1;i<=n;i++)xs.push(i);
plot('plot-mrr','MRR trials per cell (received pps, all directions)',xs,mrrCells.map(function(c){
return{label:c.name,values:xs.map(function(i){var v=c.mrr.trials[i-1];return v===undefined?null:v})}}),{xLabel:'trial'});
var nd=cur.cells.filter(function(c){return c.ndrpdr||c.mrr});
var xi=nd.map(function(_,i){return i+1});
function pick(f){return nd.map(function(c){var v=f(c);return v===undefined?null:v})}
plot('plot-ndrpdr','NDR / PDR bounds and MRR per cell (1 = '+(nd[0]?nd[0].name:'')+')',xi,[
{label:'NDR lower',values:pick(function(c){return c.ndrpdr&&c.ndrpdr.ndr.lowerPps}),color:'#2ca02c',size:9},
{label:'NDR upper',values:pick(function(c){return c.ndrpdr&&c.ndrpdr.ndr.upperPps}),color:'#98df8a',size:6},
{label:'PDR lower',values:pick(function(c){return c.ndrpdr&&c.ndrpdr.pdr.lowerPps}),color:'#1f77b4',size:9},
{label:'PDR upper',values:pick(function(c){return c.ndrpdr&&c.ndrpdr.pdr.upperPps}),color:'#aec7e8',size:6},
{label:'MRR avg',values:pick(function(c){return c.mrr&&c.mrr.avgPps}),color:'#d62728',size:9}],{xLabel:'cell'});
cur.cells.forEach(function(c){if(!c.ndrpdr||!c.ndrpdr.trace.length)return;var t=c.ndrpdr.trace;var x=t.map(function(_,i){return i+1});
plot('trace-'+c.name,'search trace: '+c.ndrpdr.testName,x,[
{label:'PDR goal met',values:t.map(function(r){return r.pdrPass?r.loadPps:null}),color:'#2ca02c'},
{label:'PDR goal missed',values:t.map(function(r){return r.pdrPass?null:r.loadPps}),color:'#d62728'}],{xLabel:'trial',yLabel:'pps/dir'});});
var h=m.history;if(h.length>0){var hx=h.map(function(_,i){return i+1});
plot('plot-history','MRR average per run (x = run, oldest first; same cell key only)',hx,cur.cells.filter(function(c){return c.mrr}).map(function(c){
return{label:c.name,lines:true,values:h.map(function(r){var v=r.cells.filter(function(x){return x.name===c.name&&x.key===c.key&&!x.reused})[0];return v&&v.mrr?v.mrr.avgPps:null})}}),{xLabel:'run'});}
})();`;

export function renderHtml(m: ReportModel, assets = uplotAssets()): string {
  const run = m.current;
  const json = JSON.stringify(m).replace(/</g, "\\u003c");
  const reused = run.cells.filter((c) => c.reused);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(m.title)}</title>
<style>${assets.css}</style><style>${PAGE_CSS}</style></head>
<body data-plots="0">
<h1>${esc(m.title)}</h1>
<p>Generated ${esc(m.generatedAt)}. Run started ${esc(run.startedAt)}, ${run.ok ? "ok" : "NOT ok"}; ${run.cells.length} cell(s),
<span id="reused-count">${reused.length}</span> reused from earlier runs${reused.length ? ` (${reused.map((c) => esc(c.name)).join(", ")})` : ""}; ${m.history.length} run(s) in the history.
Rates are the aggregate over all directions unless marked per direction (pps/dir).</p>
<h2>Summary</h2>${summaryTable(run)}
<h2>Setup</h2>${setupBlock(run)}
<h2>MRR trials per cell</h2><div class="plot" id="plot-mrr"></div>${mrrTable(run)}
<h2>NDR / PDR with bounds</h2><div class="plot" id="plot-ndrpdr"></div>${ndrPdrTable(run)}
<h2>cfsrr1 vs cfs impact per frame size</h2>${impactTable(m)}
<h2>Repeatability</h2><div class="plot" id="plot-history"></div>${repeatTable(m)}
<h2>Compared with an earlier run</h2>${compareTable(m)}
<h2>Search trace</h2>${traceTables(run) || "<p>No NDR/PDR search in this run.</p>"}
<h2>Validity checks</h2>${checksTable(run)}
${run.cells.some((c) => !cellsNeeded(c)) ? "<p>Cells without results are listed with their error in the checks.</p>" : ""}
<script type="application/json" id="model">${json}</script>
<script>${assets.js}</script>
<script>${PAGE_JS}</script>
</body></html>
`;
}

// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page's stylesheet: system fonts, light and dark themes from
 * `prefers-color-scheme`, no external assets. Private to the page.
 *
 * @module
 */

/** The page's CSS. */
export const PAGE_STYLE: string = `
:root {
  color-scheme: light dark;
  --bg: #f4f6f9;
  --panel: #ffffff;
  --fg: #1b2230;
  --muted: #687387;
  --line: #e3e7ee;
  --soft: #f0f3f7;
  --accent: #3457d5;
  --accent-fg: #ffffff;
  --code: #eef1f6;
  --alive: #15924a;
  --alive-bg: #e2f5e9;
  --suspect: #b26b00;
  --suspect-bg: #fdf0d5;
  --dead: #d1352b;
  --dead-bg: #fde6e4;
  --left: #7b8496;
  --left-bg: #eceef2;
  --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f131a;
    --panel: #171c25;
    --fg: #e4e8ef;
    --muted: #8e98aa;
    --line: #283040;
    --soft: #1d2330;
    --accent: #6d8cff;
    --accent-fg: #0f131a;
    --code: #222a38;
    --alive: #3fcf7a;
    --alive-bg: #143523;
    --suspect: #f2b441;
    --suspect-bg: #3a2c10;
    --dead: #ff6b61;
    --dead-bg: #401a18;
    --left: #9aa3b5;
    --left-bg: #262c38;
    --shadow: 0 1px 2px rgba(0, 0, 0, .4);
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, pre, textarea, .mono { font-family: var(--mono); font-size: 12.5px; }
a { color: var(--accent); }
h2 { font-size: 15px; margin: 0; letter-spacing: .01em; }
h3 { font-size: 14px; margin: 0; }
.muted { color: var(--muted); }
.spacer { flex: 1; }

.top {
  display: flex; align-items: center; gap: 16px;
  padding: 12px 28px;
  background: var(--panel);
  border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: baseline; gap: 8px; font-size: 17px; }
.logo { font-weight: 700; letter-spacing: -.02em; }
.logo::before {
  content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 8px;
  border-radius: 3px; background: var(--accent); transform: rotate(45deg);
}
.brand .sep { color: var(--line); }
.brand .node { font-weight: 600; }
.brand .sub { color: var(--muted); font-size: 13px; }
.top-right { margin-left: auto; display: flex; align-items: center; gap: 14px; }
.enc { color: var(--muted); font-size: 12.5px; display: flex; align-items: center; gap: 6px; }
.status {
  display: inline-flex; align-items: center; gap: 7px;
  padding: 4px 11px; border-radius: 999px; font-size: 12.5px; font-weight: 600;
  background: var(--suspect-bg); color: var(--suspect);
}
.status .dot { background: currentColor; }
.status[data-state="up"] { background: var(--alive-bg); color: var(--alive); }
.status[data-state="down"] { background: var(--dead-bg); color: var(--dead); }
.status[data-state="wait"] .dot { animation: pulse 1s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: .25; } }

main { max-width: 1240px; margin: 0 auto; padding: 22px 28px 40px; }
section { margin-bottom: 26px; }
.section-head { display: flex; align-items: baseline; gap: 12px; margin-bottom: 10px; }
.section-head .muted { font-size: 12.5px; }
.section-head .right { margin-left: auto; }

.card {
  background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  box-shadow: var(--shadow);
}

.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.tile {
  background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 14px; box-shadow: var(--shadow);
}
.tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.tile-value { font-size: 24px; font-weight: 650; line-height: 1.3; font-variant-numeric: tabular-nums; }
.tile-note { color: var(--muted); font-size: 12px; }
.tile.good .tile-value { color: var(--alive); }
.tile.warn .tile-value { color: var(--suspect); }

.members { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
.member { padding: 14px 16px 12px; border-top: 3px solid var(--alive); display: flex; flex-direction: column; gap: 10px; }
.member.suspect { border-top-color: var(--suspect); }
.member.dead { border-top-color: var(--dead); }
.member.left { border-top-color: var(--left); }
.member.dead .member-name, .member.left .member-name { color: var(--muted); }
.member-head { display: flex; align-items: center; gap: 8px; }
.member-name { font-size: 16px; }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11.5px; font-weight: 600;
  background: var(--soft); color: var(--muted); border: 1px solid var(--line);
}
.badge.ok { background: var(--alive-bg); color: var(--alive); border-color: transparent; }
.badge.bad { background: var(--dead-bg); color: var(--dead); border-color: transparent; }
.pill {
  padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 650;
  text-transform: uppercase; letter-spacing: .04em;
}
.pill.alive { background: var(--alive-bg); color: var(--alive); }
.pill.suspect { background: var(--suspect-bg); color: var(--suspect); }
.pill.dead { background: var(--dead-bg); color: var(--dead); }
.pill.left { background: var(--left-bg); color: var(--left); }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; flex: none; }
.dot.alive { background: var(--alive); }
.dot.suspect { background: var(--suspect); }
.dot.dead { background: var(--dead); }
.dot.left { background: var(--left); }
.facts { display: grid; grid-template-columns: 92px 1fr; gap: 4px 10px; margin: 0; font-size: 13px; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; display: flex; flex-wrap: wrap; gap: 4px; min-width: 0; }
.url { background: var(--code); padding: 0 6px; border-radius: 4px; overflow-wrap: anywhere; }
.label { color: var(--muted); font-size: 12px; margin-bottom: 5px; }
.label .count {
  margin-left: 6px; padding: 0 6px; border-radius: 999px; background: var(--soft);
  font-size: 11px; color: var(--muted);
}
.chips { display: flex; flex-wrap: wrap; gap: 5px; }
.chip {
  display: inline-flex; align-items: center; gap: 5px;
  padding: 1px 8px; border-radius: 6px; font-size: 12.5px;
  background: var(--soft); border: 1px solid var(--line); white-space: nowrap;
}
.chip.fun { font-family: var(--mono); font-size: 12px; color: var(--fg); }
.chip.fun.builtin { color: var(--muted); border-style: dashed; }
.chip.res { background: transparent; border-color: var(--accent); color: var(--accent); }
.chip-extra { color: var(--accent); }
.member-perms { font-size: 12px; }
.member-foot { font-size: 11.5px; border-top: 1px solid var(--line); padding-top: 8px; margin-top: auto; }

.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th {
  text-align: left; font-weight: 600; color: var(--muted); font-size: 12px;
  text-transform: uppercase; letter-spacing: .04em;
  padding: 9px 14px; border-bottom: 1px solid var(--line); background: var(--soft);
}
th:first-child { border-top-left-radius: 10px; }
th:last-child { border-top-right-radius: 10px; }
td { padding: 8px 14px; border-bottom: 1px solid var(--line); vertical-align: middle; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover td { background: var(--soft); }
tr.unavailable .fun-name { color: var(--dead); text-decoration: line-through; }
td .chip { margin: 1px 4px 1px 0; }
.member-chip.dead, .member-chip.left { color: var(--muted); text-decoration: line-through; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.strong { font-weight: 650; }
.elsewhere { color: var(--muted); font-size: 12.5px; text-align: center; font-style: italic; }
.bad { color: var(--dead); }
.fun-name { font-size: 13px; font-weight: 600; }
.tag {
  margin-left: 8px; font-size: 11px; color: var(--muted); border: 1px solid var(--line);
  border-radius: 4px; padding: 0 5px;
}
.tag.busy { color: var(--accent); border-color: var(--accent); }

.try { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 14px; align-items: start; }
form.card { padding: 16px; display: flex; flex-direction: column; gap: 10px; }
.form-head { display: flex; align-items: baseline; gap: 10px; }
.form-head .muted { font-size: 12.5px; }
.field { display: flex; flex-direction: column; gap: 4px; }
.field > span { font-size: 12px; color: var(--muted); font-weight: 600; }
.field > span small { font-weight: 400; }
.row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
input, select, textarea {
  font: inherit; color: var(--fg); background: var(--panel);
  border: 1px solid var(--line); border-radius: 7px; padding: 7px 9px; width: 100%;
}
textarea { font-family: var(--mono); font-size: 12.5px; resize: vertical; line-height: 1.45; }
select { width: auto; }
.field select { width: 100%; }
input:focus, select:focus, textarea:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
.actions { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.actions .check { display: flex; align-items: center; gap: 6px; color: var(--muted); font-size: 13px; }
.actions .check input { width: auto; }
button {
  font: inherit; font-weight: 600; border-radius: 7px; padding: 7px 16px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg);
}
button.ghost { background: transparent; color: var(--accent); font-weight: 500; padding: 5px 10px; font-size: 12.5px; }
button:disabled { opacity: .5; cursor: default; }
.hint { font-size: 12px; color: var(--muted); margin-left: auto; }

.result { border-radius: 8px; }
.result[data-status="idle"] { display: none; }
.result[data-status="pending"] { padding: 4px 0; }
.result[data-status="ok"] { border: 1px solid var(--alive); background: var(--alive-bg); padding: 10px 12px; }
.result[data-status="error"] { border: 1px solid var(--dead); background: var(--dead-bg); padding: 10px 12px; }
.result p { margin: 0; }
.result-head { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; font-size: 12.5px; }
.result .badge { font-size: 12px; }
.result .code { font-family: var(--mono); font-size: 12px; font-weight: 600; color: var(--dead); }
.error-message { font-weight: 600; margin-bottom: 6px !important; overflow-wrap: anywhere; }
pre.value {
  margin: 0; padding: 8px 10px; border-radius: 6px; background: var(--panel);
  border: 1px solid var(--line); overflow: auto; max-height: 320px; white-space: pre-wrap;
  overflow-wrap: anywhere;
}

.foot { max-width: 1240px; margin: 0 auto; padding: 0 28px 28px; font-size: 12.5px; color: var(--muted); }
.foot a { margin-right: 12px; }

@media (max-width: 640px) {
  .top { padding: 10px 14px; flex-wrap: wrap; }
  main { padding: 16px 14px 30px; }
  .row { grid-template-columns: 1fr; }
  .try { grid-template-columns: 1fr; }
}
`;

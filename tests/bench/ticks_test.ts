// Copyright 2026 the mpreg authors. MIT license.
// bench/ticks.ts on a small hand-written V8 log: time in a builtin is found
// even where V8 logged the builtin at another address, and it is charged to
// the JavaScript line that called it.
import assert from "node:assert/strict";
import { parseTickLog, report } from "../../bench/ticks.ts";

const hex = (n: number) => `0x${n.toString(16)}`;
const FN = 0x1000; // a JavaScript function
const BUILTIN = 0x2000; // where V8 logged a builtin
const COPY = 0x500000; // how far the copy that ran is from there, inside the executable
const RETURN = FN + 20; // a return address in the function, past its second position

const log = [
  `shared-library,/usr/bin/deno,${hex(0x100000)},${hex(0x900000)},0`,
  `code-creation,JS,10,1,${hex(FN)},256,f file:///app/x.js:1:1,0x0,*`,
  `code-creation,Builtin,3,1,${hex(BUILTIN)},64,Foo`,
  `script-source,7,file:///app/x.js,first line\\nsecond line\\x2C calls Foo\\n`,
  `code-source-info,${hex(FN)},7,0,30,C0O0C16O12,,`,
  // Six ticks in the builtin's copy, called from the function; one in the
  // function itself; one idle; one in the executable with no JavaScript above.
  ...Array.from({ length: 6 }, () => `tick,${hex(BUILTIN + COPY + 8)},5,0,0,0,${hex(RETURN)}`),
  `tick,${hex(FN + 4)},6,0,0,0`,
  `tick,${hex(0x800000)},7,0,0,8`,
  `tick,${hex(0x800010)},8,0,0,6`,
].join("\n");

Deno.test("ticks: a builtin's copy is found and charged to the calling line", () => {
  const parsed = parseTickLog(log, () => null);
  assert.equal(parsed.ticks.length, 9);
  assert.equal(parsed.nameAt(BUILTIN + COPY + 8), "Builtin:Foo");
  assert.equal(parsed.nameAt(FN + 4), "JS:f file:///app/x.js:1:1");
  assert.equal(parsed.nameAt(0x800010), "[deno]");
  assert.equal(parsed.lineAt(RETURN), "x.js:2");
  const lines = report(parsed, 10);
  assert.equal(lines[0], "8 busy ticks (1 idle)");
  assert.ok(lines.includes("     6  75.0 %  Builtin:Foo"), lines.join("\n"));
  assert.ok(lines.includes("     6  75.0 %  Builtin:Foo  <-  JS:f (x.js:2)"), lines.join("\n"));
  assert.ok(lines.includes("     1  12.5 %  [deno]  <-  (no JavaScript frame)"), lines.join("\n"));
  // --only keeps the rows whose JavaScript frame names it.
  assert.ok(!report(parsed, 10, "nothing").some((l) => l.includes("<-")));
});

Deno.test("ticks: without enough ticks in a copy, addresses stay the executable's", () => {
  const few = log.split("\n").filter((l, i, all) =>
    !l.startsWith("tick") || i === all.findIndex((m) => m.startsWith("tick"))
  ).join("\n");
  const parsed = parseTickLog(few, () => null);
  assert.equal(parsed.nameAt(BUILTIN + COPY + 8), "[deno]");
});

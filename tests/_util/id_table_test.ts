// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { type Id, IdTable, nextId } from "../../src/_util/id_table.ts";
import { mulberry32 } from "../../testing/random.ts";

function sorted(entries: [Id, unknown][]): string[] {
  return entries.map(([k, v]) => `${typeof k}:${String(k)}=${String(v)}`).sort();
}

Deno.test('IdTable keeps 1 and "1" apart, like a Map', () => {
  const table = new IdTable<string>();
  table.set(1, "number");
  table.set("1", "string");
  table.set(1.5, "fraction");
  table.set(-1, "negative");
  table.set("__proto__", "proto");
  assert.equal(table.size, 5);
  assert.equal(table.get(1), "number");
  assert.equal(table.get("1"), "string");
  assert.equal(table.get(1.5), "fraction");
  assert.equal(table.get("1.5"), undefined);
  assert.equal(table.get(-1), "negative");
  assert.equal(table.get("__proto__"), "proto");
  assert.equal(table.get("constructor"), undefined);
  assert.equal(table.delete("1"), true);
  assert.equal(table.delete("1"), false);
  assert.equal(table.get(1), "number");
  assert.deepEqual(sorted(table.entries()), [
    "number:-1=negative",
    "number:1.5=fraction",
    "number:1=number",
    "string:__proto__=proto",
  ]);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.get(1), undefined);
});

Deno.test("IdTable refuses undefined values", () => {
  assert.throws(() => new IdTable<unknown>().set(1, undefined), TypeError);
});

Deno.test("IdTable agrees with a Map over random sequential and colliding ids", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const next = mulberry32(seed); // seeded, so a failure reproduces
    const table = new IdTable<number>();
    const model = new Map<Id, number>();
    let nextId = 0;
    let live: Id[] = [];
    for (let op = 0; op < 20_000; op++) {
      const roll = next();
      if (roll < 0.45 || live.length === 0) {
        // Mostly sequential ids (as mpreg allocates them), sometimes ids a
        // multiple of a large power of two apart (they share a home slot),
        // sometimes keys of other shapes.
        const kind = next();
        const id: Id = kind < 0.8
          ? nextId++
          : kind < 0.9
          ? (Math.floor(next() * 8) * 1024 + 7) >>> 0
          : kind < 0.95
          ? `s${Math.floor(next() * 50)}`
          : -Math.floor(next() * 50) - 0.5;
        const value = op;
        table.set(id, value);
        if (!model.has(id)) live.push(id);
        model.set(id, value);
      } else if (roll < 0.9) {
        const index = Math.floor(next() * live.length);
        const id = live[index]!;
        assert.equal(table.delete(id), model.delete(id));
        live[index] = live[live.length - 1]!;
        live.pop();
      } else if (roll < 0.93) {
        // A burst of deletions, so the table shrinks.
        for (const id of live.slice(0, Math.floor(live.length * 0.9))) {
          assert.equal(table.delete(id), true);
          model.delete(id);
        }
        live = live.slice(Math.floor(live.length * 0.9));
      } else {
        const probe: Id = next() < 0.5 ? Math.floor(next() * (nextId + 10)) : `s${op % 60}`;
        assert.equal(table.get(probe), model.get(probe));
        assert.equal(table.has(probe), model.has(probe));
      }
      assert.equal(table.size, model.size);
    }
    for (const [id, value] of model) assert.equal(table.get(id), value, `seed ${seed} id ${id}`);
    assert.deepEqual(sorted(table.entries()), sorted([...model.entries()]));
    assert.deepEqual(table.values().sort(), [...model.values()].sort());
  }
});

Deno.test("IdTable grows and shrinks back with thousands of entries", () => {
  const table = new IdTable<number>();
  for (let i = 0; i < 10_000; i++) table.set(i, i);
  assert.equal(table.size, 10_000);
  for (let i = 0; i < 10_000; i += 2) assert.equal(table.delete(i), true);
  for (let i = 1; i < 10_000; i += 2) assert.equal(table.get(i), i);
  for (let i = 1; i < 9_999; i += 2) table.delete(i);
  assert.equal(table.size, 1);
  assert.equal(table.get(9_999), 9_999);
  assert.equal(table.get(0), undefined);
});

Deno.test("nextId counts up and wraps to 1, staying in the fast range", () => {
  assert.equal(nextId(1), 2);
  assert.equal(nextId(0xffff_fffe), 0xffff_ffff);
  assert.equal(nextId(0xffff_ffff), 1);
  const table = new IdTable<string>();
  table.set(0xffff_ffff, "last");
  table.set(nextId(0xffff_ffff), "wrapped");
  assert.equal(table.get(0xffff_ffff), "last");
  assert.equal(table.get(1), "wrapped");
});

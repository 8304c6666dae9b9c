// Copyright 2026 the mpreg authors. MIT license.
// Seed URLs whose host is a name stand for every address it resolves to.
import assert from "node:assert/strict";
import { seedTargets, systemResolver } from "../../src/cluster/_seeds.ts";

const names: Record<string, string[]> = {
  "mpreg.default.svc": ["10.0.0.1", "10.0.0.2", "fd00::3"],
  "one.test": ["10.0.0.9"],
  "empty.test": [],
};
let lookups = 0;
const resolve = (name: string): Promise<string[]> => {
  lookups++;
  const found = names[name];
  return found ? Promise.resolve(found) : Promise.reject(new Error("ENOTFOUND"));
};

Deno.test("seedTargets(): a ws:// name is every address it resolves to, resolved on every call", async () => {
  lookups = 0;
  const { urls, failures } = await seedTargets(["ws://mpreg.default.svc:6666"], resolve);
  assert.deepEqual(urls, ["ws://10.0.0.1:6666", "ws://10.0.0.2:6666", "ws://[fd00::3]:6666"]);
  assert.deepEqual(failures, []);
  // A pod went away and another came: the next attempt sees it.
  names["mpreg.default.svc"] = ["10.0.0.2", "10.0.0.4"];
  const again = await seedTargets(["ws://mpreg.default.svc:6666"], resolve);
  assert.deepEqual(again.urls, ["ws://10.0.0.2:6666", "ws://10.0.0.4:6666"]);
  assert.equal(lookups, 2);
});

Deno.test("seedTargets(): addresses and wss:// seeds are dialed as written; duplicates go", async () => {
  lookups = 0;
  const { urls } = await seedTargets(
    [
      "ws://10.0.0.9:6666",
      "ws://[::1]:7000",
      "wss://one.test:443",
      "ws://one.test:6666",
      "ws://one.test:6666/peers",
    ],
    resolve,
  );
  assert.deepEqual(urls, [
    "ws://10.0.0.9:6666",
    "ws://[::1]:7000",
    "wss://one.test:443",
    "ws://10.0.0.9:6666/peers",
  ]);
  assert.equal(lookups, 2, "only the ws:// names were resolved");
});

Deno.test("seedTargets(): a name that does not resolve is a reason, not an exception", async () => {
  const { urls, failures } = await seedTargets(
    ["ws://nowhere.test:6666", "ws://empty.test:1", "ws://one.test:2", "not a url"],
    resolve,
  );
  assert.deepEqual(urls, ["ws://10.0.0.9:2"]);
  assert.equal(failures.length, 3);
  assert.match(
    failures[0]!,
    /^cannot resolve "nowhere\.test" \(seed ws:\/\/nowhere\.test:6666\): ENOTFOUND$/,
  );
  assert.match(failures[1]!, /"empty\.test" \(seed ws:\/\/empty\.test:1\) resolves to no address/);
  assert.match(failures[2]!, /invalid seed URL "not a url"/);
});

Deno.test("systemResolver(): localhost resolves as the system says (getaddrinfo)", async () => {
  const addresses = await systemResolver("localhost");
  assert.ok(addresses.length > 0);
  assert.ok(addresses.every((a) => a === "127.0.0.1" || a === "::1"), `${addresses}`);
  const { urls } = await seedTargets(["ws://localhost:6666"], systemResolver);
  assert.ok(
    urls.includes(addresses.includes("127.0.0.1") ? "ws://127.0.0.1:6666" : "ws://[::1]:6666"),
  );
});

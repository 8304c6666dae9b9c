// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  missingHostPermissions,
  missingHostPermissionsSync,
  normalizePermissions,
  permissionKinds,
  profileKey,
  toWorkerPermissions,
} from "../../src/sandbox/mod.ts";
import { FIXTURES } from "./_helpers.ts";

const ROOT = new URL("../../", import.meta.url);

function typeError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TypeError, `expected a TypeError, got ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("normalizePermissions() drops false and empty lists, dedupes and sorts", () => {
  assert.deepEqual(normalizePermissions(undefined), {});
  assert.deepEqual(normalizePermissions(null), {});
  assert.deepEqual(
    normalizePermissions({
      net: ["b.example:443", "a.example", "b.example:443"],
      env: false,
      sys: [],
      run: true,
      write: undefined,
    }),
    { net: ["a.example", "b.example:443"], run: true },
  );
});

Deno.test("normalizePermissions() resolves read, write and ffi paths against baseDir", () => {
  assert.deepEqual(
    normalizePermissions(
      {
        read: ["./data", "/etc/hosts", "../shared", pathToFileURL("/srv/x y").href],
        write: ["out"],
        ffi: ["lib/libfoo.so"],
        run: ["./bin/tool", "git"],
      },
      "/srv/app",
    ),
    {
      read: ["/etc/hosts", "/srv/app/data", "/srv/shared", "/srv/x y"],
      write: ["/srv/app/out"],
      ffi: ["/srv/app/lib/libfoo.so"],
      run: ["/srv/app/bin/tool", "git"],
    },
  );
});

Deno.test("normalizePermissions() resolves relative paths against the current directory by default", () => {
  assert.deepEqual(normalizePermissions({ read: ["data"] }), { read: [join(Deno.cwd(), "data")] });
  assert.deepEqual(normalizePermissions({ read: ["data"] }, "rel"), {
    read: [resolve("rel", "data")],
  });
});

Deno.test("normalizePermissions() rejects bad input with a message naming the key", () => {
  typeError(() => normalizePermissions("net"), /^Invalid permissions "net": expected an object/);
  typeError(() => normalizePermissions(["net"]), /expected an object/);
  typeError(() => normalizePermissions({ network: true }), /^Unknown permission "network"/);
  typeError(
    () => normalizePermissions({ net: "example.com" }),
    /^Invalid "net" permission "example.com"/,
  );
  typeError(() => normalizePermissions({ read: 1 }), /^Invalid "read" permission 1/);
  typeError(() => normalizePermissions({ env: "inherit" }), /^Invalid "env" permission "inherit"/);
  typeError(() => normalizePermissions({ read: [""] }), /^Invalid "read" permission entry ""/);
  typeError(() => normalizePermissions({ run: [3] }), /^Invalid "run" permission entry 3/);
  typeError(
    () => normalizePermissions({ net: ["https://example.com"] }),
    /^Invalid "net" permission entry "https:\/\/example.com": expected a host/,
  );
  typeError(() => normalizePermissions({ env: ["A=1"] }), /^Invalid "env" permission entry "A=1"/);
  typeError(
    () => normalizePermissions({ sys: ["bogus"] }),
    /^Invalid "sys" permission entry "bogus": expected one of cpus/,
  );
  assert.deepEqual(normalizePermissions({ sys: ["osRelease", "hostname"] }), {
    sys: ["hostname", "osRelease"],
  });
});

Deno.test("permissionKinds() lists granted kinds, sorted", () => {
  assert.deepEqual(permissionKinds({}), []);
  assert.deepEqual(
    permissionKinds({ write: ["/tmp"], net: true, read: [], env: false }),
    ["net", "write"],
  );
});

Deno.test("profileKey() is canonical: equal profiles share a key", () => {
  assert.equal(profileKey({}), "none");
  assert.equal(profileKey({ env: false, read: [] }), "none");
  assert.equal(profileKey({ read: ["/b", "/a"], net: true }), 'net read=["/a","/b"]');
  assert.equal(
    profileKey({ read: ["/a", "/b"], net: true }),
    profileKey({ net: true, read: ["/b", "/a", "/a"] }),
  );
  assert.notEqual(profileKey({ read: ["/a,/b"] }), profileKey({ read: ["/a", "/b"] }));
  assert.notEqual(profileKey({ read: true }), profileKey({ read: ["/"] }));
});

Deno.test("toWorkerPermissions() sets every kind, so nothing is inherited", () => {
  assert.deepEqual(toWorkerPermissions({}), {
    env: false,
    ffi: false,
    import: false,
    net: false,
    read: false,
    run: false,
    sys: false,
    write: false,
  });
  const list = ["127.0.0.1:8080"];
  const permissions = toWorkerPermissions({ net: list, env: true });
  assert.deepEqual(permissions.net, list);
  assert.notEqual(permissions.net, list);
  assert.equal(permissions.env, true);
  assert.equal(permissions.read, false);
});

Deno.test("missingHostPermissions() is empty when this process holds everything", async () => {
  assert.deepEqual(await missingHostPermissions({ net: true, read: ["/etc"], env: ["HOME"] }), []);
  assert.deepEqual(missingHostPermissionsSync({ sys: ["hostname"], run: true }), []);
});

Deno.test("missingHostPermissions() reports what a process started with fewer flags lacks", async () => {
  const script = new URL("../fixtures/sandbox/missing_main.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--config=${new URL("deno.json", ROOT).pathname}`,
      `--allow-read=${FIXTURES}`,
      "--allow-env=HOME",
      script,
    ],
    cwd: new URL(".", ROOT).pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.deepEqual(result.missing, [
    'env access to "PATH"',
    'net access to "example.com"',
    'read access to "/etc"',
    "full run access",
  ]);
  assert.deepEqual(result.granted, []);
  assert.equal(result.load.name, "PermissionDeniedError");
  assert.equal(result.load.code, 1009);
  assert.match(
    result.load.message,
    /^Cannot sandbox "fetcher": this process lacks net access to "example.com" it declares/,
  );
});

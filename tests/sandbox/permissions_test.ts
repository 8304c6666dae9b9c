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
  toDenoFlags,
} from "../../src/sandbox/permissions.ts";
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

Deno.test("toDenoFlags() grants exactly the profile: nothing else, no prompt, no default import hosts", () => {
  // Deno allows imports from deno.land, jsr.io, esm.sh, ... unless told
  // otherwise: an empty profile names a host that cannot exist.
  assert.deepEqual(toDenoFlags({}), ["--no-prompt", "--allow-import=invalid.invalid"]);
  assert.deepEqual(toDenoFlags({ net: ["127.0.0.1:8080"], env: true, sys: ["hostname"] }), [
    "--no-prompt",
    "--allow-import=127.0.0.1:8080",
    "--allow-env",
    "--allow-net=127.0.0.1:8080",
    "--allow-sys=hostname",
  ]);
  assert.deepEqual(toDenoFlags({ net: true }), ["--no-prompt", "--allow-import", "--allow-net"]);
  // A remote runtime module may always be imported from its own host.
  assert.deepEqual(toDenoFlags({}, [new URL("https://jsr.io/@mpreg/mpreg/src/sandbox/_host.ts")]), [
    "--no-prompt",
    "--allow-import=jsr.io",
  ]);
});

Deno.test("toDenoFlags() also names the real path of a folder given through a symlink", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "real"));
    await Deno.symlink(join(dir, "real"), join(dir, "link"));
    const real = await Deno.realPath(join(dir, "real"));
    assert.deepEqual(toDenoFlags({ read: [join(dir, "link")] }), [
      "--no-prompt",
      "--allow-import=invalid.invalid",
      `--allow-read=${join(dir, "link")},${real}`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("normalizePermissions() refuses a comma, which Deno's flags cannot carry", () => {
  typeError(() => normalizePermissions({ read: ["/srv/a,b"] }), /"read".*"\/srv\/a,b".*comma/);
  typeError(() => normalizePermissions({ net: ["a.com,b.com"] }), /"net".*comma/);
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
    /^Cannot sandbox "fetcher": this process lacks net access to "example.com", which it declares/,
  );
});

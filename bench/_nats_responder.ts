// Copyright 2026 the mpreg authors. MIT license.
/**
 * The NATS side of the bench's server work: connects to a `nats-server`,
 * subscribes to a subject and answers every request with its own payload,
 * the NATS counterpart of mpreg's built-in `echo` in `bench/_server.ts`.
 *
 * `deno run -A bench/_nats_responder.ts NATS_URL SUBJECT [FUN]` prints one JSON
 * line `{ "pid": pid }` once the subscription is registered at the server
 * (after a flush), and exits 0 when stdin closes or it gets SIGTERM. With
 * `FUN` (`inc`, `double` or `label`) it answers with that function of the
 * payload read as a number instead: a node of the chain of issue 19.
 *
 * Run by `bench/main.ts`; not meant to be started by hand.
 *
 * @module
 */
import { connect } from "npm:@nats-io/transport-node@3";
import { sigterm, stdinClosed } from "./_process.ts";

/** The chain's functions, on payloads as text (the mpreg nodes' `inc`, `double`, `label`). */
const FUNS: Record<string, (n: number) => string> = {
  inc: (n) => String(n + 1),
  double: (n) => String(n * 2),
  label: (n) => `n=${n}`,
};

async function main(): Promise<void> {
  const [servers, subject, fun] = Deno.args;
  const apply = fun === undefined ? undefined : FUNS[fun];
  if (fun !== undefined && apply === undefined) throw new Error(`unknown function ${fun}`);
  if (servers === undefined || subject === undefined) {
    throw new Error("usage: _nats_responder.ts NATS_URL SUBJECT");
  }
  const nc = await connect({ servers });
  // A callback, not an async iterator: the fastest way the client offers.
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      msg.respond(apply === undefined ? msg.data : apply(Number(msg.string())));
    },
  });
  await nc.flush();
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify({ pid: Deno.pid }) + "\n"));
  await Promise.race([stdinClosed(), sigterm(), nc.closed()]);
  const timeout = new Promise<"timeout">((r) => setTimeout(r, 3_000, "timeout"));
  const outcome = await Promise.race([nc.close().then(() => "closed" as const), timeout]);
  Deno.exit(outcome === "timeout" ? 1 : 0);
}

if (import.meta.main) await main();

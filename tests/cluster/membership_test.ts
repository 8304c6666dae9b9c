// Copyright 2026 the mpreg authors. MIT license.
// The membership state machine, driven by hand: 2–4 instances whose messages
// are delivered (or dropped) by a tiny in-memory network, in explicit time.
import assert from "node:assert/strict";
import {
  type GossipMessage,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
  type NodeRecord,
  type Outbound,
  type Update,
} from "../../src/cluster/membership.ts";
import { entryHash, ViewHash, viewHash } from "../../src/cluster/_view_hash.ts";
import { mulberry32 } from "../../testing/random.ts";

const I = 1000;

function rec(name: string, incarnation = 1_000, catalogVersion = incarnation): NodeRecord {
  return {
    name,
    incarnation,
    catalogVersion,
    urls: [`ws://${name}:9001`],
    resources: ["cpu"],
    functions: { echo: [] },
  };
}

interface Sent {
  from: string;
  to: string;
  msg: GossipMessage;
}

/** Memberships wired by hand: `deliver` hands messages over, transitively. */
class Net {
  nodes = new Map<string, Membership>();
  events: string[] = [];
  log: Sent[] = [];
  down = new Set<string>();
  drop: (from: string, to: string, msg: GossipMessage) => boolean = () => false;
  #seed = 1;

  add(
    record: NodeRecord,
    members: NodeRecord[] = [],
    options: Partial<MembershipOptions> = {},
  ): Membership {
    const name = record.name;
    const m = new Membership(record, {
      intervalMs: I,
      random: mulberry32(this.#seed++),
      onEvent: (e: MembershipEvent) => this.events.push(`${name} ${e.type} ${e.member.name}`),
      members: members.filter((r) => r.name !== name),
      ...options,
    });
    this.nodes.set(name, m);
    return m;
  }

  get(name: string): Membership {
    return this.nodes.get(name)!;
  }

  deliver(from: string, out: Outbound[], now: number): void {
    const queue: Sent[] = out.map(({ to, msg }) => ({ from, to, msg }));
    for (let i = 0; i < queue.length; i++) {
      const sent = queue[i]!;
      this.log.push(sent);
      if (this.down.has(sent.to) || this.drop(sent.from, sent.to, sent.msg)) continue;
      const target = this.nodes.get(sent.to);
      if (target === undefined) continue;
      for (const { to, msg } of target.receive(sent.msg, now)) {
        queue.push({ from: sent.to, to, msg });
      }
    }
  }

  tick(name: string, now: number): Outbound[] {
    const out = this.get(name).tick(now);
    this.deliver(name, out, now);
    return out;
  }

  tickAll(now: number): void {
    for (const name of this.nodes.keys()) if (!this.down.has(name)) this.tick(name, now);
  }

  sent(t: GossipMessage["t"], from?: string, to?: string): Sent[] {
    return this.log.filter((s) =>
      s.msg.t === t && (from === undefined || s.from === from) && (to === undefined || s.to === to)
    );
  }
}

/** A cluster of `names` at rest: everyone knows everyone, nothing pending. */
function cluster(names: string[], options: Partial<MembershipOptions> = {}): Net {
  const net = new Net();
  const records = names.map((n) => rec(n));
  for (const r of records) net.add(r, records, options);
  return net;
}

function gossip(from: string, ...updates: Update[]): GossipMessage {
  return { t: "gossip", from, updates };
}

function update(
  name: string,
  incarnation: number,
  state: Update["state"],
  catalogVersion = 1_000,
): Update {
  return { name, incarnation, catalogVersion, state };
}

// --- joining -------------------------------------------------------------

Deno.test("observe() with bootstrap: C joins through A and learns B transitively", () => {
  const net = new Net();
  const a = net.add(rec("A"));
  const b = net.add(rec("B"));
  const c = net.add(rec("C"));
  // A and B link.
  net.deliver("A", a.observe(b.self, 0), 0);
  net.deliver("B", b.observe(a.self, 0, { bootstrap: true }), 0);
  // C links to A only: the handshake on both sides, C bootstraps.
  net.deliver("A", a.observe(c.self, 0), 0);
  net.deliver("C", c.observe(a.self, 0, { bootstrap: true }), 0);

  assert.deepEqual(c.liveNames().sort(), ["A", "B"], "C learned B from A's digest");
  assert.deepEqual(c.member("B")?.urls, ["ws://B:9001"], "…and pulled its record");
  assert.ok(net.sent("sync", "C", "A").some((s) => (s.msg as { reply: boolean }).reply));
  assert.ok(net.sent("sync", "A", "C").some((s) => !(s.msg as { reply: boolean }).reply));
  assert.ok(net.sent("pull", "C", "A").length > 0 && net.sent("records", "A", "C").length > 0);
  assert.equal(c.pending, 1, "only A, from the handshake: what a sync teaches is not gossiped");
  assert.ok(net.events.includes("C joined B") && net.events.includes("C joined A"));

  // B learns C by gossip from A (A queued C when it observed it).
  for (let t = I; t <= 3 * I; t += I) net.tickAll(t);
  assert.deepEqual(b.liveNames().sort(), ["A", "C"]);
  assert.equal(b.member("C")?.state, "alive");
  assert.ok(net.events.includes("B joined C"));
});

Deno.test("the members option starts at rest: members known, nothing pending, one ping a tick", () => {
  const net = cluster(["A", "B", "C"]);
  const a = net.get("A");
  assert.deepEqual(a.members().map((m) => m.name), ["A", "B", "C"]);
  assert.equal(a.members()[0]!.self, true);
  assert.equal(a.pending, 0);
  for (let t = I; t <= 6 * I; t += I) {
    const out = net.tick("A", t);
    assert.deepEqual(out.map((o) => o.msg.t), ["ping"], `round ${t / I}`);
    const ping = out[0]!.msg as { updates: Update[] };
    assert.deepEqual(ping.updates, []);
  }
  // Shuffled round-robin: every member is probed once per pass.
  const targets = net.sent("ping", "A").map((s) => s.to);
  assert.deepEqual(targets.slice(0, 2).sort(), ["B", "C"]);
  assert.deepEqual(targets.slice(2, 4).sort(), ["B", "C"]);
});

// --- probing and failure detection -----------------------------------------

Deno.test("probe → ack resets lastHeard; no suspicion while acks come back", () => {
  const net = cluster(["A", "B"]);
  const a = net.get("A");
  for (let t = I; t <= 10 * I; t += I) net.tickAll(t);
  assert.equal(a.member("B")?.state, "alive");
  assert.equal(a.member("B")?.lastHeard, 10 * I);
  const ping = net.sent("ping", "A", "B")[0]!.msg as { seq: number };
  const ack = net.sent("ack", "B", "A")[0]!.msg as { seq: number; from: string };
  assert.equal(ack.seq, ping.seq);
  assert.equal(ack.from, "B");
  assert.deepEqual(net.events, []);
});

Deno.test("missing ack → ping-req → suspect → dead at the deadline, the same tick everywhere", () => {
  // A fixed timer (no Lifeguard confirmations): see the Lifeguard tests below.
  const net = cluster(["A", "B", "C", "D"], { suspicionMaxTimeoutMult: 1 });
  const a = net.get("A");
  net.down.add("D");
  let t = 0;
  // Tick A until it probes D.
  for (;;) {
    t += I;
    const out = net.tick("A", t);
    if (out.some((o) => o.to === "D" && o.msg.t === "ping")) break;
    assert.ok(t < 10 * I, "A probes D within a pass");
  }
  // Next tick: no ack, so ping-req to the other live members (B and C; 3 asked, 2 exist).
  t += I;
  const second = net.tick("A", t);
  const reqs = second.filter((o) => o.msg.t === "ping-req");
  assert.deepEqual(reqs.map((o) => o.to).sort(), ["B", "C"]);
  for (const r of reqs) assert.equal((r.msg as { target: string }).target, "D");
  assert.equal(net.sent("ping", "B", "D").length, 1, "B pings D for A");
  assert.equal(a.member("D")?.state, "alive", "not suspect before the indirect probes fail");
  // Next tick: still no ack → suspect, told to D directly (buddy) and gossiped.
  t += I;
  const third = net.tick("A", t);
  assert.equal(a.member("D")?.state, "suspect");
  assert.ok(net.events.includes("A suspect D"));
  const buddy = third.find((o) => o.to === "D" && o.msg.t === "gossip");
  assert.ok(buddy, "the suspicion goes straight to the suspect");
  const told = (buddy.msg as { updates: Update[] }).updates[0]!;
  assert.equal(told.state, "suspect");
  assert.equal(told.deadlineIn, a.suspicionTimeoutMs);
  assert.equal(net.get("B").member("D")?.state, "suspect", "B heard the suspicion");
  assert.equal(net.get("C").member("D")?.state, "suspect", "C heard the suspicion");

  const suspectedAt = t;
  const timeout = a.suspicionTimeoutMs; // 4 × max(1, log10 4) × 1 s = 4 s
  assert.equal(timeout, 4 * I);
  for (t += I; t < suspectedAt + timeout; t += I) {
    net.tickAll(t);
    for (const n of ["A", "B", "C"]) assert.equal(net.get(n).member("D")?.state, "suspect");
  }
  net.tickAll(t);
  for (const n of ["A", "B", "C"]) {
    assert.equal(net.get(n).member("D")?.state, "dead", `${n} at the deadline`);
    assert.ok(net.events.includes(`${n} dead D`));
    assert.ok(!net.get(n).liveNames().includes("D"));
  }
  // Dead members are never probed nor gossiped to.
  const before = net.log.length;
  for (t += I; t < suspectedAt + timeout + 10 * I; t += I) net.tickAll(t);
  assert.ok(net.log.slice(before).every((s) => s.to !== "D"));
});

Deno.test("an indirect probe relays the ack: a lossy direct path raises no suspicion", () => {
  const net = cluster(["A", "B", "C"]);
  const a = net.get("A");
  net.drop = (from, to, msg) => from === "A" && to === "C" && msg.t === "ping";
  let t = 0;
  for (;;) {
    t += I;
    if (net.tick("A", t).some((o) => o.to === "C" && o.msg.t === "ping")) break;
  }
  const probe = net.sent("ping", "A", "C").at(-1)!.msg as { seq: number };
  t += I;
  net.tick("A", t); // ping-req to B, B pings C, C acks B, B relays to A
  const relayed = net.sent("ack", "B", "A").map((s) => s.msg as { seq: number; from: string });
  assert.ok(relayed.some((m) => m.seq === probe.seq && m.from === "C"), "relayed as C's ack");
  t += I;
  net.tick("A", t);
  assert.equal(a.member("C")?.state, "alive");
  assert.ok(!net.events.some((e) => e.includes("suspect")));
});

Deno.test("suspicion deadlines agree: a late receiver keeps the earlier deadline", () => {
  const net = cluster(["X", "D"]);
  const x = net.get("X");
  // X hears at 5 s that D is suspect with 2 s left: dead at 7 s, not 5 s + its own timeout.
  x.receive(gossip("Z", { ...update("D", 1_000, "suspect"), deadlineIn: 2 * I }), 5 * I);
  assert.equal(x.member("D")?.state, "suspect");
  // A later report with more time left does not push the deadline back.
  x.receive(gossip("Z", { ...update("D", 1_000, "suspect"), deadlineIn: 3 * I }), 5.5 * I);
  net.down.add("D");
  x.tick(6 * I);
  assert.equal(x.member("D")?.state, "suspect");
  x.tick(7 * I);
  assert.equal(x.member("D")?.state, "dead");
});

// --- refutation and precedence ---------------------------------------------

Deno.test("refutation: a suspect bumps its incarnation and is alive again everywhere", () => {
  const net = cluster(["A", "B", "C"]);
  const b = net.get("B");
  const before = b.self.incarnation;
  net.deliver("A", net.get("A").linkLost("B", I), I);
  assert.equal(b.self.incarnation, before + 1, "B refuted on hearing it");
  assert.ok(net.events.includes("A suspect B"));
  for (let t = 2 * I; t <= 5 * I; t += I) net.tickAll(t);
  for (const n of ["A", "C"]) {
    const m = net.get(n).member("B");
    assert.equal(m?.state, "alive", n);
    assert.equal(m?.incarnation, before + 1, n);
  }
  assert.ok(net.events.includes("A alive B"));
  // Told it is dead (at its incarnation or later) also makes it refute.
  b.receive(gossip("C", update("B", before + 1, "dead")), 6 * I);
  assert.equal(b.self.incarnation, before + 2);
  // An older rumour does nothing.
  b.receive(gossip("C", update("B", before, "dead")), 6 * I);
  assert.equal(b.self.incarnation, before + 2);
});

Deno.test("precedence: higher incarnation wins, then left > dead > suspect > alive", () => {
  const net = new Net();
  const x = net.add(rec("X"), [rec("Y", 5, 5)]);
  const state = (): string | undefined => x.member("Y")?.state;
  const tell = (u: Update): Outbound[] => x.receive(gossip("Z", u), I);

  tell(update("Y", 5, "suspect", 5));
  assert.equal(state(), "suspect");
  tell(update("Y", 5, "alive", 5));
  assert.equal(state(), "suspect", "alive does not beat suspect at the same incarnation");
  tell(update("Y", 4, "alive", 5));
  assert.equal(state(), "suspect", "an older incarnation never wins");
  tell(update("Y", 5, "dead", 5));
  assert.equal(state(), "dead");
  tell(update("Y", 5, "suspect", 5));
  assert.equal(state(), "dead");
  tell(update("Y", 6, "alive", 5));
  assert.equal(state(), "alive", "a higher incarnation overrides dead");
  tell(update("Y", 6, "left", 5));
  assert.equal(state(), "left");
  tell(update("Y", 6, "dead", 5));
  assert.equal(state(), "left", "left beats dead");
  tell(update("Y", 6, "alive", 5));
  assert.equal(state(), "left");
  tell(update("Y", 7, "suspect", 5));
  assert.equal(state(), "suspect", "a higher incarnation overrides left");
  assert.deepEqual(net.events, [
    "X suspect Y",
    "X dead Y",
    "X alive Y",
    "X left Y",
    "X suspect Y",
  ]);
  // No pull for any of these: the catalog version never moved.
  assert.equal(x.member("Y")?.incarnation, 7);
});

// --- catalog -----------------------------------------------------------------

Deno.test("catalog change → pull → records, pushed to every live member at once", () => {
  const net = cluster(["A", "B", "C"]);
  const b = net.get("B");
  const version = b.self.catalogVersion;
  const out = b.updateSelf({ functions: { echo: [], infer: ["gpu"] } }, I);
  assert.deepEqual(out.map((o) => o.to).sort(), ["A", "C"], "a gossip to every live member");
  assert.equal(b.self.catalogVersion, version + 1);
  net.deliver("B", out, I);
  for (const n of ["A", "C"]) {
    const m = net.get(n).member("B")!;
    assert.equal(m.catalogVersion, version + 1, n);
    assert.deepEqual(m.functions, { echo: [], infer: ["gpu"] }, n);
    assert.ok(net.events.includes(`${n} catalog B`));
    assert.equal(net.sent("pull", n, "B").length, 1, `${n} pulled once`);
  }
  assert.equal(net.sent("records", "B").length, 2);
  // The views are frozen: callers cannot corrupt the shared record.
  assert.throws(() => net.get("A").member("B")!.functions.infer!.push("x"));
});

Deno.test("a stale record is pulled from whoever told us, and gossip carries it onwards", () => {
  const net = cluster(["A", "B", "C"]);
  // Only A hears the change (the push to C is lost).
  net.drop = (from, to) => from === "B" && to === "C";
  net.deliver("B", net.get("B").updateSelf({ resources: ["cpu", "gpu"] }, I), I);
  net.drop = () => false;
  assert.deepEqual(net.get("C").member("B")?.resources, ["cpu"]);
  for (let t = 2 * I; t <= 4 * I; t += I) net.tickAll(t);
  assert.deepEqual(net.get("C").member("B")?.resources, ["cpu", "gpu"]);
});

// --- leaving, tombstones, restarts ------------------------------------------

Deno.test("leave: peers mark it left at once; the tombstone expires after tombstoneMs", () => {
  const net = cluster(["A", "B", "C"], { tombstoneMs: 60 * I });
  const b = net.get("B");
  const inc = b.self.incarnation;
  const out = b.leave(I);
  assert.deepEqual(out.map((o) => o.to).sort(), ["A", "C"]);
  assert.equal(b.self.incarnation, inc + 1);
  net.deliver("B", out, I);
  for (const n of ["A", "C"]) {
    assert.equal(net.get(n).member("B")?.state, "left");
    assert.ok(net.events.includes(`${n} left B`));
    assert.ok(!net.get(n).liveNames().includes("B"));
  }
  assert.deepEqual(b.tick(2 * I), [], "a node that left probes no more");
  assert.equal(b.members()[0]!.state, "left");

  const a = net.get("A");
  a.tick(60 * I);
  assert.equal(a.member("B")?.state, "left", "kept for tombstoneMs (60 intervals)");
  a.tick(61 * I);
  assert.equal(a.member("B"), undefined, "then forgotten");
  // A forgotten member's death is not news: it stays forgotten.
  a.receive(gossip("C", update("B", inc + 1, "dead")), 62 * I);
  assert.equal(a.members().length, 2);
});

Deno.test("restart: a higher incarnation overrides the tombstone", () => {
  const net = cluster(["A", "B"]);
  const a = net.get("A");
  a.receive(gossip("Z", update("B", 1_000, "dead")), I);
  assert.equal(a.member("B")?.state, "dead");
  // The restarted process: new start time → higher incarnation and catalog version.
  const b2 = rec("B", 50_000);
  b2.functions = { echo: [], fresh: [] };
  net.deliver("A", a.observe(b2, 2 * I), 2 * I);
  const m = a.member("B")!;
  assert.equal(m.state, "alive");
  assert.equal(m.incarnation, 50_000);
  assert.deepEqual(Object.keys(m.functions).sort(), ["echo", "fresh"]);
  assert.ok(net.events.includes("A alive B"));
  assert.ok(net.events.includes("A catalog B"));
  // By gossip instead of a handshake: alive at a higher incarnation, record pulled.
  const net2 = cluster(["A", "B"]);
  const a2 = net2.get("A");
  a2.receive(gossip("Z", update("B", 1_000, "dead")), I);
  const b3 = net2.add(rec("B", 60_000)); // replaces B in the network
  net2.deliver("B", [{ to: "A", msg: gossip("B", update("B", 60_000, "alive", 60_000)) }], 2 * I);
  assert.equal(a2.member("B")?.state, "alive");
  assert.equal(a2.member("B")?.catalogVersion, 60_000, "pulled the new record");
  assert.equal(b3.self.incarnation, 60_000);
});

Deno.test("a handshake at the tombstone's incarnation is told it is dead, and refutes", () => {
  const net = cluster(["A", "B"]);
  const a = net.get("A");
  const b = net.get("B");
  a.receive(gossip("Z", update("B", 1_000, "dead")), I);
  // B was paused, not restarted: it reconnects with the same incarnation.
  const out = a.observe(b.self, 2 * I);
  assert.equal(a.member("B")?.state, "dead", "the tombstone stands at equal incarnation");
  assert.deepEqual(out.map((o) => [o.to, o.msg.t]), [["B", "gossip"]]);
  net.deliver("A", out, 2 * I);
  assert.equal(b.self.incarnation, 1_001, "B refuted");
  net.tick("B", 3 * I); // its ping carries the refutation
  assert.equal(a.member("B")?.state, "alive");
});

Deno.test("linkLost(): suspect at once, without waiting for probes", () => {
  const net = cluster(["A", "B", "C"], { suspicionMaxTimeoutMult: 1 });
  const a = net.get("A");
  net.down.add("B");
  const out = a.linkLost("B", I);
  assert.equal(a.member("B")?.state, "suspect");
  assert.deepEqual(out.map((o) => [o.to, o.msg.t]), [["B", "gossip"]]);
  assert.deepEqual(a.linkLost("B", I), [], "already suspect");
  assert.deepEqual(a.linkLost("nobody", I), []);
  net.deliver("A", out, I);
  for (let t = 2 * I; t <= 6 * I; t += I) net.tickAll(t);
  assert.equal(a.member("B")?.state, "dead", "dead one timeout (4 s) after the link loss");
  assert.equal(net.get("C").member("B")?.state, "dead");
});

// --- anti-entropy ------------------------------------------------------------

Deno.test("different views at rest start one sync; both sides end up equal", () => {
  const net = new Net();
  const a = net.add(rec("A"), [rec("B"), rec("C")]);
  const b = net.add(rec("B"), [rec("A")]);
  net.add(rec("C"), [rec("A")]);
  assert.notEqual(a.view, b.view);
  let t = 0;
  while (net.sent("ping", "A", "B").length === 0) {
    t += I;
    net.tick("A", t);
  }
  assert.equal(net.sent("sync", "A", "B").length, 1, "A saw B's view in the ack and synced");
  assert.equal(net.sent("sync", "B", "A").length, 1, "B answered with its digest");
  assert.deepEqual(b.liveNames().sort(), ["A", "C"]);
  assert.equal(a.view, b.view);
  // At most once per syncEveryRounds, even when views differ again.
  a.receive(gossip("Z", update("Q", 1, "alive")), t);
  const syncs = net.sent("sync").length;
  for (let i = 0; i < 5; i++) {
    t += I;
    net.tick("A", t);
  }
  assert.equal(net.sent("sync").length, syncs);
});

Deno.test("view hash: equal for equal views, whatever the order", () => {
  const members = [
    { name: "A", incarnation: 1, catalogVersion: 1 },
    { name: "B", incarnation: 2, catalogVersion: 7 },
    { name: "C", incarnation: 3, catalogVersion: 3 },
  ];
  assert.equal(viewHash(members), viewHash([...members].reverse()));
  assert.notEqual(viewHash(members), viewHash(members.slice(1)));
  assert.notEqual(
    viewHash(members),
    viewHash([members[0]!, { ...members[1]!, catalogVersion: 8 }, members[2]!]),
  );
  assert.notEqual(
    viewHash([members[0]!]),
    viewHash([{ name: "A", incarnation: 11, catalogVersion: 1 }]),
  );
  // Add then remove leaves the hash as it was.
  const h = new ViewHash();
  h.add(entryHash("A", 1, 1));
  const one = h.value;
  h.add(entryHash("B", 2, 2));
  h.remove(entryHash("B", 2, 2));
  assert.equal(h.value, one);
  assert.match(one, /^[0-9a-z]+\.[0-9a-z]+$/);

  // Two memberships that learned the same members in another order agree.
  const x = new Membership(rec("X"), { intervalMs: I, random: mulberry32(1) });
  const y = new Membership(rec("Y"), { intervalMs: I, random: mulberry32(2) });
  for (const n of ["P", "Q", "Y"]) x.observe(rec(n), 0);
  for (const n of ["X", "Q", "P"]) y.observe(rec(n), 0);
  assert.equal(x.view, y.view);
  // Suspicion does not change the view (gossip settles it); death does.
  x.linkLost("P", 0);
  assert.equal(x.view, y.view);
  x.receive(gossip("Q", update("P", 1_000, "dead")), 0);
  assert.notEqual(x.view, y.view);
});

// --- dissemination limits and bad input --------------------------------------

Deno.test("an update is piggybacked at most the retransmit limit, then the cluster is at rest", () => {
  const net = cluster(["A", "B", "C", "D"]);
  const a = net.get("A");
  a.updateSelf({ urls: ["ws://A:9002"] }, 0); // the eager push is not sent here
  for (let t = I; t <= 8 * I; t += I) net.tick("A", t);
  let carried = 0;
  for (const { from, msg } of net.log) {
    const updates = (msg as { updates?: Update[] }).updates ?? [];
    if (from === "A") carried += updates.filter((u) => u.name === "A").length;
  }
  // retransmitMult (4) × ceil(log10(4 + 1)) = 4.
  assert.equal(carried, 4);
  assert.equal(a.pending, 0);
  const last = net.tick("A", 9 * I);
  assert.deepEqual(last.map((o) => [o.msg.t, (o.msg as { updates: Update[] }).updates]), [
    ["ping", []],
  ]);
});

Deno.test("maxUpdatesPerMessage caps the piggyback", () => {
  const net = new Net();
  const x = net.add(rec("X"), [rec("Y")], { maxUpdatesPerMessage: 2 });
  x.receive(gossip("Z", ...["P", "Q", "R", "S"].map((n) => update(n, 1, "alive"))), 0);
  const ping = x.tick(I).find((o) => o.msg.t === "ping")!;
  assert.equal((ping.msg as { updates: Update[] }).updates.length, 2);
});

Deno.test("malformed messages and records are ignored", () => {
  const x = new Membership(rec("X"), { intervalMs: I, random: mulberry32(3) });
  const bad: unknown[] = [
    null,
    42,
    {},
    { t: "ping", from: "Y" },
    { t: "nope", from: "Y" },
    { t: "gossip", from: "Y", updates: [{ name: "P", incarnation: "1", state: "alive" }] },
    {
      t: "gossip",
      from: "Y",
      updates: [{ name: "P", incarnation: 1, catalogVersion: 1, state: "zombie" }],
    },
    { t: "records", from: "Y", records: [{ name: "P" }] },
  ];
  for (const msg of bad) assert.deepEqual(x.receive(msg as GossipMessage, 0), []);
  assert.equal(x.members().length, 1);
  assert.deepEqual(x.observe({ name: "P" } as NodeRecord, 0), []);
  assert.throws(() => new Membership(rec("X"), { intervalMs: 0, random: Math.random }), RangeError);
});

// --- Lifeguard: suspicion confirmed by independent suspectors (issue 14) -------

Deno.test("lifeguard: a suspicion starts at the longest timeout and shrinks with each independent confirmation", () => {
  const net = cluster(["A", "B", "C", "D", "E"]);
  const a = net.get("A");
  const min = a.suspicionTimeoutMs; // 4 × max(1, log10 5) × 1 s = 4 s
  assert.equal(min, 4 * I);
  assert.equal(a.suspicionTimeoutAfter(0), 6 * min, "no confirmation: 6 × min");
  assert.equal(
    a.suspicionTimeoutAfter(1),
    Math.floor(6 * min - 5 * min * Math.log(2) / Math.log(3)),
  );
  assert.equal(a.suspicionTimeoutAfter(2), min, "k = suspicionMult - 2 = 2 confirmations: min");
  assert.equal(a.suspicionTimeoutAfter(5), min);
  // A suspects E on its own (its link closed): by [A], the full 24 s.
  net.down.add("E");
  const out = a.linkLost("E", 0);
  const told = (out[0]!.msg as { updates: Update[] }).updates[0]!;
  assert.deepEqual(told.by, ["A"]);
  assert.equal(told.deadlineIn, 6 * min);
  net.deliver("A", out, 0);
  // B hears it by gossip: not a confirmation, the same deadline.
  net.deliver("A", [{ to: "B", msg: gossip("A", told) }], 0);
  const b = net.get("B");
  assert.equal(b.member("E")?.state, "suspect");
  // B's own link to E closes: B confirms (by [A, B]) and gossips it again.
  const confirmed = b.linkLost("E", I);
  assert.deepEqual(confirmed, [], "no new buddy message: E was told already");
  assert.equal(b.pending > 0, true);
  const bUpdate = (b.tick(2 * I).find((o) => o.msg.t === "ping")!.msg as { updates: Update[] })
    .updates.find((u) => u.name === "E")!;
  assert.deepEqual(bUpdate.by, ["A", "B"]);
  assert.equal(bUpdate.deadlineIn, a.suspicionTimeoutAfter(1) - 2 * I, "one confirmation");
  // C confirms too: two confirmations, the deadline is min after the first suspicion.
  net.get("C").receive(gossip("B", bUpdate), 2 * I);
  net.get("C").linkLost("E", 2 * I);
  const cUpdate = (net.get("C").tick(3 * I).find((o) => o.msg.t === "ping")!.msg as {
    updates: Update[];
  }).updates.find((u) => u.name === "E")!;
  assert.deepEqual(cUpdate.by, ["A", "B", "C"]);
  assert.equal(cUpdate.deadlineIn, min - 3 * I);
  // A learns both confirmations and declares E dead at min, not 6 × min.
  a.receive(gossip("C", cUpdate), 3 * I);
  a.tick(min - 1);
  assert.equal(a.member("E")?.state, "suspect");
  a.tick(min);
  assert.equal(a.member("E")?.state, "dead");
});

Deno.test("lifeguard: in a three-node cluster a silent member gets 11.4 intervals (memberlist: 4)", () => {
  const net = cluster(["A", "B", "C"]);
  net.down.add("C");
  let deadAt = -1;
  let suspectedAt = -1;
  for (let t = I; t <= 30 * I && deadAt < 0; t += I) {
    net.tickAll(t);
    if (suspectedAt < 0 && net.get("A").member("C")?.state === "suspect") suspectedAt = t;
    if (net.get("A").member("C")?.state === "dead") deadAt = t;
  }
  const a = net.get("A");
  // One confirmation is possible (B): max − (max − min) · log 2 / log 3.
  const expected = a.suspicionTimeoutAfter(1);
  assert.ok(Math.abs(expected - 11.38 * I) < 0.01 * I, `${expected}`);
  assert.ok(suspectedAt > 0 && deadAt > 0);
  assert.ok(
    deadAt - suspectedAt >= expected - I,
    `dead ${deadAt - suspectedAt} ms after the suspicion`,
  );
  assert.ok(deadAt - suspectedAt <= expected + 2 * I);
  assert.equal(net.get("B").member("C")?.state, "dead", "B declares it dead too");
});

Deno.test("lifeguard: a tick a whole interval late judges nothing, and the node waits longer for acks", () => {
  const net = cluster(["A", "B", "C"]);
  const a = net.get("A");
  for (let t = I; t <= 3 * I; t += I) net.tickAll(t);
  assert.equal(a.awareness, 0);
  // A's event loop is blocked for 5 s: meanwhile B and C cannot be answered,
  // and a suspicion of B that A heard just before runs out.
  a.receive(gossip("C", { ...update("B", 1_000, "suspect"), deadlineIn: 2 * I }), 3 * I);
  net.down.add("A");
  net.get("B").tick(4 * I);
  net.get("C").tick(4 * I);
  net.down.delete("A");
  a.tick(9 * I); // 6 s after the last tick: 5 intervals missed
  assert.equal(a.member("B")?.state, "suspect", "no suspect is declared dead on a late tick");
  assert.equal(a.awareness, 5, "raised by the intervals missed (the ticks of 4 s to 8 s)");
  assert.ok(!net.events.some((e) => e.startsWith("A suspect") && !e.endsWith("B")));
  // With awareness 5, a probe waits 6 rounds for its ack before ping-reqs.
  net.drop = (from) => from === "B" || from === "C";
  const before = net.sent("ping-req", "A").length;
  for (let t = 10 * I; t <= 13 * I; t += I) net.tick("A", t);
  assert.equal(net.sent("ping-req", "A").length, before, "no ping-req within 4 rounds");
  // Acks bring it back down.
  net.drop = () => false;
  for (let t = 14 * I; t <= 40 * I; t += I) net.tickAll(t);
  assert.equal(a.awareness, 0);
});

Deno.test("lifeguard: refuting a suspicion of itself raises a node's awareness", () => {
  const net = cluster(["A", "B"]);
  const b = net.get("B");
  b.receive(gossip("A", { ...update("B", 1_000, "suspect"), by: ["A"] }), I);
  assert.equal(b.self.incarnation, 1_001);
  assert.equal(b.awareness, 1);
});

// --- repair: reconnection, split views, forgotten members (issue 14) -----------

Deno.test("reconnect: a dead member gets this node's full digest every reconnect interval, a left one never", () => {
  const net = cluster(["A", "B", "C"], { reconnectIntervalMs: 10 * I });
  const a = net.get("A");
  a.receive(gossip("Z", update("B", 1_000, "dead")), 0);
  a.receive(gossip("Z", update("C", 1_000, "left")), 0);
  net.down.add("B");
  net.down.add("C");
  for (let t = I; t <= 60 * I; t += I) net.tick("A", t);
  const tries = net.sent("sync", "A", "B");
  // Every 7.5–12.5 s after the first tick: 5 to 8 tries in 60 s.
  assert.ok(tries.length >= 4 && tries.length <= 8, `${tries.length} tries`);
  for (const { msg } of tries) {
    const sync = msg as { reply: boolean; digest: Update[] };
    assert.equal(sync.reply, true, "asks for the other side's digest");
    assert.ok(
      sync.digest.some((u) => u.name === "B" && u.state === "dead"),
      "tells B it is held dead",
    );
  }
  assert.equal(net.sent("sync", "A", "C").length, 0, "a member that left is never tried");
  assert.equal(net.log.filter((s) => s.to === "B" && s.msg.t !== "sync").length, 0);
});

Deno.test("reconnect: dead members are kept reconnectTimeoutMs, then forgotten", () => {
  const net = cluster(["A", "B"], { reconnectIntervalMs: 10 * I, reconnectTimeoutMs: 100 * I });
  const a = net.get("A");
  a.receive(gossip("Z", update("B", 1_000, "dead")), 0);
  net.down.add("B");
  for (let t = I; t < 100 * I; t += I) net.tick("A", t);
  assert.equal(a.member("B")?.state, "dead");
  assert.deepEqual(a.member("B")?.urls, ["ws://B:9001"], "with its URLs");
  net.tick("A", 100 * I);
  assert.equal(a.member("B"), undefined);
  const syncs = net.sent("sync", "A", "B").length;
  for (let t = 101 * I; t <= 150 * I; t += I) net.tick("A", t);
  assert.equal(net.sent("sync", "A", "B").length, syncs, "no try once forgotten");
  // The defaults: a day for the dead, as long for those that left.
  const x = new Membership(rec("X"), { intervalMs: I, random: mulberry32(1), members: [rec("Y")] });
  x.receive(gossip("Z", update("Y", 1_000, "dead")), 0);
  x.tick(86_400_000 - 1);
  assert.equal(x.member("Y")?.state, "dead");
  x.tick(86_400_000);
  assert.equal(x.member("Y"), undefined);
});

Deno.test("repair: both halves of a partition hold each other dead, and one reconnect merges them", () => {
  const names = ["A", "B", "C", "D", "E"];
  const net = cluster(names, { reconnectIntervalMs: 20 * I });
  const side = (n: string) => (n === "B" || n === "C" ? 1 : 0);
  net.drop = (from, to) => side(from) !== side(to);
  let t = 0;
  const holdsDead = (n: string) =>
    names.filter((o) => side(o) !== side(n)).every((o) => net.get(n).member(o)?.state === "dead");
  while (!names.every(holdsDead)) {
    t += I;
    net.tickAll(t);
    assert.ok(t < 60 * I, "each half declares the other dead");
  }
  assert.ok(
    !net.events.some((e) => {
      const [observer, type, member] = e.split(" ");
      return type === "dead" && side(observer!) === side(member!);
    }),
    "no one is declared dead by its own half",
  );
  net.drop = () => false;
  const healed = t;
  const eventsAtHeal = net.events.length;
  const merged = () =>
    names.every((n) => names.every((o) => net.get(n).member(o)?.state === "alive"));
  while (!merged()) {
    t += I;
    net.tickAll(t);
    assert.ok(t - healed <= 30 * I, "merged within 1.25 reconnect intervals and a few rounds");
  }
  assert.ok(net.sent("sync").some((s) => side(s.from) !== side(s.to)), "through a reconnect");
  assert.ok(
    !net.events.slice(eventsAtHeal).some((e) => e.includes(" dead ")),
    "no one is declared dead after the heal",
  );
});

Deno.test("repair: a sync's dead is only suspect here, told at once; its later deaths do not count", () => {
  const net = cluster(["A", "B", "C"]);
  const a = net.get("A");
  // B's digest, from the other half of a split: C dead at C's incarnation.
  const digest = [update("B", 1_000, "alive"), update("C", 1_000, "dead")];
  const out = a.receive({ t: "sync", from: "B", digest, reply: false }, I);
  assert.equal(a.member("C")?.state, "suspect", "suspect, not dead");
  const tell = out.find((o) => o.to === "C" && o.msg.t === "gossip");
  assert.ok(tell, "C is told at once, so it refutes");
  const told = (tell.msg as { updates: Update[] }).updates[0]!;
  assert.equal(told.deadlineIn, a.suspicionTimeoutAfter(0), "the full timeout");
  assert.equal(told.by, undefined, "nobody's own evidence");
  // The same death reported again by gossip (the other half's stale news) does not kill it.
  a.receive(gossip("D", { ...update("C", 1_000, "dead") }), 2 * I);
  assert.equal(a.member("C")?.state, "suspect");
  // C refutes: alive everywhere.
  net.deliver("A", out, I);
  assert.equal(net.get("C").self.incarnation, 1_001);
  net.tick("C", 3 * I);
  for (let t = 4 * I; t <= 8 * I; t += I) net.tickAll(t);
  assert.equal(a.member("C")?.state, "alive");
  assert.equal(a.member("C")?.incarnation, 1_001);
});

Deno.test("repair: the deaths a member held dead reports are suspicions here", () => {
  const net = cluster(["A", "B", "C"]);
  const a = net.get("A");
  a.receive(gossip("Z", update("B", 1_000, "dead")), 0);
  // B, held dead here, is talking: its report of C's death is a suspicion.
  const out = a.receive(gossip("B", update("C", 1_000, "dead")), I);
  assert.equal(a.member("C")?.state, "suspect");
  assert.ok(out.some((o) => o.to === "C"), "C is told");
  assert.ok(out.some((o) => o.to === "B"), "B is told it is held dead");
  // From a member held alive, a death is a death.
  a.receive(gossip("C", update("B", 1_000, "alive")), I);
  const x = net.add(rec("X"), [rec("Y"), rec("W")]);
  x.receive(gossip("W", update("Y", 1_000, "dead")), I);
  assert.equal(x.member("Y")?.state, "dead");
});

Deno.test("repair: news that a forgotten member is alive brings it back; a left tombstone stops a stale rumour", () => {
  const net = cluster(["A", "B", "C"], { reconnectTimeoutMs: 10 * I, tombstoneMs: 10 * I });
  const a = net.get("A");
  a.receive(gossip("Z", update("B", 1_000, "dead")), 0);
  a.tick(11 * I);
  assert.equal(a.member("B"), undefined, "forgotten");
  // B was only partitioned away: alive at its incarnation, from C.
  const out = a.receive(gossip("C", update("B", 1_000, "alive")), 12 * I);
  assert.ok(out.some((o) => o.to === "C" && o.msg.t === "pull"), "pulls its record");
  net.deliver("A", out, 12 * I);
  assert.equal(a.member("B")?.state, "alive");
  // C leaves; a stale rumour of C alive at its old incarnation loses to the tombstone.
  net.deliver("C", net.get("C").leave(13 * I), 13 * I);
  assert.equal(a.member("C")?.state, "left");
  a.receive(gossip("B", update("C", 1_000, "alive")), 14 * I);
  assert.equal(a.member("C")?.state, "left");
  // A restart outranks the tombstone.
  a.receive(gossip("B", update("C", 9_000, "alive", 9_000)), 15 * I);
  assert.equal(a.member("C")?.state, "alive");
});

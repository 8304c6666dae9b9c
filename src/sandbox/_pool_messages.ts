// Copyright 2026 the mpreg authors. MIT license.
/**
 * Messages to and from the processes: batching per turn, answers and errors
 * matched to their calls. Private to the pool.
 *
 * @module
 */
import {
  AppError,
  FunctionError,
  InternalError,
  isAppErrorCode,
  PermissionDeniedError,
  ProtocolError,
  type RpcError,
} from "../protocol/errors.ts";
import {
  type PendingCall,
  type PoolState,
  type PoolWorker,
  settle,
  terminate,
} from "./_pool_state.ts";
import type { FromWorker, ToWorker, WireFunctionError } from "./_protocol.ts";
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import { cancel } from "./_pool_processes.ts";
import { SandboxStream } from "./_pool_stream.ts";

/** Queues a message for a process; the turn's batch goes in one frame. */
export function send(
  s: PoolState,
  worker: PoolWorker,
  message: ToWorker,
): void {
  worker.outbox.push(message);
  if (worker.outbox.length === 1) schedule(s, worker);
}

/** Marks a process as having a batch to send, queuing the flush once per turn. */
export function schedule(
  s: PoolState,
  worker: PoolWorker,
): void {
  s.dirty.push(worker);
  if (!s.flushQueued) {
    s.flushQueued = true;
    queueMicrotask(s.flushTask ??= () => flush(s));
  }
}

/** Sends every batch queued in this turn. */
export function flush(s: PoolState): void {
  s.flushQueued = false;
  const dirty = s.dirty;
  s.dirty = [];
  for (const worker of dirty) {
    const batch = worker.outbox;
    worker.outbox = [];
    worker.batching = false;
    if (worker.dead || batch.length === 0) continue;
    try {
      worker.process.send(batch);
    } catch {
      sendOneByOne(s, worker, batch);
    }
  }
}

/** A batch failed to encode: send each message alone and fail the calls that cannot be sent. */
export function sendOneByOne(
  s: PoolState,
  worker: PoolWorker,
  batch: ToWorker[],
): void {
  for (const message of batch) {
    try {
      worker.process.send([message]);
    } catch (err) {
      if (!Array.isArray(message)) continue;
      const pending = worker.pending.get(message[0]);
      if (pending === undefined) continue;
      settle(s, worker, pending);
      if (!pending.answered) {
        const fun = pending.entry?.name;
        pending.reject(
          new InternalError(
            `Step "${pending.step}" (${fun}) failed: its arguments cannot be sent to the sandbox: ${
              err instanceof Error ? err.message : err
            }`,
            { details: { step: pending.step, fun }, cause: err },
          ),
        );
      }
    }
  }
}

/** Matches a process's answers to their calls; an answer to no call kills the process. */
export function receive(
  s: PoolState,
  worker: PoolWorker,
  messages: FromWorker[],
): void {
  if (worker.dead) return;
  worker.lastAnswer = Date.now();
  for (const message of messages) {
    if (Array.isArray(message)) {
      const pending = worker.pending.get(message[0]);
      if (pending === undefined) return violation(worker, message[0]);
      settle(s, worker, pending);
      if (pending.stream !== undefined) pending.stream.end();
      else if (pending.streamed === true) {
        return violation(worker, message[0], `ended call ${message[0]} as a stream it never began`);
      } else if (!pending.answered) pending.resolve(message[1]);
    } else if ("chunk" in message) {
      const pending = worker.pending.get(message.chunk);
      if (pending?.stream === undefined) {
        return violation(
          worker,
          message.chunk,
          `sent a chunk for call ${message.chunk}, which is not a stream under way`,
        );
      }
      // Chunks sent before the process heard of a cancel are dropped.
      if (pending.answered) continue;
      if (!pending.stream.chunk(message.value)) {
        return violation(
          worker,
          message.chunk,
          `sent a chunk of call ${message.chunk} past its credit`,
        );
      }
    } else if ("stream" in message) {
      const pending = worker.pending.get(message.stream);
      if (pending === undefined || !pending.streamed || pending.stream !== undefined) {
        return violation(
          worker,
          message.stream,
          `began a stream for call ${message.stream}, which was not asked for one`,
        );
      }
      const stream = new SandboxStream(
        s,
        worker,
        pending,
        (reason) => cancel(s, worker, pending, reason),
      );
      pending.stream = stream;
      worker.streams++;
      // From now on the call's failures (its producer's error, a cancel, the
      // process's end) are the stream's.
      pending.reject = (reason) => stream.fail(reason);
      if (!pending.answered) pending.resolve(stream);
    } else if ("more" in message || "drop" in message) {
      const id = "more" in message ? message.more : message.drop;
      const input = worker.pending.get(id)?.inputs?.[message.k];
      // About a call that ended, or a stream it ended: nothing to do.
      if (input === undefined) continue;
      if (!("more" in message)) {
        input.cancel(new Error("The sandboxed function cancelled its stream argument"));
      } else if (Number.isInteger(message.n) && message.n >= 1 && message.n <= MAX_STREAM_CREDIT) {
        input.grant(message.n);
      } else {
        return violation(
          worker,
          id,
          `granted ${message.n} chunks of a stream argument of call ${id}`,
        );
      }
    } else if ("id" in message) {
      const pending = worker.pending.get(message.id);
      if (pending === undefined) return violation(worker, message.id);
      settle(s, worker, pending);
      if (pending.entry === undefined) {
        pending.reject(message.error);
        continue;
      }
      const error = answerError(s, pending, message.error);
      if (!pending.answered) pending.reject(error);
    } else if ("progress" in message) {
      // A report of a call still in flight (the process sends none after its answer).
      const pending = worker.pending.get(message.progress);
      if (pending === undefined) return violation(worker, message.progress);
      if (pending.answered || pending.progress === undefined) continue;
      try {
        pending.progress(message.value);
      } catch {
        // The node's trouble, not the process's.
      }
    } else {
      // `ready`: the process checked it is the first message and carries its token.
      worker.ready = true;
      s.coldStartMs = Math.round(performance.now() - worker.process.startedAt);
    }
  }
  if (worker.retiring && worker.pending.size === 0) terminate(s, worker);
}

/** An answer nobody asked for (or `what` else it did): the process is not speaking the protocol. */
export function violation(
  worker: PoolWorker,
  id: number,
  what?: string,
): void {
  worker.process.kill(
    what === undefined
      ? `answered call ${id}, which it was never sent or had answered already`
      : what,
  );
}

/** The mpreg error for a function's error: a denial, a load failure or what it threw (a denial is counted). */
export function answerError(
  s: PoolState,
  pending: PendingCall,
  error: WireFunctionError,
): RpcError {
  const step = pending.step;
  const fun = pending.entry?.name;
  if (error.denied !== undefined) {
    s.denials++;
    const when = error.phase === "load" ? " while loading its module" : "";
    return new PermissionDeniedError(
      `Step "${step}" (${fun}) was denied ${error.denied}${when}: the function does not declare it (profile ${s.profile})`,
      { details: { step, fun, denied: error.denied }, cause: rebuild(error) },
    );
  }
  if (error.app !== undefined && isAppErrorCode(error.app.code)) {
    return new AppError(error.app.code, error.message, {
      details: error.app.details,
      cause: rebuild(error),
    });
  }
  if (error.phase === "arguments") {
    // The call did not match the function's parameters: it did not run.
    return new ProtocolError(`Function "${fun}" ${error.message} (step "${step}")`, {
      details: {
        step,
        fun,
        expected: { required: error.call?.required, max: error.call?.max },
        received: error.call?.received,
        kwargs: error.call?.kwargs,
      },
    });
  }
  if (error.phase === "load") {
    const where = pending.entry?.module === undefined ? "" : ` from ${pending.entry.module.url}`;
    return new InternalError(
      `Step "${step}" (${fun}) failed: the sandboxed function could not be loaded${where}: ${error.name}: ${error.message}`,
      { details: { step, fun, name: error.name, message: error.message }, cause: rebuild(error) },
    );
  }
  const details: Record<string, unknown> = {
    step,
    fun,
    name: error.name,
    message: error.message,
  };
  if (s.debug && error.stack !== undefined) details.stack = error.stack;
  return new FunctionError(`Step "${step}" (${fun}) failed: ${error.name}: ${error.message}`, {
    details,
    cause: rebuild(error),
  });
}

/** A local Error standing for the function's error (kept as `cause`, never sent). */
export function rebuild(error: WireFunctionError): Error {
  const err = new Error(error.message);
  err.name = error.name;
  if (error.stack !== undefined) err.stack = error.stack;
  return err;
}

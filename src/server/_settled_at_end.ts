// Copyright 2026 the mpreg authors. MIT license.
/**
 * A streamed step's end, for what lasts until it (its deadline, its
 * progress reports). Private to the server.
 *
 * @module
 */
import { isStreamSource, type StreamSource } from "../registry/stream_source.ts";

/**
 * A stream source that calls `done` when it ends, fails or is cancelled,
 * before its sink hears of it; any other value calls `done` at once.
 *
 * @param value A step's value.
 * @param done Called once the stream is over.
 * @returns The value, or a stream source in its place.
 */
export function settledAtEnd(value: unknown, done: () => void): unknown {
  if (!isStreamSource(value)) {
    done();
    return value;
  }
  return {
    streamSource: true,
    credit: (n, bytes) => bytes === undefined ? value.credit(n) : value.credit(n, bytes),
    cancel: (reason) => {
      done();
      value.cancel(reason);
    },
    start: (sink, credit, bytes) =>
      value.start(
        {
          // Chunks pass through unchanged: encoded ones too, when the sink takes them.
          takesEncoded: sink.takesEncoded === true,
          chunk: (chunk) => sink.chunk(chunk),
          end: () => {
            done();
            sink.end();
          },
          error: (err) => {
            done();
            sink.error(err);
          },
        },
        credit,
        bytes,
      ),
  } satisfies StreamSource;
}

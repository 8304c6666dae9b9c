// Copyright 2026 the mpreg authors. MIT license.
// WebSocket close codes mpreg gives a meaning of its own (RFC 6455 §7.4.2
// leaves 4000–4999 to applications).

/**
 * The close code of a node that stops gracefully. It closes a client
 * connection only once every request it read there has been answered
 * (results, errors, and a `ConnectionError` for a request its drain timeout
 * cut short), and reads nothing after its close frame: a call the client
 * still waits for when this code arrives never reached the node, so the
 * client may send it elsewhere.
 */
export const CLOSE_DRAINED = 4014;

// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page's lenient input parser, as browser JavaScript source.
 *
 * The page's text areas take JSON, or the YAML people write for steps: a
 * block list (`- { name: a, fun: echo, args: [1] }`, or `- name: a` with
 * indented `key: value` lines), flow mappings and lists with bare words,
 * and `#` comments. It defines `parseLoose(text, empty)` and
 * `parseSteps(text)` in the page's module script. Private to the page.
 *
 * @module
 */

/** Browser JavaScript: `parseLoose()` and `parseSteps()`. No backticks, no `${`. */
export const PARSE_SCRIPT: string = String.raw`
class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = "InputError";
  }
}

function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function scalar(raw) {
  if (raw === "" || raw === "~" || raw === "null") return null;
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

function flow(src) {
  let i = 0;
  const fail = (what) => {
    throw new InputError("Expected " + what + " at column " + (i + 1) + " of: " + src.trim());
  };
  const skip = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const quoted = () => {
    const q = src[i];
    let j = i + 1;
    let out = "";
    for (;;) {
      if (j >= src.length) fail("a closing " + q);
      const c = src[j];
      if (q === '"' && c === "\\") {
        j += 2;
        continue;
      }
      if (c === q) {
        if (q === "'" && src[j + 1] === "'") {
          out += "'";
          j += 2;
          continue;
        }
        break;
      }
      if (q === "'") out += c;
      j++;
    }
    const text = q === '"' ? JSON.parse(src.slice(i, j + 1)) : out;
    i = j + 1;
    return text;
  };
  const bare = (stops) => {
    const start = i;
    while (i < src.length && !stops.includes(src[i])) i++;
    return src.slice(start, i).trim();
  };
  const value = (stops) => {
    skip();
    const c = src[i];
    if (c === "{") {
      i++;
      const out = {};
      skip();
      if (src[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        skip();
        const key = src[i] === '"' || src[i] === "'" ? quoted() : bare(":,}");
        skip();
        if (src[i] !== ":") fail("':' after the key " + JSON.stringify(key));
        i++;
        put(out, key, value(",}"));
        skip();
        if (src[i] === ",") {
          i++;
          continue;
        }
        if (src[i] === "}") {
          i++;
          return out;
        }
        fail("',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      skip();
      if (src[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(",]"));
        skip();
        if (src[i] === ",") {
          i++;
          continue;
        }
        if (src[i] === "]") {
          i++;
          return out;
        }
        fail("',' or ']'");
      }
    }
    if (c === '"' || c === "'") return quoted();
    return scalar(bare(stops));
  };
  const out = value("");
  skip();
  if (i < src.length) fail("the end");
  return out;
}

function put(target, key, value) {
  if (key === "__proto__") throw new InputError("The key __proto__ is not allowed");
  target[key] = value;
}

function checkKeys(value) {
  if (Array.isArray(value)) value.forEach(checkKeys);
  else if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) {
      if (key === "__proto__") throw new InputError("The key __proto__ is not allowed");
      checkKeys(value[key]);
    }
  }
}

function blockMapping(lines) {
  const out = {};
  for (const line of lines) {
    const m = /^\s*("[^"]*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*)|\s*)$/.exec(line);
    if (m === null) throw new InputError("Expected key: value in: " + line.trim());
    const key = /^["']/.test(m[1]) ? flow(m[1]) : m[1];
    put(out, key, m[2] === undefined || m[2].trim() === "" ? null : flow(m[2]));
  }
  return out;
}

function parseLoose(text, empty) {
  const lines = text.split(/\r?\n/).map(stripComment).filter((l) => l.trim() !== "");
  if (lines.length === 0) {
    if (empty !== undefined) return empty;
    throw new InputError("Nothing to send");
  }
  const joined = lines.join("\n").trim();
  try {
    const value = JSON.parse(joined);
    checkKeys(value);
    return value;
  } catch (err) {
    if (err instanceof InputError) throw err;
  }
  if (!/^-(\s|$)/.test(joined)) return flow(joined);
  const items = [];
  for (const line of lines) {
    const m = /^-(?:\s+(.*)|\s*)$/.exec(line.trim());
    if (m !== null && !/^\s/.test(line)) items.push([m[1] ?? ""]);
    else if (items.length > 0) items[items.length - 1].push(line);
    else throw new InputError("Expected a list item '- ...' in: " + line.trim());
  }
  return items.map(([first, ...rest]) => {
    if (rest.length === 0 && !/^[^"'{\[][^:]*:(\s|$)/.test(first)) return flow(first);
    if (/^[{\[]/.test(first.trim())) return flow([first, ...rest].join("\n"));
    return blockMapping([first, ...rest]);
  });
}

function parseSteps(text) {
  const steps = parseLoose(text);
  if (!Array.isArray(steps) || steps.length === 0) {
    throw new InputError("Steps must be a non-empty list of { name, fun, args, kwargs, locs }");
  }
  steps.forEach((step, i) => {
    if (step === null || typeof step !== "object" || Array.isArray(step)) {
      throw new InputError("Step " + (i + 1) + " is not a mapping");
    }
    if (typeof step.name !== "string" || typeof step.fun !== "string") {
      throw new InputError("Step " + (i + 1) + " needs a name and a fun");
    }
    if (step.args === null) delete step.args;
    if (step.args !== undefined && !Array.isArray(step.args)) step.args = [step.args];
  });
  return steps;
}
`;

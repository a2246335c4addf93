// Chrome DevTools as the installed Chromium ships it: a headless browser
// started with remote debugging (on 127.0.0.1: nothing leaves the machine)
// serves its own protocol description at /json/protocol, and its bundled
// DevTools frontend at /devtools/. `checkCdpValue` validates a value
// against one of the protocol's types.

/** A type or property of the protocol description. */
interface CdpType {
  id?: string;
  name?: string;
  type?: string;
  $ref?: string;
  optional?: boolean;
  enum?: string[];
  items?: CdpType;
  properties?: CdpType[];
}

/** The protocol's types by qualified id (`Domain.Type`). */
export type CdpTypes = Map<string, CdpType>;

/** How long the browser may take to start and write DevToolsActivePort. */
const START_MS = 30_000;

/** A headless Chromium with remote debugging, on 127.0.0.1. */
export interface DevToolsSession {
  /** The protocol's types, as this browser defines them (`/json/protocol`). */
  protocol(): Promise<CdpTypes>;
  /**
   * Evaluates `expression` (which may await) in the DevTools frontend that
   * this browser bundles (`/devtools/devtools_app.html`, inspecting a blank
   * page), and returns its result, which must be a string.
   */
  evaluateInFrontend(expression: string): Promise<string>;
}

/** Runs `body` with a fresh headless Chromium, stopped afterwards. */
export async function withDevTools<T>(body: (session: DevToolsSession) => Promise<T>): Promise<T> {
  const profile = await Deno.makeTempDir({ prefix: "mod-alloc-cdp-" });
  const browser = new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const base = `http://127.0.0.1:${await activePort(profile)}`;
    return await body({
      protocol: () => readProtocol(base),
      evaluateInFrontend: (expression) => evaluateInFrontend(base, expression),
    });
  } finally {
    browser.kill("SIGTERM");
    await browser.status;
    await removeProfile(profile);
  }
}

/** Removes the browser's profile directory: its helper processes may still be writing there for a moment. */
async function removeProfile(profile: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      return await Deno.remove(profile, { recursive: true });
    } catch (error) {
      if (attempt === 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function readProtocol(base: string): Promise<CdpTypes> {
  const protocol = await (await fetch(`${base}/json/protocol`)).json() as {
    domains: { domain: string; types?: CdpType[] }[];
  };
  const types: CdpTypes = new Map();
  for (const domain of protocol.domains) {
    for (const type of domain.types ?? []) types.set(`${domain.domain}.${type.id}`, type);
  }
  return types;
}

/** How long the frontend may take to load its modules before an evaluation. */
const FRONTEND_MS = 30_000;

async function evaluateInFrontend(base: string, expression: string): Promise<string> {
  const targets = await (await fetch(`${base}/json/list`)).json() as { id: string; url: string }[];
  const blank = targets.find((target) => target.url === "about:blank");
  if (blank === undefined) throw new Error("no about:blank page to inspect");
  const host = base.slice("http://".length);
  const frontend = `${base}/devtools/devtools_app.html?ws=${host}/devtools/page/${blank.id}`;
  const opened = await fetch(`${base}/json/new?${encodeURIComponent(frontend)}`, { method: "PUT" });
  const { webSocketDebuggerUrl } = await opened.json() as { webSocketDebuggerUrl: string };
  const socket = new WebSocket(webSocketDebuggerUrl);
  const replies = new Map<number, (reply: CdpReply) => void>();
  socket.onmessage = (event) => {
    const reply = JSON.parse(event.data) as CdpReply;
    replies.get(reply.id)?.(reply);
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 1;
  const call = (method: string, params: unknown) =>
    new Promise<CdpReply>((resolve) => {
      const id = next++;
      replies.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    // The frontend's modules load after the page: retry until its import works.
    const deadline = Date.now() + FRONTEND_MS;
    while (true) {
      const reply = await call("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
      const value = reply.result?.result?.value;
      if (typeof value === "string") return value;
      const why = reply.result?.exceptionDetails?.exception?.description ?? JSON.stringify(reply);
      if (Date.now() > deadline) throw new Error(`the DevTools frontend could not evaluate: ${why}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    socket.close();
  }
}

interface CdpReply {
  id: number;
  result?: {
    result?: { value?: unknown };
    exceptionDetails?: { exception?: { description?: string } };
  };
}

async function activePort(profile: string): Promise<number> {
  const deadline = Date.now() + START_MS;
  while (Date.now() < deadline) {
    try {
      const port = Number((await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n")[0]);
      if (port > 0) return port;
    } catch {
      // not written yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`chromium wrote no DevToolsActivePort within ${START_MS} ms`);
}

/**
 * The problems of `value` as an instance of protocol type `id` (empty when
 * it conforms): missing required properties, properties the type does not
 * define, wrong primitive types, enum values, array items.
 */
export function checkCdpValue(types: CdpTypes, id: string, value: unknown, path = "$"): string[] {
  const type = types.get(id);
  if (type === undefined) return [`${path}: the protocol has no type ${id}`];
  return checkAgainst(types, id.slice(0, id.indexOf(".")), type, value, path);
}

function checkAgainst(types: CdpTypes, domain: string, type: CdpType, value: unknown, path: string): string[] {
  if (type.$ref !== undefined) {
    const ref = type.$ref.includes(".") ? type.$ref : `${domain}.${type.$ref}`;
    return checkCdpValue(types, ref, value, path);
  }
  switch (type.type) {
    case "string":
      if (typeof value !== "string") return [`${path}: not a string`];
      return type.enum !== undefined && !type.enum.includes(value) ? [`${path}: ${value} not in ${type.enum}`] : [];
    case "integer":
      return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? [] : [`${path}: not a number`];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${path}: not a boolean`];
    case "array":
      if (!Array.isArray(value)) return [`${path}: not an array`];
      return value.flatMap((item, i) => checkAgainst(types, domain, type.items!, item, `${path}[${i}]`));
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: not an object`];
      const record = value as Record<string, unknown>;
      const known = new Set((type.properties ?? []).map((p) => p.name));
      const problems = Object.keys(record).filter((key) => type.properties !== undefined && !known.has(key))
        .map((key) => `${path}.${key}: not a property of the type`);
      for (const property of type.properties ?? []) {
        const at = `${path}.${property.name}`;
        if (!(property.name! in record)) {
          if (!property.optional) problems.push(`${at}: missing`);
          continue;
        }
        problems.push(...checkAgainst(types, domain, property, record[property.name!], at));
      }
      return problems;
    }
    default:
      return [];
  }
}

// The Chrome DevTools Protocol as the installed Chromium defines it: a
// headless browser started with remote debugging serves its own protocol
// description at /json/protocol (on 127.0.0.1, nothing leaves the machine).
// `checkCdpValue` validates a value against one of its types.

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

/** Starts headless Chromium with remote debugging, reads its protocol, and stops it. */
export async function chromiumProtocol(): Promise<CdpTypes> {
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
    const port = await activePort(profile);
    const response = await fetch(`http://127.0.0.1:${port}/json/protocol`);
    const protocol = await response.json() as { domains: { domain: string; types?: CdpType[] }[] };
    const types: CdpTypes = new Map();
    for (const domain of protocol.domains) {
      for (const type of domain.types ?? []) types.set(`${domain.domain}.${type.id}`, type);
    }
    return types;
  } finally {
    browser.kill("SIGTERM");
    await browser.status;
    await Deno.remove(profile, { recursive: true });
  }
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

import { z } from 'zod';
import { CachePolicySchema, ScopesSchema, SERVICE_NAME_PATTERN } from '@fabric/contracts';
import { ConfigError, intEnv, loadConfig } from '@fabric/platform-config';

/** Raised at start-up for a `BRIDGE_*` setting that cannot be used: a configuration error, told in one line. */
export class BridgeConfigError extends ConfigError {
  constructor(message: string) {
    super(`Invalid configuration:\n  ${message}`, [message]);
  }
}

/** Splits a command line into words: whitespace separates, '…' and "…" quote, a backslash escapes one character. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < line.length) word += line[++index];
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (char === '\\' && index + 1 < line.length) {
      word = (word ?? '') + line[++index];
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote) throw new BridgeConfigError(`BRIDGE_COMMAND has an unclosed ${quote}`);
  if (word !== undefined) words.push(word);
  return words;
}

const json = <S extends z.ZodType>(name: string, schema: S) =>
  z
    .string()
    .optional()
    .transform((text, ctx): z.infer<S> | undefined => {
      if (text === undefined || text.trim() === '') return undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `${name} is not JSON` });
        return z.NEVER;
      }
      const parsed = schema.safeParse(value);
      if (parsed.success) return parsed.data as z.infer<S>;
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', message: `${[name, ...issue.path].join('.')}: ${issue.message}` });
      return z.NEVER;
    });

/** Environment of the bridge (beside the kit's), read once at start-up. */
export const bridgeEnvSchema = z
  .object({
    /** The service name in the catalog: subject token and tool prefix (`everything` → `everything_echo`). */
    BRIDGE_NAME: z.string().regex(SERVICE_NAME_PATTERN, 'must match ^[a-z][a-z0-9-]{0,62}$'),
    /** A stdio MCP server's command line, run once per pooled process. */
    BRIDGE_COMMAND: z.string().trim().min(1).optional(),
    /** Working directory of the stdio server; a fresh temporary directory of each bridge when absent. */
    BRIDGE_CWD: z.string().min(1).optional(),
    /** A remote Streamable HTTP MCP server's endpoint. */
    BRIDGE_URL: z.url().optional(),
    /** Headers sent to `BRIDGE_URL` (its credentials), a JSON object of strings; never logged. */
    BRIDGE_HEADERS: json('BRIDGE_HEADERS', z.record(z.string(), z.string())),
    /** Upstream connections (processes, or HTTP sessions) per bridge replica. */
    BRIDGE_POOL: intEnv(2, 1, 256),
    /**
     * Calls one connection runs at once. 1 (the default) attributes every progress, log, sampling and
     * elicitation of the upstream to the one call it runs; raise it only for upstreams that never call back.
     */
    BRIDGE_CALLS_PER_PROCESS: intEnv(1, 1, 1024),
    /** Interval of the `ping` that finds a hung upstream; one unanswered within `BRIDGE_PING_TIMEOUT_MS` restarts it. */
    BRIDGE_PING_MS: intEnv(5_000, 100),
    BRIDGE_PING_TIMEOUT_MS: intEnv(5_000, 50),
    /** First and longest pause between restarts of an upstream that keeps failing (doubling in between). */
    BRIDGE_RESTART_MIN_MS: intEnv(250, 10),
    BRIDGE_RESTART_MAX_MS: intEnv(30_000, 10),
    /** How long a connection may take to start and initialise. */
    BRIDGE_CONNECT_TIMEOUT_MS: intEnv(20_000, 100),
    /** Cache policies of bridged tools, by tool-name glob (`*`, `?`): `{"get-*": {"ttlMs": 60000}}`; first match wins. */
    BRIDGE_CACHE: json('BRIDGE_CACHE', z.record(z.string(), CachePolicySchema)),
    /** OAuth scopes of bridged tools, resources and prompts, by name glob: `{"*": ["everything:use"]}`. */
    BRIDGE_SCOPES: json('BRIDGE_SCOPES', z.record(z.string(), ScopesSchema)),
    /** Version published in the manifest (the upstream's own version when absent). */
    BRIDGE_VERSION: z.string().min(1).optional(),
  })
  .refine((env) => (env.BRIDGE_COMMAND === undefined) !== (env.BRIDGE_URL === undefined), {
    message: 'set exactly one of BRIDGE_COMMAND (a stdio server) and BRIDGE_URL (a Streamable HTTP server)',
    path: ['BRIDGE_COMMAND'],
  });

export type BridgeEnv = z.infer<typeof bridgeEnvSchema>;

/** How to reach the upstream. */
export type UpstreamTarget =
  | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { kind: 'http'; url: URL; headers: Record<string, string> };

export interface BridgeConfig {
  name: string;
  version?: string;
  target: UpstreamTarget;
  pool: number;
  callsPerProcess: number;
  pingMs: number;
  pingTimeoutMs: number;
  restartMinMs: number;
  restartMaxMs: number;
  connectTimeoutMs: number;
  cache: Record<string, z.infer<typeof CachePolicySchema>>;
  scopes: Record<string, string[]>;
}

/** `BRIDGE_ENV_FOO=bar` → `FOO=bar`: the only variables of the bridge the stdio server sees (beside PATH, HOME…). */
export function upstreamEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('BRIDGE_ENV_') && key.length > 'BRIDGE_ENV_'.length && value !== undefined)
      passed[key.slice('BRIDGE_ENV_'.length)] = value;
  }
  return passed;
}

/** Reads and checks the bridge's configuration from the environment. */
export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const parsed = loadConfig(bridgeEnvSchema, env);
  let target: UpstreamTarget;
  if (parsed.BRIDGE_COMMAND) {
    const [command, ...args] = splitCommandLine(parsed.BRIDGE_COMMAND);
    if (!command) throw new BridgeConfigError('BRIDGE_COMMAND names no program');
    target = {
      kind: 'stdio',
      command,
      args,
      env: upstreamEnv(env),
      ...(parsed.BRIDGE_CWD ? { cwd: parsed.BRIDGE_CWD } : {}),
    };
  } else {
    target = { kind: 'http', url: new URL(parsed.BRIDGE_URL as string), headers: parsed.BRIDGE_HEADERS ?? {} };
  }
  if (parsed.BRIDGE_RESTART_MAX_MS < parsed.BRIDGE_RESTART_MIN_MS)
    throw new BridgeConfigError('BRIDGE_RESTART_MAX_MS must be at least BRIDGE_RESTART_MIN_MS');
  return {
    name: parsed.BRIDGE_NAME,
    ...(parsed.BRIDGE_VERSION ? { version: parsed.BRIDGE_VERSION } : {}),
    target,
    pool: parsed.BRIDGE_POOL,
    callsPerProcess: parsed.BRIDGE_CALLS_PER_PROCESS,
    pingMs: parsed.BRIDGE_PING_MS,
    pingTimeoutMs: parsed.BRIDGE_PING_TIMEOUT_MS,
    restartMinMs: parsed.BRIDGE_RESTART_MIN_MS,
    restartMaxMs: parsed.BRIDGE_RESTART_MAX_MS,
    connectTimeoutMs: parsed.BRIDGE_CONNECT_TIMEOUT_MS,
    cache: parsed.BRIDGE_CACHE ?? {},
    scopes: parsed.BRIDGE_SCOPES ?? {},
  };
}

/** Whether `name` matches a glob of `*` (any run of characters) and `?` (one character). */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(name);
}

/** The value of the first glob (in declaration order) matching `name`. */
export function firstMatch<T>(byGlob: Record<string, T>, name: string): T | undefined {
  for (const [glob, value] of Object.entries(byGlob)) if (globMatches(glob, name)) return value;
  return undefined;
}

import { z } from 'zod';
import { ConfigError, baseEnvSchema, boolEnv, intEnv, listEnv, loadConfig } from './config';

describe('loadConfig', () => {
  it('fills every default of the base schema from an empty environment', () => {
    expect(loadConfig(baseEnvSchema, {})).toEqual({
      PORT: 3000,
      NATS_URL: 'nats://127.0.0.1:4222',
      FABRIC_NAMESPACE: 'fabric',
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: 10_000,
      JETSTREAM_REPLICAS: 1,
    });
  });

  it('coerces numeric variables from their string values', () => {
    const config = loadConfig(baseEnvSchema, { PORT: '8080', SHUTDOWN_GRACE_MS: '250' });
    expect(config.PORT).toBe(8080);
    expect(config.SHUTDOWN_GRACE_MS).toBe(250);
  });

  it('does not read an empty numeric variable as 0 (`PORT=` must not mean "any free port")', () => {
    // Either outcome is sound: the default (an empty variable counts as unset) or a ConfigError.
    let port: number | undefined;
    try {
      port = loadConfig(baseEnvSchema, { PORT: '' }).PORT;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return;
    }
    expect(port).toBe(3000);
  });

  it('ignores variables the schema does not name', () => {
    expect(loadConfig(baseEnvSchema, { HOME: '/root', PATH: '/bin' })).not.toHaveProperty('HOME');
  });

  it('reads process.env when no environment is given', () => {
    const previous = process.env.FABRIC_NAMESPACE;
    process.env.FABRIC_NAMESPACE = 'from-process';
    try {
      expect(loadConfig(baseEnvSchema).FABRIC_NAMESPACE).toBe('from-process');
    } finally {
      if (previous === undefined) delete process.env.FABRIC_NAMESPACE;
      else process.env.FABRIC_NAMESPACE = previous;
    }
  });

  it('throws a ConfigError that lists every offending variable, not just the first', () => {
    const env = { PORT: 'eighty', LOG_LEVEL: 'loud', FABRIC_NAMESPACE: 'Bad Name', SHUTDOWN_GRACE_MS: '-1' };
    let error: unknown;
    try {
      loadConfig(baseEnvSchema, env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.name).toBe('ConfigError');
    const offending = configError.issues.map((issue) => issue.split(':')[0]).sort();
    expect(offending).toEqual(['FABRIC_NAMESPACE', 'LOG_LEVEL', 'PORT', 'SHUTDOWN_GRACE_MS']);
    for (const name of offending) expect(configError.message).toContain(`${name}: `);
  });

  it('names a root-level failure "(root)"', () => {
    expect(() => loadConfig(z.string(), {})).toThrow(
      expect.objectContaining({ issues: [expect.stringMatching(/^\(root\): /)] }),
    );
  });
});

describe('intEnv', () => {
  it('rejects a value below its minimum and a non-integer', () => {
    const schema = z.object({ N: intEnv(5, 10) });
    expect(schema.safeParse({ N: '9' }).success).toBe(false);
    expect(schema.safeParse({ N: '10.5' }).success).toBe(false);
    expect(schema.parse({ N: '10' })).toEqual({ N: 10 });
  });

  it('rejects a value above its maximum', () => {
    const schema = z.object({ N: intEnv(1, 1, 5) });
    expect(schema.safeParse({ N: '6' }).success).toBe(false);
    expect(schema.parse({ N: '5' })).toEqual({ N: 5 });
  });
});

describe('JETSTREAM_REPLICAS', () => {
  it('is 1 to 5, the replica counts JetStream allows', () => {
    expect(loadConfig(baseEnvSchema, { JETSTREAM_REPLICAS: '3' }).JETSTREAM_REPLICAS).toBe(3);
    expect(() => loadConfig(baseEnvSchema, { JETSTREAM_REPLICAS: '0' })).toThrow(/JETSTREAM_REPLICAS/);
    expect(() => loadConfig(baseEnvSchema, { JETSTREAM_REPLICAS: '7' })).toThrow(/JETSTREAM_REPLICAS/);
  });
});

describe('boolEnv', () => {
  const schema = z.object({ FLAG: boolEnv(false) });

  it.each(['true', '1', 'yes', 'on'])('reads %p as true', (value) => {
    expect(schema.parse({ FLAG: value }).FLAG).toBe(true);
  });

  it.each(['false', '0', 'no', 'off'])('reads %p as false', (value) => {
    expect(z.object({ FLAG: boolEnv(true) }).parse({ FLAG: value }).FLAG).toBe(false);
  });

  it('uses its fallback when the variable is absent', () => {
    expect(z.object({ FLAG: boolEnv(true) }).parse({}).FLAG).toBe(true);
    expect(z.object({ FLAG: boolEnv(false) }).parse({}).FLAG).toBe(false);
  });

  it('rejects any other spelling', () => {
    expect(schema.safeParse({ FLAG: 'TRUE!' }).success).toBe(false);
    expect(schema.safeParse({ FLAG: 'maybe' }).success).toBe(false);
  });
});

describe('listEnv', () => {
  const schema = z.object({ LIST: listEnv(['a', 'b']) });

  it('splits on commas, trims items and drops empty ones', () => {
    expect(schema.parse({ LIST: ' x , y,,z , ' }).LIST).toEqual(['x', 'y', 'z']);
  });

  it('uses its fallback when the variable is absent', () => {
    expect(schema.parse({}).LIST).toEqual(['a', 'b']);
  });

  it('reads an empty variable as an empty list, and defaults to empty without a fallback', () => {
    expect(schema.parse({ LIST: '' }).LIST).toEqual([]);
    expect(z.object({ LIST: listEnv() }).parse({}).LIST).toEqual([]);
  });
});

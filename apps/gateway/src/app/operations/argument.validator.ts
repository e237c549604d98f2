import { Injectable, Logger } from '@nestjs/common';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { JsonSchema } from '@fabric/contracts';

/** Validates tool arguments against their JSON Schema at the gateway, before any NATS hop. */
@Injectable()
export class ArgumentValidator {
  private readonly log = new Logger('ArgumentValidator');
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
  // Compiled once per distinct schema: catalog rebuilds reuse what is already compiled.
  private readonly compiled = new Map<string, ValidateFunction | null>();
  // Per schema object, so a call costs a lookup, not a JSON.stringify of its schema.
  private readonly bySchema = new WeakMap<JsonSchema, ValidateFunction | null>();

  constructor() {
    addFormats(this.ajv);
  }

  /** Undefined when `value` is valid; otherwise a message naming each offending field. */
  validate(schema: JsonSchema, value: unknown): string | undefined {
    const validator = this.validatorFor(schema);
    if (!validator || validator(value)) return undefined;
    return (validator.errors ?? []).map(describeError).join('; ');
  }

  private validatorFor(schema: JsonSchema): ValidateFunction | null {
    const known = this.bySchema.get(schema);
    if (known !== undefined) return known;
    const validator = this.compile(schema);
    this.bySchema.set(schema, validator);
    return validator;
  }

  private compile(schema: JsonSchema): ValidateFunction | null {
    const key = JSON.stringify(schema);
    let validator = this.compiled.get(key);
    if (validator === undefined) {
      try {
        validator = this.ajv.compile(schema);
      } catch (error) {
        // An uncompilable schema is the service's bug; the service validates again with its own schema.
        this.log.warn({ err: error }, 'a tool input schema does not compile; skipping gateway validation for it');
        validator = null;
      }
      this.compiled.set(key, validator);
    }
    return validator;
  }
}

function describeError(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const missing =
    error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  if (missing) return `${path ? `${path}.` : ''}${missing}: is required`;
  const extra =
    error.keyword === 'additionalProperties'
      ? (error.params as { additionalProperty?: string }).additionalProperty
      : undefined;
  if (extra) return `${path ? `${path}.` : ''}${extra}: is not an allowed property`;
  return `${path || '(arguments)'}: ${error.message ?? 'is invalid'}`;
}

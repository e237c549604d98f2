import { Logger } from '@nestjs/common';
import { ArgumentValidator } from './argument.validator';

const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    quantity: { type: 'integer', minimum: 1 },
    email: { type: 'string', format: 'email' },
    shipping: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
  required: ['id'],
  additionalProperties: false,
};

describe('ArgumentValidator', () => {
  let validator: ArgumentValidator;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    validator = new ArgumentValidator();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
  });

  it('passes valid arguments', () => {
    expect(
      validator.validate(orderSchema, { id: '7', quantity: 2, email: 'ada@example.org', shipping: { city: 'Oslo' } }),
    ).toBeUndefined();
  });

  it('names the field of a type error', () => {
    expect(validator.validate(orderSchema, { id: 7 })).toBe('id: must be string');
  });

  it('names a nested field by its dotted path', () => {
    expect(validator.validate(orderSchema, { id: '7', shipping: { city: 3 } })).toBe('shipping.city: must be string');
  });

  it('names a missing required field, top-level and nested', () => {
    expect(validator.validate(orderSchema, {})).toBe('id: is required');
    expect(validator.validate(orderSchema, { id: '7', shipping: {} })).toBe('shipping.city: is required');
  });

  it('names an additional property', () => {
    expect(validator.validate(orderSchema, { id: '7', colour: 'red' })).toBe('colour: is not an allowed property');
  });

  it('lists every offending field, not just the first', () => {
    const message = validator.validate(orderSchema, { quantity: 0, colour: 'red' })!;
    expect(message.split('; ').sort()).toEqual([
      'colour: is not an allowed property',
      'id: is required',
      'quantity: must be >= 1',
    ]);
  });

  it('checks string formats', () => {
    expect(validator.validate(orderSchema, { id: '7', email: 'not-an-email' })).toBe(
      'email: must match format "email"',
    );
  });

  it('names the arguments as a whole when they are not an object', () => {
    expect(validator.validate(orderSchema, 'text')).toBe('(arguments): must be object');
  });

  it('validates 2020-12 schemas with $defs and $ref', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { line: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
      properties: { lines: { type: 'array', items: { $ref: '#/$defs/line' } } },
      required: ['lines'],
    };
    expect(validator.validate(schema, { lines: [{ sku: 'a' }] })).toBeUndefined();
    expect(validator.validate(schema, { lines: [{ sku: 'a' }, { sku: 1 }] })).toBe('lines.1.sku: must be string');
  });

  it('skips validation of a schema that does not compile instead of throwing', () => {
    const broken = { type: 'object', properties: { id: { $ref: '#/$defs/missing' } } };
    expect(() => validator.validate(broken, { id: 1 })).not.toThrow();
    expect(validator.validate(broken, { id: 1 })).toBeUndefined();
    // Logged once: the failed compilation is remembered, not retried on every call.
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('still validates other schemas after meeting one that does not compile', () => {
    validator.validate({ type: 'nonsense-type' }, {});
    expect(validator.validate(orderSchema, {})).toBe('id: is required');
  });
});

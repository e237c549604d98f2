import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One audit event, stored once per event id (the gateway's), however often it was delivered. */
@Entity('audit_events')
export class AuditEventRecord {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  /** ISO 8601 in UTC with milliseconds (`toISOString`): sorts as text on every database. */
  @Index('ix_audit_events_time')
  @Column({ type: 'varchar', length: 30 })
  time!: string;

  @Column({ type: 'varchar', length: 32 })
  operation!: string;

  @Index('ix_audit_events_principal')
  @Column({ name: 'principal_subject', type: 'text', nullable: true })
  principalSubject!: string | null;

  @Column({ name: 'principal_issuer', type: 'text', nullable: true })
  principalIssuer!: string | null;

  @Column({ name: 'principal_client', type: 'text', nullable: true })
  principalClient!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  session!: string | null;

  @Column({ type: 'text', nullable: true })
  service!: string | null;

  @Index('ix_audit_events_target')
  @Column({ type: 'text', nullable: true })
  target!: string | null;

  @Column({ name: 'arguments_hash', type: 'varchar', length: 64, nullable: true })
  argumentsHash!: string | null;

  @Column({ name: 'arguments_bytes', type: 'integer', nullable: true })
  argumentsBytes!: number | null;

  /** The arguments as JSON text, only when the gateway sends them (`AUDIT_ARGUMENTS=true`). */
  @Column({ name: 'arguments_json', type: 'text', nullable: true })
  argumentsJson!: string | null;

  @Index('ix_audit_events_outcome')
  @Column({ type: 'varchar', length: 16 })
  outcome!: string;

  @Column({ name: 'error_code', type: 'text', nullable: true })
  errorCode!: string | null;

  @Column({ type: 'boolean' })
  cached!: boolean;

  @Column({ name: 'duration_ms', type: 'double precision' })
  durationMs!: number;

  @Column({ type: 'text' })
  gateway!: string;

  @Column({ name: 'service_instance', type: 'text', nullable: true })
  serviceInstance!: string | null;

  @Column({ name: 'trace_id', type: 'varchar', length: 32, nullable: true })
  traceId!: string | null;
}

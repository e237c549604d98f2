import { z } from 'zod';

// Names, descriptions and shapes are those of the reference server, @modelcontextprotocol/server-memory.

export const EntitySchema = z.object({
  name: z.string().describe('The name of the entity'),
  entityType: z.string().describe('The type of the entity'),
  observations: z.array(z.string()).describe('An array of observation contents associated with the entity'),
});
export type Entity = z.infer<typeof EntitySchema>;

export const RelationSchema = z.object({
  from: z.string().describe('The name of the entity where the relation starts'),
  to: z.string().describe('The name of the entity where the relation ends'),
  relationType: z.string().describe('The type of the relation'),
});
export type Relation = z.infer<typeof RelationSchema>;

export const KnowledgeGraphSchema = z.object({
  entities: z.array(EntitySchema),
  relations: z.array(RelationSchema),
});
export type KnowledgeGraph = z.infer<typeof KnowledgeGraphSchema>;

export const ObservationAdditionSchema = z.object({
  entityName: z.string().describe('The name of the entity to add the observations to'),
  contents: z.array(z.string()).describe('An array of observation contents to add'),
});
export type ObservationAddition = z.infer<typeof ObservationAdditionSchema>;

export const AddedObservationsSchema = z.object({
  entityName: z.string(),
  addedObservations: z.array(z.string()),
});
export type AddedObservations = z.infer<typeof AddedObservationsSchema>;

export const ObservationDeletionSchema = z.object({
  entityName: z.string().describe('The name of the entity containing the observations'),
  observations: z.array(z.string()).describe('An array of observations to delete'),
});
export type ObservationDeletion = z.infer<typeof ObservationDeletionSchema>;

export const SEARCH_QUERY_MAX_LENGTH = 2048;

export const SearchNodesQuerySchema = z
  .string()
  .max(SEARCH_QUERY_MAX_LENGTH)
  .describe('The search query to match against entity names, types, and observation content');

/** What the delete tools report. */
export const DeletionStatusSchema = z.object({
  success: z.boolean(),
  message: z.string(),
});

/** An entity with the relations that start or end at it (the `knowledge://entities/{name}` resource). */
export type EntityDetails = Entity & { relations: Relation[] };

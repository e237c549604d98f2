/** Options of `nx g @fabric/plugin:service` (schema.json). */
export interface ServiceGeneratorSchema {
  /** Domain name: `orders` creates apps/orders-service. */
  name: string;
  /** Published in the service's manifest; default `Tools of the <name> domain.` */
  description?: string;
  skipFormat?: boolean;
}

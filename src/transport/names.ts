/** Where one origin's frames live in each transport (DESIGN.md §5). */
export const kafkaTopic = (prefix: string, origin: string) => `${prefix}.${origin}`;
export const kafkaGroupId = (prefix: string, origin: string, dc: string) => `${prefix}.${dc}.from.${origin}`;
export const kafkaTransactionalId = (prefix: string, origin: string) => `${prefix}.forwarder.${origin}`;
/** One FIFO queue per (origin → destination DC). */
export const sqsQueueName = (prefix: string, origin: string, dest: string) => `${prefix}-${origin}-to-${dest}.fifo`;
